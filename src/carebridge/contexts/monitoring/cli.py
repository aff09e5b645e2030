"""`carebridge monitoring gateway` (the MQTT ingestion worker as its own process), `… escalate` (escalates alerts
left unacknowledged) and `… maintain` (rollups, PostgreSQL partitions, retention). The server runs the last two
itself every minute (`CAREBRIDGE_MONITORING_JOBS`); the commands are for a server started with it off."""

from __future__ import annotations

import time

import typer

from carebridge.contexts.monitoring import service
from carebridge.contexts.monitoring.gateway import MqttGateway
from carebridge.contexts.monitoring.jobs import MonitoringJob, Retention
from carebridge.kernel.clock import SystemClock
from carebridge.kernel.db import Database
from carebridge.settings import get_settings

monitoring_app = typer.Typer(no_args_is_help=True, add_completion=False)


@monitoring_app.command("gateway")
def gateway(url: str = typer.Option("", help="Broker URL; defaults to CAREBRIDGE_MQTT_URL.")) -> None:
    """Subscribe to carebridge/devices/+/vitals and ingest every message until interrupted."""
    settings = get_settings()
    broker = url or settings.mqtt_url
    if not broker:
        typer.echo("set CAREBRIDGE_MQTT_URL or pass --url", err=True)
        raise typer.Exit(2)
    worker = MqttGateway(Database(settings.resolved_database_url), SystemClock(), broker)
    worker.start()
    typer.echo(f"MQTT gateway subscribed at {broker}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        worker.stop()


@monitoring_app.command("escalate")
def escalate() -> None:
    """Escalate open alerts nobody acknowledged within 15 minutes (each once)."""
    settings = get_settings()
    database = Database(settings.resolved_database_url)
    with database.unit_of_work() as session:
        count = service.escalate_overdue(session, now=SystemClock().now())
    typer.echo(f"escalated {count} alert(s)")


@monitoring_app.command("maintain")
def maintain() -> None:
    """Rebuild pending rollups, create the PostgreSQL day partitions ahead and apply the retention."""
    settings = get_settings()
    database = Database(settings.resolved_database_url)
    job = MonitoringJob(database, SystemClock(), keep=Retention(
        settings.monitoring_raw_retention_days, settings.monitoring_minute_rollup_retention_days,
        settings.monitoring_hour_rollup_retention_days))
    rolled = job.roll_up()
    created, report = job.maintain()
    typer.echo(f"rolled up {rolled} patient-hour(s), created {created} partition(s), {report}")
