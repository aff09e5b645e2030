"""`carebridge notifications worker`: deliver the outbox outside the API processes."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from carebridge.contexts.notifications.config import delivery_from
from carebridge.contexts.notifications.worker import NotificationWorker
from carebridge.kernel.clock import SystemClock
from carebridge.kernel.db import Database
from carebridge.kernel.migrate import upgrade
from carebridge.settings import get_settings

app = typer.Typer(help="Notifications: deliver what is queued.", no_args_is_help=True)


@app.command("worker")
def worker(once: Annotated[bool, typer.Option("--once", help="Deliver what is due now, then exit.")] = False) -> None:
    """Deliver queued notifications (email, SMS, in-app), retrying failures with backoff."""
    settings = get_settings()
    upgrade(settings.resolved_database_url)
    database = Database(settings.resolved_database_url)
    runner = NotificationWorker(database, delivery_from(settings), clock=SystemClock(),
                                poll_seconds=settings.notifications_poll_seconds)
    try:
        if once:
            typer.echo(f"handled {runner.run_once()} notification(s)")
        else:
            asyncio.run(runner.run_forever())
    finally:
        database.dispose()
