"""`carebridge scheduling ...`: the waitlist sweep a worker (cron, systemd timer) runs every minute."""

from __future__ import annotations

import typer

from carebridge.contexts.scheduling.waitlist import sweep_holds
from carebridge.kernel.clock import SystemClock
from carebridge.kernel.db import Database
from carebridge.settings import get_settings

app = typer.Typer(help="Clinic scheduling: waitlist holds.", no_args_is_help=True)


@app.command("sweep")
def sweep() -> None:
    """Expire lapsed waitlist holds and offer each freed seat to the next patient in line."""
    settings = get_settings()
    db = Database(settings.resolved_database_url)
    try:
        with db.unit_of_work() as session:
            count = sweep_holds(session, now=SystemClock().now(), settings=settings)
    finally:
        db.dispose()
    typer.echo(f"{count} lapsed hold(s) passed on")
