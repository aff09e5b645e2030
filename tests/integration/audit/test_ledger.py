"""Appending to the audit trail on a real database: same transaction, refusals survive, checkpoints, clean input."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from carebridge.contexts.audit import service as audit
from carebridge.contexts.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from carebridge.engines.audit_chain import VerifyReport, checkpoint_message
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.kernel.errors import Forbidden
from carebridge.security import Principal, Role
from tests.integration.audit.helpers import KEY, SIGNER, T0, append

NURSE = Principal(user_id=uuid.UUID(int=11), role=Role.nurse, username="nurse.meena",
                  organization_id=uuid.UUID(int=21), client_address="10.1.2.3", request_id="req-abc")
PATIENT_ID = uuid.UUID(int=31)


@pytest.fixture
def audited(database: Database) -> Database:
    audit.install(database.sessions, SIGNER, checkpoint_every=3, clock=FixedClock(T0))
    return database


def entries(database: Database) -> list[AuditEntry]:
    with database.unit_of_work() as s:
        return list(s.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars())


def checkpoints(database: Database) -> list[int]:
    with database.unit_of_work() as s:
        return list(s.execute(select(AuditCheckpoint.seq).order_by(AuditCheckpoint.seq)).scalars())


def verify(database: Database) -> VerifyReport:
    return audit.verify(database.transaction, [KEY.public_key()], batch=2)


def test_an_entry_records_who_what_when_why_and_where(audited: Database) -> None:
    with audited.unit_of_work() as s:
        audit.record(s, NURSE, action="read", resource_type="patient", resource_id=PATIENT_ID,
                     patient_id=PATIENT_ID, purpose="treatment", detail={"fields": ["allergies"]}, at=T0)
    [e] = entries(audited)
    assert (e.seq, e.at, e.user_id, e.username, e.role, e.organization_id) == (
        1, T0, NURSE.user_id, "nurse.meena", "nurse", NURSE.organization_id)
    assert (e.action, e.resource_type, e.resource_id, e.patient_id, e.purpose, e.outcome) == (
        "read", "patient", str(PATIENT_ID), PATIENT_ID, "treatment", "success")
    assert (e.client_address, e.request_id, e.detail) == ("10.1.2.3", "req-abc", {"fields": ["allergies"]})
    with audited.unit_of_work() as s:
        assert audit.read_head(s) == (1, e.hash)
    assert verify(audited).ok


def test_time_comes_from_the_installed_clock_when_not_given(audited: Database) -> None:
    with audited.unit_of_work() as s:
        audit.record(s, None, action="read", resource_type="patient")
    assert entries(audited)[0].at == T0


def test_a_rolled_back_change_takes_its_entry_with_it(audited: Database) -> None:
    with pytest.raises(RuntimeError), audited.unit_of_work() as s:
        audit.record(s, NURSE, action="update", resource_type="patient", patient_id=PATIENT_ID)
        raise RuntimeError("the change failed")
    assert entries(audited) == []


def test_a_refusal_survives_the_rollback_of_its_request(audited: Database) -> None:
    with pytest.raises(Forbidden), audited.unit_of_work() as s:
        audit.record(s, NURSE, action="read", resource_type="patient", patient_id=PATIENT_ID)
        audit.record(s, NURSE, action="update", resource_type="patient", patient_id=PATIENT_ID, outcome="denied")
        raise Forbidden("not your patient")
    [e] = entries(audited)
    assert (e.seq, e.action, e.outcome) == (1, "update", "denied")
    assert verify(audited).ok


def test_entries_of_released_savepoints_are_chained_once_at_the_root_commit(audited: Database) -> None:
    """A SAVEPOINT release does not append (that would cost a head lock per Bundle entry); the root commit
    appends everything, in order, once."""
    with audited.unit_of_work() as s:
        for n in range(3):
            with s.begin_nested():
                audit.record(s, NURSE, action="create", resource_type="observation", resource_id=str(n))
            assert entries_in(s) == 0  # nothing chained yet: the root commit has not come
    assert [(e.seq, e.resource_id) for e in entries(audited)] == [(1, "0"), (2, "1"), (3, "2")]
    assert verify(audited).ok


def entries_in(s: Session) -> int:
    return int(s.execute(text("SELECT count(*) FROM audit_entries")).scalar_one())


def test_an_enclosing_savepoint_rolled_back_takes_back_what_an_inner_one_released(audited: Database) -> None:
    """Undone work leaves no success entry; a refusal queued inside the undone work stays."""
    with audited.unit_of_work() as s:
        outer = s.begin_nested()
        with s.begin_nested():
            audit.record(s, NURSE, action="create", resource_type="observation", resource_id="undone")
            audit.record(s, NURSE, action="read", resource_type="patient", resource_id="refused", outcome="denied")
        outer.rollback()
        audit.record(s, NURSE, action="create", resource_type="observation", resource_id="kept")
    assert [e.resource_id for e in entries(audited)] == ["refused", "kept"]
    assert verify(audited).ok


@pytest.mark.parametrize("how", ["unit of work ends", "session.commit()"])
def test_a_root_commit_with_a_savepoint_still_open_keeps_its_entries(audited: Database, how: str) -> None:
    """The case that lost entries when releases were skipped by a blunter rule: the root commits while an
    interaction's SAVEPOINT is open, so SQLAlchemy fires before_commit with the nested transaction current."""
    with audited.unit_of_work() as s:
        audit.record(s, NURSE, action="read", resource_type="patient", resource_id="before")
        s.begin_nested()
        audit.record(s, NURSE, action="create", resource_type="observation", resource_id="inside")
        if how == "session.commit()":
            s.commit()
    assert [e.resource_id for e in entries(audited)] == ["before", "inside"]
    assert verify(audited).ok


