"""`carebridge events relay`: the outbox relay as its own process (when the API processes run with
CAREBRIDGE_EVENT_RELAY=false, or to drain a backlog)."""

from __future__ import annotations

import asyncio

import typer

from carebridge.kernel.bus import make_bus
from carebridge.kernel.db import Database
from carebridge.kernel.relay import OutboxRelay
from carebridge.settings import get_settings

events_app = typer.Typer(no_args_is_help=True, add_completion=False)


@events_app.command("relay")
def relay(once: bool = typer.Option(False, "--once", help="Publish what is pending, then exit.")) -> None:
    """Publish committed domain events from the outbox to the configured bus (CAREBRIDGE_EVENT_BUS)."""
    settings = get_settings()
    database = Database(settings.resolved_database_url)
    bus = make_bus(settings.event_bus, nats_url=settings.nats_url, kafka_bootstrap=settings.kafka_bootstrap)
    worker = OutboxRelay(database, bus, poll_seconds=settings.event_relay_poll_seconds,
                         retention_days=settings.event_retention_days)

    async def run() -> int:
        await bus.start()
        try:
            if once:
                total = 0
                while (n := await worker.run_once()) > 0:
                    total += n
                return total
            await worker.run_forever()
            return worker.published
        finally:
            await bus.close()

    try:
        published = asyncio.run(run())
    except KeyboardInterrupt:
        published = worker.published
    finally:
        database.dispose()
    typer.echo(f"published {published} events to the {bus.name} bus")
