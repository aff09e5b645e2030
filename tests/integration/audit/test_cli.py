"""`carebridge audit verify | checkpoint | public-key` against a real, committed database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from typer.testing import CliRunner

from carebridge.contexts.audit import service as audit
from carebridge.contexts.audit.cli import audit_app
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.kernel.keys import load_or_create_keys
from carebridge.settings import Settings, get_settings
from tests.integration.audit.helpers import T0, append, committed_database, drop_guards

runner = CliRunner()
KINDS = [pytest.param("sqlite", id="sqlite"), pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=KINDS)
def env(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    with committed_database(request.param, tmp_path) as url:
        monkeypatch.setenv("CAREBRIDGE_DATABASE_URL", url)
        monkeypatch.setenv("CAREBRIDGE_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("CAREBRIDGE_AUDIT_CHECKPOINT_EVERY", "2")
        get_settings.cache_clear()
        yield get_settings()
        get_settings.cache_clear()


@pytest.fixture
def db(env: Settings) -> Iterator[Database]:
    database = Database(env.resolved_database_url, pool_size=2)
    keys = load_or_create_keys(env)  # the same key the CLI will load from the data dir
    audit.install(database.sessions, audit.AuditSigner(keys.signing_key), checkpoint_every=2, clock=FixedClock(T0))
    yield database
    database.dispose()


def test_verify_an_empty_trail(db: Database) -> None:
    result = runner.invoke(audit_app, ["verify"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("audit chain valid: 0 entries, 0 signed checkpoints")


def test_verify_a_valid_trail_prints_a_summary_and_exits_0(db: Database) -> None:
    append(db, 5)
    result = runner.invoke(audit_app, ["verify"])
    assert result.exit_code == 0, result.output
    assert "audit chain valid: 5 entries, 2 signed checkpoints, 0 external anchors, last entry 5, " \
           "1 entries after the last checkpoint" in result.output


def test_checkpoint_signs_the_head_now(db: Database) -> None:
    result = runner.invoke(audit_app, ["checkpoint"])
    assert (result.exit_code, result.output.strip()) == (0, "the audit trail is empty; nothing to sign")
    append(db, 3)
    result = runner.invoke(audit_app, ["checkpoint"])
    assert result.exit_code == 0
    assert result.output.startswith("signed checkpoint at entry 3: ")
    report = json.loads(runner.invoke(audit_app, ["verify", "--json"]).output)
    assert report["ok"] and report["checkpoints_checked"] == 2 and report["unsigned_entries"] == 0


def test_a_tampered_trail_names_the_first_broken_entry_and_exits_1(db: Database) -> None:
    append(db, 5)
    with db.unit_of_work() as s:
        drop_guards(s)
        s.execute(text("UPDATE audit_entries SET action = 'delete' WHERE seq = 3"))
    result = runner.invoke(audit_app, ["verify"])
    assert result.exit_code == 1
    assert result.output.startswith("audit chain BROKEN at entry 3: entry 3 was altered")
    report = json.loads(runner.invoke(audit_app, ["verify", "--json"]).output)
    assert (report["ok"], report["first_broken_seq"]) == (False, 3)


def test_anchors_from_the_command_line_and_from_a_log_file(db: Database, tmp_path: Path) -> None:
    append(db, 4)
    with db.unit_of_work() as s:
        h4 = s.execute(text("SELECT hash FROM audit_entries WHERE seq = 4")).scalar_one()
    assert runner.invoke(audit_app, ["verify", "--anchor", f"4:{h4}"]).exit_code == 0
    log = tmp_path / "server.log"
    log.write_text("\n".join([
        json.dumps({"msg": "request", "status": 200}),
        json.dumps({"msg": "audit checkpoint signed", "audit_checkpoint": {"seq": 9, "hash": "a" * 64}}),
        "not json at all",
    ]))
    result = runner.invoke(audit_app, ["verify", "--anchors-file", str(log)])
    assert result.exit_code == 1
    assert "BROKEN at entry 5: entries after 4 are missing: an external anchor names entry 9" in result.output
    wrong = runner.invoke(audit_app, ["verify", "--anchor", f"4:{'b' * 64}"])
    assert wrong.exit_code == 1 and "differs from the external anchor" in wrong.output


def test_a_malformed_anchor_is_a_usage_error(db: Database) -> None:
    result = runner.invoke(audit_app, ["verify", "--anchor", "four:abc"])
    assert result.exit_code == 2
    assert "SEQ:HASH" in result.output


def test_a_retired_key_can_be_trusted_explicitly(db: Database, tmp_path: Path) -> None:
    retired = Ed25519PrivateKey.from_private_bytes(bytes(range(50, 82)))
    append(db, 1)
    with db.unit_of_work() as s:
        audit.checkpoint_now(s, audit.AuditSigner(retired))
    assert runner.invoke(audit_app, ["verify"]).exit_code == 1
    pem = tmp_path / "retired.pem"
    pem.write_bytes(retired.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo))
    result = runner.invoke(audit_app, ["verify", "--public-key", str(pem)])
    assert result.exit_code == 0, result.output
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    assert runner.invoke(audit_app, ["verify", "--public-key", str(bad)]).exit_code == 2


def test_public_key_prints_the_server_key(db: Database, env: Settings) -> None:
    result = runner.invoke(audit_app, ["public-key"])
    assert result.exit_code == 0
    assert result.output == load_or_create_keys(env).public_key_pem()


def test_an_unmigrated_database_is_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREBRIDGE_DATABASE_URL", f"sqlite:///{tmp_path}/empty.db")
    monkeypatch.setenv("CAREBRIDGE_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        result = runner.invoke(audit_app, ["verify"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "cannot read the audit trail" in result.output
