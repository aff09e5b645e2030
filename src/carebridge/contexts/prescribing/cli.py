"""`carebridge prescribing jobs`: expire signed prescriptions past their validity and queue the next week of
dose reminders (the service also runs this hourly; run it from cron when the service's jobs are off)."""

from __future__ import annotations

import typer

from carebridge.contexts.prescribing import jobs
from carebridge.kernel.clock import SystemClock
from carebridge.kernel.db import Database
from carebridge.kernel.keys import load_or_create_keys
from carebridge.settings import get_settings

prescribing_app = typer.Typer(help="Prescribing: expiry and dose-reminder jobs.", no_args_is_help=True,
                              add_completion=False)


@prescribing_app.command("jobs")
def run_jobs() -> None:
    """One pass: expire prescriptions past their validity, then queue dose reminders up to a week ahead."""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    keys = load_or_create_keys(settings)
    db = Database(settings.resolved_database_url, pool_size=1)
    try:
        done = jobs.run_once(db, SystemClock(), secret=keys.token_secret)
    finally:
        db.dispose()
    typer.echo(f"expired {done.expired} prescription(s); queued {done.reminders} dose reminder(s) for "
               f"{done.topped_up} prescription(s); {done.failed} failed")
    if done.failed:
        raise typer.Exit(1)
