"""`carebridge audit ...`: verify the chain, sign the head now, print the public key auditors need.

Exit codes: 0 the chain is valid (or the command did its job), 1 the chain is broken, 2 the
database or a key could not be read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.exc import SQLAlchemyError

from carebridge.contexts.audit import service
from carebridge.kernel.db import Database
from carebridge.kernel.keys import ServerKeys, load_or_create_keys
from carebridge.settings import Settings, get_settings

_HEX = frozenset("0123456789abcdef")

audit_app = typer.Typer(help="Verify and checkpoint the tamper-evident audit trail.", no_args_is_help=True,
                        add_completion=False)


def _load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        data = path.read_bytes()
        key = serialization.load_pem_public_key(data)
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"cannot read an Ed25519 public key from {path}: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise typer.BadParameter(f"{path} is not an Ed25519 public key")
    return key


def _open(settings: Settings) -> tuple[Database, ServerKeys]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Database(settings.resolved_database_url, pool_size=1), load_or_create_keys(settings)


def _parse_anchor(text: str) -> tuple[int, str] | None:
    """`SEQ:HASH`, `SEQ HASH`, or a JSON log line carrying `audit_checkpoint` (or `seq` and `hash`)."""
    text = text.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return None
        found = data.get("audit_checkpoint", data) if isinstance(data, dict) else None
        if isinstance(found, dict) and "seq" in found and "hash" in found:
            text = f"{found['seq']}:{found['hash']}"
        else:
            return None
    seq, _, entry_hash = text.replace(" ", ":", 1).partition(":")
    entry_hash = entry_hash.strip().lower()
    if not seq.isdigit() or int(seq) < 1 or len(entry_hash) != 64 or not all(c in _HEX for c in entry_hash):
        return None
    return int(seq), entry_hash


def _anchors(values: list[str], files: list[Path]) -> dict[int, str]:
    anchors: dict[int, str] = {}
    for value in values:
        parsed = _parse_anchor(value)
        if parsed is None:
            raise typer.BadParameter(f"not SEQ:HASH (a positive number and 64 hex digits): {value!r}",
                                     param_hint="--anchor")
        anchors[parsed[0]] = parsed[1]
    for path in files:
        try:
            lines = path.read_text("utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise typer.BadParameter(f"cannot read {path}: {exc}", param_hint="--anchors-file") from exc
        for line in lines:  # a whole log file is fine: lines that are not checkpoints are skipped
            parsed = _parse_anchor(line)
            if parsed is not None:
                anchors[parsed[0]] = parsed[1]
    return anchors


@audit_app.command()
def verify(
    public_key: Annotated[
        list[Path] | None,
        typer.Option("--public-key", help="Also trust this PEM public key (repeatable), e.g. a retired server key."),
    ] = None,
    anchor: Annotated[
        list[str] | None,
        typer.Option("--anchor", help="SEQ:HASH kept outside the database that entry SEQ must match (repeatable)."),
    ] = None,
    anchors_file: Annotated[
        list[Path] | None,
        typer.Option("--anchors-file", help="A file of anchors or server logs with 'audit checkpoint signed' lines."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as one JSON object.")] = False,
) -> None:
    """Walk the whole chain; report the first broken link and exit 1, or a summary and exit 0."""
    settings = get_settings()
    extra = [_load_public_key(p) for p in public_key or []]
    anchors = _anchors(anchor or [], anchors_file or [])
    db, keys = _open(settings)
    try:
        report = service.verify(db.transaction, [keys.public_key, *extra], anchors=anchors)
    except SQLAlchemyError as exc:
        typer.echo(f"cannot read the audit trail: {exc.__class__.__name__}: {exc}".splitlines()[0], err=True)
        raise typer.Exit(2) from exc
    finally:
        db.dispose()
    signer_hex = service.AuditSigner(keys.signing_key).public_key_hex
    read = service.report_read(report, public_key_hex=signer_hex)
    if as_json:
        typer.echo(json.dumps(read.model_dump(mode="json"), sort_keys=True))
    elif report.ok:
        typer.echo(
            f"audit chain valid: {report.entries_checked} entries, {report.checkpoints_checked} signed checkpoints, "
            f"{len(anchors)} external anchors, last entry {report.last_seq}, "
            f"{report.unsigned_tail} entries after the last checkpoint"
        )
        if report.unsigned_tail > settings.audit_checkpoint_every:
            typer.echo(
                f"warning: more entries after the last checkpoint than CAREBRIDGE_AUDIT_CHECKPOINT_EVERY="
                f"{settings.audit_checkpoint_every}; sign now with `carebridge audit checkpoint`. If no writer ran "
                "without the server key, checkpoints may have been deleted: verify against external anchors.",
                err=True,
            )
    else:
        typer.echo(f"audit chain BROKEN at entry {report.first_broken_seq}: {report.problem} "
                   f"({report.entries_checked} entries verified before it)")
    raise typer.Exit(0 if report.ok else 1)


@audit_app.command()
def checkpoint() -> None:
    """Sign the current head with the server key now (cron this to bound the unsigned tail)."""
    settings = get_settings()
    db, keys = _open(settings)
    try:
        with db.transaction() as session:
            seq = service.checkpoint_now(session, service.AuditSigner(keys.signing_key))
            head = service.read_head(session)
    except SQLAlchemyError as exc:
        typer.echo(f"cannot write the checkpoint: {exc.__class__.__name__}: {exc}".splitlines()[0], err=True)
        raise typer.Exit(2) from exc
    finally:
        db.dispose()
    if seq is None:
        typer.echo("the audit trail is empty; nothing to sign")
    else:
        typer.echo(f"signed checkpoint at entry {seq}: {head[1]}")


@audit_app.command("public-key")
def public_key() -> None:
    """Print the server's Ed25519 public key (PEM) so an auditor can verify checkpoints elsewhere."""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    typer.echo(load_or_create_keys(settings).public_key_pem(), nl=False)
