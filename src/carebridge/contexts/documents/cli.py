"""`carebridge keys rotate`: a new master key for documents, every data key re-wrapped, content untouched.

Exit codes: 0 rotated, 2 the database or a key could not be read.
"""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from carebridge.contexts.documents import crypto, rotation
from carebridge.contexts.documents.masterkeys import MasterKeyMissing, MasterKeyring
from carebridge.contexts.documents.vault import master_key_dir
from carebridge.kernel.clock import Clock, SystemClock
from carebridge.kernel.db import Database
from carebridge.settings import Settings, get_settings

keys_app = typer.Typer(help="Server keys: rotate the documents' master key.", no_args_is_help=True,
                       add_completion=False)


def rotate_documents_key(settings: Settings, database: Database, *, clock: Clock,
                         grace_seconds: float = 5.0) -> rotation.RotationReport:
    """The whole rotation. A second pass after `grace_seconds` re-wraps uploads that were in flight when the
    new key became current, before any old key file is deleted."""
    keyring = MasterKeyring(master_key_dir(settings.data_dir))
    new_id = rotation.start_rotation(keyring)
    with database.unit_of_work() as session:
        report = rotation.rewrap_all(session, keyring, new_key_id=new_id, clock=clock)
    if grace_seconds > 0:
        time.sleep(grace_seconds)
    with database.unit_of_work() as session:
        late = rotation.rewrap_all(session, keyring, new_key_id=new_id, clock=clock)
    report.rewrapped += late.rewrapped
    for key_id, count in late.by_old_key.items():
        report.by_old_key[key_id] = report.by_old_key.get(key_id, 0) + count
    with database.unit_of_work() as session:
        rotation.retire_unused(session, keyring, report)
    return report


@keys_app.command("rotate")
def rotate(grace_seconds: Annotated[float, typer.Option(min=0, max=600, help=(
        "Wait this long for uploads in flight, then re-wrap again before deleting old keys."))] = 5.0) -> None:
    """Rotate the documents' master key: re-wraps every data key; the encrypted content is not rewritten."""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.resolved_database_url, pool_size=1)
    try:
        report = rotate_documents_key(settings, database, clock=SystemClock(), grace_seconds=grace_seconds)
    except (SQLAlchemyError, MasterKeyMissing, crypto.DecryptionFailed) as exc:
        typer.echo(f"rotation failed, nothing deleted: {exc}", err=True)
        raise typer.Exit(2) from exc
    finally:
        database.dispose()
    typer.echo(json.dumps({"new_master_key_id": report.new_key_id, "rewrapped": report.rewrapped,
                           "by_old_key": report.by_old_key, "retired": report.retired, "kept": report.kept}))
