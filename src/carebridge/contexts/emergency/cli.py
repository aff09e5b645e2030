"""`carebridge verify-card`: check an emergency card offline against the server's public key.

Reads the card text from the argument or stdin (what a QR reader copied), verifies it with the public key
from `--public-key` (a PEM file, e.g. saved from /.well-known/carebridge-card-key.pem) or else the server's
own key in the data dir. Exit codes: 0 the card is genuine (its fields are printed), 1 it is not (the
reason is printed), 2 the key or the input could not be read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from carebridge.contexts.emergency.card import MAX_INPUT_CHARS, load_public_key, parse_card, verify_card
from carebridge.settings import Settings

SERVER_KEY = Path("keys") / "server_ed25519.pem"


def _key(path: Path | None) -> Ed25519PublicKey:
    where = path or Settings().data_dir / SERVER_KEY
    try:
        return load_public_key(where.read_bytes())
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
        typer.echo(f"cannot read an Ed25519 key from {where}: {exc}", err=True)
        raise typer.Exit(2) from exc


def verify_card_command(
    card: Annotated[str | None, typer.Argument(help="The card text; read from stdin when left out.")] = None,
    public_key: Annotated[Path | None, typer.Option("--public-key", help="PEM file of the server's public key "
                                                    "(default: the key in the data dir).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Verify a CareBridge emergency card and print what it says."""
    key = _key(public_key)
    try:
        text = card if card is not None else sys.stdin.read(MAX_INPUT_CHARS + 1)
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"cannot read the card from stdin: {exc}", err=True)
        raise typer.Exit(2) from exc
    result = verify_card(text, key)
    fields = parse_card(text) if result.valid else {}
    if as_json:
        typer.echo(json.dumps({"valid": result.valid, "key_id": result.key_id, "reason": result.reason,
                               "fields": fields}, ensure_ascii=False))
    elif result.valid:
        typer.echo(f"VALID: signed by key {result.key_id}")
        for label, values in fields.items():
            for value in values:
                typer.echo(f"{label}: {value}")
    else:
        typer.echo(f"INVALID: {result.reason}", err=True)
    if not result.valid:
        raise typer.Exit(1)
