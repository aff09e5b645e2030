"""The consent lookup's cost and reach: at most one query per decision, none for a patient's own record; the
directives survive a patient merge."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select

from carebridge.contexts.consent.models import ConsentDirective
from carebridge.contexts.identity.models import User
from carebridge.contexts.patients import load_patient_for, merge_patients
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.security import DataCategory, Permission, Principal, Role
from tests.factories import Factory


def as_principal(user: User) -> Principal:
    return Principal(user_id=user.id, role=Role(user.role), username=user.username,
                     organization_id=user.organization_id, patient_id=user.patient_id)


@contextmanager
def statements(database: Database) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = database.engine

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def consent_queries(seen: list[str]) -> int:
    return sum("consent_directives" in s for s in seen)


def test_one_consent_query_per_decision_and_none_for_the_patient_themselves(
        database: Database, factory: Factory, clock: FixedClock) -> None:
    clinic = factory.clinic()
    nurse, me = as_principal(clinic.users[Role.nurse]), as_principal(clinic.users[Role.patient])
    with database.unit_of_work() as s:
        s.add(ConsentDirective(id=uuid.uuid4(), patient_id=clinic.patient_id, kind="restriction",
                               grantee_type="organization", grantee_organization_id=clinic.org,
                               categories=["documents"], purposes=[], created_at=clock.now()))
    with database.unit_of_work() as s, statements(database) as seen:
        load_patient_for(s, nurse, clinic.patient_id, Permission.record_read, now=clock.now(),
                         audit_success=False, category=DataCategory.clinical)
        assert consent_queries(seen) == 1
        seen.clear()
        load_patient_for(s, me, clinic.patient_id, Permission.record_read, now=clock.now(), audit_success=False,
                         category=DataCategory.clinical)
        assert consent_queries(seen) == 0


def test_a_merge_moves_the_duplicates_directives_to_the_survivor(database: Database, factory: Factory,
                                                                 clock: FixedClock) -> None:
    clinic = factory.clinic()
    dup = factory.patient(organization_id=clinic.org, given="Meera", family="Iyer")
    desk = as_principal(clinic.users[Role.front_desk])
    with database.unit_of_work() as s:
        s.add(ConsentDirective(id=uuid.uuid4(), patient_id=dup, kind="grant", grantee_type="organization",
                               grantee_organization_id=clinic.other_org, categories=["*"], purposes=[],
                               created_at=datetime(2026, 3, 1, tzinfo=UTC)))
    with database.unit_of_work() as s:
        merge_patients(s, desk, source_id=dup, target_id=clinic.patient_id, now=clock.now())
    with database.unit_of_work() as s:
        owners = s.scalars(select(ConsentDirective.patient_id)).all()
        assert owners == [clinic.patient_id]