def test_sessions_that_never_installed_the_signer_still_chain(database: Database) -> None:
    """No session can drop entries by forgetting to opt in (a CLI job, a worker)."""
    with database.unit_of_work() as s:
        audit.record(s, None, action="read", resource_type="patient", at=T0)
    assert [e.seq for e in entries(database)] == [1]
    assert checkpoints(database) == []
    with database.unit_of_work() as s:
        assert s.execute(select(AuditHead.since_checkpoint)).scalar_one() == 1


def test_a_checkpoint_is_signed_every_n_entries(audited: Database) -> None:
    append(audited, 7)
    assert checkpoints(audited) == [3, 6]
    with audited.unit_of_work() as s:
        cp = s.get(AuditCheckpoint, 6)
        assert cp is not None
        KEY.public_key().verify(base64.b64decode(cp.signature), checkpoint_message(6, cp.hash, cp.signed_at))
        assert cp.public_key == SIGNER.public_key_hex and cp.signed_at == T0
    report = verify(audited)
    assert (report.ok, report.checkpoints_checked, report.last_checkpoint_seq, report.unsigned_tail) == (True, 2, 6, 1)


def test_a_large_transaction_is_signed_at_its_last_entry(audited: Database) -> None:
    with audited.unit_of_work() as s:
        for i in range(5):
            audit.record(s, None, action="read", resource_type="patient", resource_id=str(i), at=T0)
    assert checkpoints(audited) == [5]


def test_checkpoint_now_signs_the_head_once(audited: Database) -> None:
    with audited.unit_of_work() as s:
        assert audit.checkpoint_now(s, SIGNER) is None  # nothing to sign yet
    append(audited, 2)
    for _ in range(2):
        with audited.unit_of_work() as s:
            assert audit.checkpoint_now(s, SIGNER) == 2
    assert checkpoints(audited) == [2]
    append(audited, 2)
    assert checkpoints(audited) == [2]  # the counter restarted at the manual checkpoint
    append(audited, 1)
    assert checkpoints(audited) == [2, 5]


