"""`carebridge care purge`: delete unsaved care requests past their TTL (run it from cron or a timer)."""

from __future__ import annotations

from datetime import timedelta

import typer

from carebridge.contexts import integrations
from carebridge.contexts.care import service
from carebridge.kernel.clock import SystemClock
from carebridge.kernel.db import Database
from carebridge.settings import get_settings

care_app = typer.Typer(help="Care requests: purge the expired ones.", no_args_is_help=True, add_completion=False)


@care_app.command("purge")
def purge() -> None:
    """Delete unsaved care requests whose TTL has passed, and rate-limit counts older than their window."""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url, pool_size=1)
    now = SystemClock().now()
    window = max(settings.care_anonymous_window_seconds, settings.api_key_rate_window_seconds)
    try:
        with db.unit_of_work() as session:
            requests = service.purge_expired(session, now=now)
            hits = integrations.purge_hits(session, before=now - timedelta(seconds=window))
    finally:
        db.dispose()
    typer.echo(f"deleted {requests} expired care request(s) and {hits} old rate-limit count(s)")
