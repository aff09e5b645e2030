"""The append-only triggers of migration 0002: the application cannot update or delete the trail."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from carebridge.contexts.audit import service as audit
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from tests.integration.audit.helpers import KEY, SIGNER, T0, append, drop_guards

REFUSED = [
    ("UPDATE audit_entries SET username = 'x' WHERE seq = 1", "append-only"),
    ("UPDATE audit_entries SET seq = 99 WHERE seq = 2", "append-only"),
    ("DELETE FROM audit_entries WHERE seq = 2", "append-only"),
    ("DELETE FROM audit_entries", "append-only"),
    ("UPDATE audit_checkpoints SET hash = 'x' WHERE seq = 2", "append-only"),
    ("DELETE FROM audit_checkpoints", "append-only"),
    ("UPDATE audit_head SET seq = 1", "only moves forward"),
    ("UPDATE audit_head SET hash = 'x'", "only moves forward"),
    ("UPDATE audit_head SET id = 2", "only moves forward"),
    ("DELETE FROM audit_head", "only moves forward"),
]


@pytest.fixture
def trail(database: Database) -> Database:
    audit.install(database.sessions, SIGNER, checkpoint_every=2, clock=FixedClock(T0))
    append(database, 3)
    return database


@pytest.mark.parametrize(("sql", "message"), REFUSED, ids=[r[0] for r in REFUSED])
def test_the_database_refuses_to_rewrite_the_trail(trail: Database, sql: str, message: str) -> None:
    with pytest.raises(DBAPIError, match=message), trail.unit_of_work() as s:
        s.execute(text(sql))
    report = audit.verify(trail.transaction, [KEY.public_key()])
    assert (report.ok, report.entries_checked) == (True, 3)


@pytest.mark.postgres
@pytest.mark.parametrize("table", ["audit_entries", "audit_checkpoints", "audit_head"])
def test_postgres_refuses_truncate(trail: Database, table: str) -> None:
    with pytest.raises(DBAPIError, match="append-only"), trail.unit_of_work() as s:
        s.execute(text(f"TRUNCATE {table}"))


def test_moving_the_head_forward_and_checkpointing_still_work(trail: Database) -> None:
    append(trail, 2)
    with trail.unit_of_work() as s:
        assert audit.checkpoint_now(s, SIGNER) == 5
        assert audit.read_head(s)[0] == 5


def test_with_the_guards_dropped_the_same_statement_succeeds(trail: Database) -> None:
    """The triggers are what refused above, and an owner can drop them: hence the chain and signatures."""
    with trail.unit_of_work() as s:
        drop_guards(s)
        s.execute(text("UPDATE audit_entries SET username = 'x' WHERE seq = 1"))
    assert audit.verify(trail.transaction, [KEY.public_key()]).first_broken_seq == 1
