"""`carebridge patients …`: maintenance of the patients context from the shell."""

from __future__ import annotations

import typer

from carebridge.contexts.patients.indexing import rebuild_search_index
from carebridge.kernel.db import Database
from carebridge.settings import get_settings

patients_app = typer.Typer(help="Patient records maintenance.", no_args_is_help=True, add_completion=False)


@patients_app.callback()
def patients() -> None:
    """Patient records maintenance (a group, so `patients reindex` reads the same however it is mounted)."""


@patients_app.command("reindex")
def reindex() -> None:
    """Rebuild the name/phone search index, e.g. after loading patients with bulk SQL."""
    db = Database(get_settings().resolved_database_url)
    try:
        with db.transaction() as session:
            count = rebuild_search_index(session)
    finally:
        db.dispose()
    typer.echo(f"reindexed {count} patients")