def test_a_stale_head_in_the_identity_map_does_not_fork_the_chain(audited: Database) -> None:
    with audited.unit_of_work() as first:
        first.execute(select(AuditHead)).scalar_one()  # seq 0 is now in this session's identity map
        append(audited, 2)  # another unit of work moves the head meanwhile
        audit.record(first, None, action="read", resource_type="patient", at=T0)
    assert [e.seq for e in entries(audited)] == [1, 2, 3]
    assert verify(audited).ok


def test_hostile_detail_and_long_fields_are_stored_as_hashed(audited: Database) -> None:
    principal = Principal(user_id=uuid.uuid4(), role=Role.patient, username="asha", client_address="x" * 100)
    with audited.unit_of_work() as s:
        audit.record(
            s, principal, action="search", resource_type="patient", resource_id="q" * 300,
            detail={
                "nul": "a\x00b", "surrogate": "\ud800x", "nan": float("nan"), "inf": float("-inf"),
                "when": T0 + timedelta(days=1), "ids": {uuid.UUID(int=2), uuid.UUID(int=1)}, 3: "int key",
                "nested": {"deeper": [1, 2.5, None, True, ("t", "u")]}, "role": Role.nurse,
            },
            at=T0,
        )
        audit.record(s, principal, action="read", resource_type="patient", detail={f"k{i:02d}": "x" * 5000 for i in range(12)},
                     at=T0)
    first, second = entries(audited)
    assert first.resource_id == "q" * 64 and first.client_address == "x" * 64
    assert first.detail["nul"] == "ab" and first.detail["surrogate"] == "?x"
    assert first.detail["nan"] == "nan" and first.detail["inf"] == "-inf"
    assert first.detail["ids"] == [str(uuid.UUID(int=1)), str(uuid.UUID(int=2))]
    assert first.detail["3"] == "int key" and first.detail["role"] == "nurse"
    assert first.detail["nested"] == {"deeper": [1, 2.5, None, True, ["t", "u"]]}
    assert second.detail["truncated"] is True and second.detail["bytes"] > 8192  # each string cut to 2000 first
    assert second.detail["keys"] == [f"k{i:02d}" for i in range(12)]
    assert verify(audited).ok  # what was hashed is exactly what the database gives back


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"action": ""}, "action"),
        ({"action": "x" * 33}, "action"),
        ({"resource_type": " patient"}, "resource_type"),
        ({"outcome": "not\nprintable"}, "outcome"),
        ({"at": T0.replace(tzinfo=None)}, "timezone-aware"),
    ],
)
def test_programming_mistakes_fail_at_the_call_not_at_commit(session: Session, kwargs: dict[str, object],
                                                             message: str) -> None:
    args: dict[str, object] = {"action": "read", "resource_type": "patient", **kwargs}
    with pytest.raises(ValueError, match=message):
        audit.record(session, None, **args)  # type: ignore[arg-type]


def test_the_head_row_is_seeded_by_the_migration(database: Database) -> None:
    with database.unit_of_work() as s:
        assert s.execute(text("SELECT id, seq, since_checkpoint FROM audit_head")).all() == [(1, 0, 0)]


def test_shutting_the_server_down_signs_the_head(app: FastAPI, database: Database) -> None:
    with TestClient(app):
        append(database, 2)
        assert checkpoints(database) == []  # the server's cadence is 1000
    assert checkpoints(database) == [2]
    report = audit.verify(database.transaction, [app.state.keys.public_key])
    assert (report.ok, report.last_checkpoint_seq) == (True, 2)


def test_a_patient_id_given_as_text_is_stored_as_the_uuid(audited: Database) -> None:
    with audited.unit_of_work() as s:
        audit.record(s, None, action="read", resource_type="patient", patient_id=str(PATIENT_ID), at=T0)
    assert entries(audited)[0].patient_id == PATIENT_ID
