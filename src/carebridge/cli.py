"""The one command-line tool: serve, migrate, demo, admin, audit and the engines' CLIs."""

from __future__ import annotations

import sys

import typer

from carebridge.contexts.audit.cli import audit_app
from carebridge.contexts.care.cli import care_app
from carebridge.contexts.documents.cli import keys_app
from carebridge.contexts.emergency.cli import verify_card_command
from carebridge.contexts.events.cli import events_app
from carebridge.contexts.facilities.cli import facilities_app
from carebridge.contexts.identity.cli import admin_app
from carebridge.contexts.monitoring.cli import monitoring_app
from carebridge.contexts.notifications.cli import app as notifications_app
from carebridge.contexts.patients.cli import patients_app
from carebridge.contexts.prescribing.cli import prescribing_app
from carebridge.contexts.scheduling.cli import app as scheduling_app
from carebridge.fhir.cli import import_fhir_command
from carebridge.settings import get_settings

app = typer.Typer(help="CareBridge: an open healthcare platform.", no_args_is_help=True, add_completion=False)
app.add_typer(admin_app, name="admin", help="Bootstrap and manage administrators.")
app.add_typer(facilities_app, name="facilities", help="Import and export the facility registry.")
app.add_typer(patients_app, name="patients", help="Patient maintenance (search index).")
app.add_typer(audit_app, name="audit", help="Verify and checkpoint the tamper-evident audit trail.")
app.add_typer(scheduling_app, name="scheduling", help="Clinic scheduling: waitlist holds.")
app.add_typer(events_app, name="events", help="Domain events: the outbox relay.")
app.add_typer(care_app, name="care", help="Care requests: purge the expired ones.")
app.add_typer(keys_app, name="keys", help="Server keys: rotate the documents' master key.")
app.add_typer(notifications_app, name="notifications", help="Notifications: the delivery worker.")
app.add_typer(monitoring_app, name="monitoring", help="Remote monitoring: the MQTT gateway, alert escalation.")
app.add_typer(prescribing_app, name="prescribing", help="Prescribing: expiry and dose-reminder jobs.")
app.command("verify-card")(verify_card_command)
app.command("import-fhir")(import_fhir_command)


@app.command()
def migrate() -> None:
    """Upgrade the database schema to the latest version."""
    from carebridge.kernel.migrate import upgrade

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    typer.echo("database is at the latest schema")


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Bind address (default from CAREBRIDGE_HOST)."),
    port: int | None = typer.Option(None, help="Port (default from CAREBRIDGE_PORT)."),
    workers: int | None = typer.Option(None, help="Worker processes (default from CAREBRIDGE_WORKERS)."),
) -> None:
    """Run migrations, then serve the API and web pages."""
    import uvicorn

    from carebridge.kernel.migrate import upgrade

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    uvicorn.run(
        "carebridge.main:app_factory", factory=True, host=host or settings.host, port=port or settings.port,
        workers=workers or settings.workers, access_log=False, log_level="warning", proxy_headers=True,
    )


@app.command()
def demo(
    patients: int = typer.Option(50, min=1, max=5000, help="How many synthetic patients to create."),
) -> None:
    """Load a realistic synthetic demo (two organizations, practitioners, patients, a user of every role)."""
    from datetime import UTC, datetime

    from carebridge.contexts.audit import service as audit_service
    from carebridge.demo import load as demo_load

    settings = get_settings()
    db = audit_service.open_audited_database(settings)
    base_url = f"http://{settings.host}:{settings.port}"
    with db.transaction() as session:
        loaded = demo_load.already_loaded(session)
    if loaded:
        logins = demo_load.read_logins(settings.data_dir)
        typer.echo("The demo is already loaded in this database.")
        if logins:
            typer.echo(demo_load.format_logins(logins, base_url))
        return
    with db.transaction() as session:
        logins = demo_load.load(session, settings=settings, now=datetime.now(UTC), patients=patients)
    path = demo_load.save_logins(settings.data_dir, logins)
    db.dispose()
    typer.echo(demo_load.format_logins(logins, base_url))
    typer.echo(f"\n(saved to {path}; run `carebridge serve` and sign in)")


@app.command()
def news2(
    as_json: bool = typer.Option(True, "--json", help="Read JSON (an object or a list) on stdin; write JSON."),
    allow_partial: bool = typer.Option(False, "--allow-partial", help="Score what is present; flag it incomplete."),
) -> None:
    """NEWS2 (RCP 2017) for one observation set or a list of them (stable contract for evaluation harnesses)."""
    from carebridge.engines.news2 import run_json

    typer.echo(run_json(sys.stdin.read(), allow_partial=allow_partial))


@app.command()
def triage(
    text: str | None = typer.Argument(None, help="The complaint in plain words (omit with --jsonl)."),
    jsonl: bool = typer.Option(False, "--jsonl", help="Read JSON lines on stdin; write one JSON line per case."),
    age: float | None = typer.Option(None, min=0, max=130, help="Age in years (0.5 for six months)."),
    sex: str | None = typer.Option(None, help="female, male, other or unknown."),
    pregnant: bool | None = typer.Option(None, "--pregnant/--not-pregnant", help="Pregnancy status if known."),
) -> None:
    """Symptom triage: urgency, red flags, likely conditions, specialty (stable --jsonl contract)."""
    from pydantic import ValidationError

    from carebridge.engines.triage import TriageInput
    from carebridge.engines.triage import triage as run_triage
    from carebridge.engines.triage.jsonl import format_readable, run_jsonl

    if jsonl:
        for line in run_jsonl(sys.stdin):
            sys.stdout.write(line + "\n")
        return
    if not text:
        raise typer.BadParameter("give the complaint as text, or use --jsonl")
    fields: dict[str, object] = {"text": text, "age": age, "pregnant": pregnant}
    if sex:
        fields["sex"] = sex
    try:
        case = TriageInput.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise typer.BadParameter(problems) from exc
    typer.echo(format_readable(run_triage(case)))


@app.command()
def interactions(
    as_json: bool = typer.Option(False, "--json", help="Read one JSON case on stdin; write its alerts as JSON."),
    jsonl: bool = typer.Option(False, "--jsonl", help="Read JSON lines on stdin; write one result line per case."),
) -> None:
    """Prescribing decision support: interactions, allergies, conditions, duplicates, doses (stable contract)."""
    from carebridge.engines.interactions.cli_contract import run_json, run_jsonl

    if jsonl:
        for line in run_jsonl(sys.stdin):
            sys.stdout.write(line + "\n")
        return
    if not as_json:
        raise typer.BadParameter("choose --json (one case) or --jsonl (many)")
    typer.echo(run_json(sys.stdin.read()))


if __name__ == "__main__":
    app()
