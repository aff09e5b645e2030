"""Shared by the audit tests: principals from factory users, appending, and tampering as a DB superuser."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from carebridge.contexts import all_models  # noqa: F401  (registers every table for create_all)
from carebridge.contexts.audit import service as audit
from carebridge.contexts.identity.models import User
from carebridge.kernel.db import Base, Database, make_engine
from carebridge.kernel.migrate import upgrade
from carebridge.security import Principal, Role

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
SIGNER = audit.AuditSigner(KEY)
T0 = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)

SQLITE_TRIGGERS = (
    "audit_entries_no_update", "audit_entries_no_delete", "audit_checkpoints_no_update",
    "audit_checkpoints_no_delete", "audit_head_forward_only", "audit_head_no_delete",
)


def principal_of(user: User) -> Principal:
    return Principal(user_id=user.id, role=Role(user.role), username=user.username,
                     organization_id=user.organization_id, patient_id=user.patient_id)


def append(database: Database, n: int, *, patient_id: uuid.UUID | None = None, principal: Principal | None = None,
           action: str = "read", at: datetime = T0) -> None:
    """n entries, one transaction each."""
    for i in range(n):
        with database.unit_of_work() as s:
            audit.record(s, principal, action=action, resource_type="patient", resource_id=f"r{i}",
                         patient_id=patient_id, at=at)


def drop_guards(session: Session) -> None:
    """What an attacker with the database owner's or a superuser's rights does first."""
    if session.get_bind().dialect.name == "postgresql":
        for table in ("audit_entries", "audit_checkpoints", "audit_head"):
            session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
    else:
        for name in SQLITE_TRIGGERS:
            session.execute(text(f"DROP TRIGGER IF EXISTS {name}"))


def pg_base_url() -> str | None:
    url = os.environ.get("CAREBRIDGE_TEST_DATABASE_URL", "")
    return url if url.startswith("postgresql") else None


def _build(url: str, *, migrate: bool) -> None:
    if migrate:
        upgrade(url)
        return
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()


@contextlib.contextmanager
def committed_database(kind: str, tmp_path: Path, *, migrate: bool = True) -> Iterator[str]:
    """A real database whose transactions really commit (not the per-test SAVEPOINT), removed afterwards.

    `migrate=False` builds the tables from the models only: no seeded head row and no triggers, the
    state in which two processes can race to create the head row.
    """
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path}/audit-{uuid.uuid4().hex[:8]}.db"
        _build(url, migrate=migrate)
        yield url
        return
    base = pg_base_url()
    if base is None:
        pytest.skip("PostgreSQL-only: runs in the pass with CAREBRIDGE_TEST_DATABASE_URL=postgresql+psycopg://…")
    prefix, _, dbname = base.rpartition("/")
    name = f"{dbname}_audit_{uuid.uuid4().hex[:10]}"
    admin = create_engine(f"{prefix}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = f"{prefix}/{name}"
        _build(url, migrate=migrate)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
