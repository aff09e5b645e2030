"""Rows queued by `kernel.deferred_rows` behave as pending ORM objects would: written after the rows they name,
seen by the next ORM query, kept or dropped with the SAVEPOINT or transaction they were queued in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from carebridge.contexts.patients.models import Patient
from carebridge.contexts.records.models import TimelineEntry
from carebridge.kernel import deferred_rows
from carebridge.kernel.db import Database
from carebridge.kernel.events import OutboxEvent

AT = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def _event(session: Session, kind: str) -> uuid.UUID:
    event_id = uuid.uuid4()
    deferred_rows.add(session, OutboxEvent, {"id": event_id, "type": kind, "payload": {"k": kind},
                                             "created_at": AT, "published_at": None, "attempts": 0,
                                             "locked_until": None})
    return event_id


def _timeline(session: Session, patient_id: uuid.UUID) -> None:
    deferred_rows.add(session, TimelineEntry, {
        "id": uuid.uuid4(), "patient_id": patient_id, "kind": "observation", "ref_id": uuid.uuid4(),
        "occurred_at": AT, "summary": "Heart rate 72 /min", "encounter_id": None, "flag": None, "amended": False})


def _raw_count(session: Session, table: str) -> int:
    """Counted on the connection itself, past the session's hooks: what is really in the table now."""
    return int(session.connection().execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _types(database: Database, ids: list[uuid.UUID]) -> set[str]:
    with database.unit_of_work() as s:
        return set(s.scalars(select(OutboxEvent.type).where(OutboxEvent.id.in_(ids))))


def test_a_queued_row_waits_and_is_written_after_the_pending_row_it_names(database: Database) -> None:
    with database.unit_of_work() as s:
        stop = deferred_rows.enable(s)
        before = _raw_count(s, "timeline_entries")
        patient = Patient(id=uuid.uuid4(), given_name="Meera", family_name="Iyer")
        s.add(patient)  # pending: the timeline row's foreign key needs it inserted first
        _timeline(s, patient.id)
        assert _raw_count(s, "timeline_entries") == before  # queued, not yet written
        assert deferred_rows.queued(s) == 1
        found = s.scalars(select(TimelineEntry).where(TimelineEntry.patient_id == patient.id)).all()
        assert [e.summary for e in found] == ["Heart rate 72 /min"]  # the query saw it, as it sees a flushed row
        stop()
    with database.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(TimelineEntry)
                        .where(TimelineEntry.patient_id == patient.id)) == 1


def test_rows_queued_after_the_last_query_are_written_at_commit(database: Database) -> None:
    with database.unit_of_work() as s:
        stop = deferred_rows.enable(s)
        ids = [_event(s, "a.one"), _event(s, "a.two")]
    stop()
    assert _types(database, ids) == {"a.one", "a.two"}


def test_a_rolled_back_unit_writes_none_of_its_queue(database: Database) -> None:
    ids: list[uuid.UUID] = []
    with pytest.raises(RuntimeError), database.unit_of_work() as s:
        stop = deferred_rows.enable(s)
        ids.append(_event(s, "b.lost"))
        raise RuntimeError("the change failed")
    stop()
    assert _types(database, ids) == set()


def test_a_savepoint_rolled_back_drops_its_rows_and_keeps_those_queued_before_it(database: Database) -> None:
    with database.unit_of_work() as s:
        stop = deferred_rows.enable(s)
        kept = _event(s, "c.before")
        savepoint = s.begin_nested()
        dropped = _event(s, "c.inside")
        seen = set(s.scalars(select(OutboxEvent.type).where(OutboxEvent.id.in_([kept, dropped]))))
        assert seen == {"c.before", "c.inside"}  # a query inside the SAVEPOINT sees both
        savepoint.rollback()
        after = _event(s, "c.after")
    stop()
    assert _types(database, [kept, dropped, after]) == {"c.before", "c.after"}


def test_a_savepoint_released_keeps_its_rows(database: Database) -> None:
    with database.unit_of_work() as s:
        stop = deferred_rows.enable(s)
        with s.begin_nested():
            inside = _event(s, "d.inside")
    stop()
    assert _types(database, [inside]) == {"d.inside"}


def test_without_enable_a_row_is_an_ordinary_pending_object(database: Database) -> None:
    with database.unit_of_work() as s:
        event_id = _event(s, "e.orm")
        assert deferred_rows.queued(s) == 0
        assert [o.id for o in s.new if isinstance(o, OutboxEvent)] == [event_id]
    assert _types(database, [event_id]) == {"e.orm"}


def test_queued_rows_go_in_foreign_key_order_whatever_order_they_were_queued_in(database: Database) -> None:
    patient_id = uuid.uuid4()
    with database.unit_of_work() as s:
        stop = deferred_rows.enable(s)
        _timeline(s, patient_id)  # names a patient queued only afterwards
        deferred_rows.add(s, Patient, {"id": patient_id, "given_name": "Ravi", "family_name": "Nair"})
    stop()
    with database.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(TimelineEntry)
                        .where(TimelineEntry.patient_id == patient_id)) == 1
