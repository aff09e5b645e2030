"""Patient use cases against a real database: registration paths, the one door (load_patient_for), merge."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carebridge.contexts.audit.models import AuditEntry
from carebridge.contexts.identity.models import User
from carebridge.contexts.patients import (
    ABHA_SYSTEM,
    PatientCreate,
    PatientUpdate,
    create_patient,
    get_patient,
    get_patient_facts,
    load_patient_for,
    merge,
    merge_patients,
    on_patient_merged,
    update_patient,
)
from carebridge.contexts.patients.models import Patient, PatientOrganization
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.kernel.errors import Conflict, Forbidden, NotFound, ValidationProblem
from carebridge.kernel.events import OutboxEvent
from carebridge.security import Permission, Principal, Role
from tests.factories import Factory


def as_principal(user: User) -> Principal:
    return Principal(user_id=user.id, role=Role(user.role), username=user.username,
                     organization_id=user.organization_id, patient_id=user.patient_id)


def audit_of(database: Database, patient_id: uuid.UUID) -> list[AuditEntry]:
    with database.unit_of_work() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.patient_id == patient_id)
                              .order_by(AuditEntry.seq)))


def person(**over: object) -> PatientCreate:
    data: dict[str, object] = {"given_name": "Sunita", "family_name": "Patil", "birth_date": "1975-08-15",
                               "phone": "+91 98220 44444", "sex": "female"}
    data.update(over)
    return PatientCreate.model_validate(data)


def test_self_registration_creates_an_unlinked_audited_patient(database: Database, factory: Factory,
                                                              clock: FixedClock) -> None:
    with database.unit_of_work() as s:
        read = create_patient(s, None, data=person(), now=clock.now())
    with database.unit_of_work() as s:
        facts = get_patient_facts(s, read.id)
        events = list(s.scalars(select(OutboxEvent).where(OutboxEvent.type == "patient.created")))
    assert facts.organization_ids == frozenset() and facts.active
    assert any(e.payload["patient_id"] == str(read.id) for e in events)
    (entry,) = audit_of(database, read.id)
    assert (entry.action, entry.user_id, entry.detail["self_registration"]) == ("create", None, True)
    # self-registration does not look for demographic duplicates (that would reveal who is registered)
    with database.unit_of_work() as s:
        create_patient(s, None, data=person(), now=clock.now())


def test_self_registration_at_a_clinic_links_it(database: Database, factory: Factory, clock: FixedClock) -> None:
    org = factory.organization()
    with database.unit_of_work() as s:
        read = create_patient(s, None, data=person(), now=clock.now(), organization_id=org)
        assert get_patient_facts(s, read.id).organization_ids == frozenset({org})
    with pytest.raises(ValidationProblem), database.unit_of_work() as s:
        create_patient(s, None, data=person(), now=clock.now(), organization_id=uuid.uuid4())


def test_staff_register_only_into_their_own_organization(database: Database, factory: Factory,
                                                         clock: FixedClock) -> None:
    clinic = factory.clinic()
    desk = as_principal(clinic.users[Role.front_desk])
    with pytest.raises(Forbidden), database.unit_of_work() as s:
        create_patient(s, desk, data=person(), now=clock.now(), organization_id=clinic.other_org)
    with pytest.raises(Forbidden), database.unit_of_work() as s:
        create_patient(s, as_principal(factory.user(Role.front_desk)), data=person(), now=clock.now())


def test_load_patient_for_audits_reads_and_refusals(database: Database, factory: Factory, clock: FixedClock) -> None:
    clinic = factory.clinic()
    nurse = as_principal(clinic.users[Role.nurse])
    with database.unit_of_work() as s:
        p = load_patient_for(s, nurse, clinic.patient_id, Permission.patient_read, purpose="emergency")
        assert p.given_name == "Meera"
    # the refusal is recorded although the request's transaction rolls back
    with pytest.raises(Forbidden), database.unit_of_work() as s:
        load_patient_for(s, nurse, clinic.other_patient_id, Permission.patient_read)
    with pytest.raises(NotFound), database.unit_of_work() as s:
        load_patient_for(s, nurse, uuid.uuid4(), Permission.patient_read)
    (read,) = audit_of(database, clinic.patient_id)
    assert (read.action, read.outcome, read.purpose, read.detail["basis"]) == ("read", "success", "emergency",
                                                                               "organization")
    (denied,) = audit_of(database, clinic.other_patient_id)
    assert (denied.action, denied.outcome, denied.detail["basis"]) == ("read", "denied", "denied:organization")


def test_patient_reaching_another_patient_is_refused(database: Database, factory: Factory,
                                                     clock: FixedClock) -> None:
    clinic = factory.clinic()
    me = as_principal(clinic.users[Role.patient])
    with database.unit_of_work() as s:
        assert get_patient(s, me, patient_id=clinic.patient_id, now=clock.now()).id == clinic.patient_id
    with pytest.raises(Forbidden), database.unit_of_work() as s:
        get_patient(s, me, patient_id=clinic.other_patient_id, now=clock.now())


@pytest.fixture
def recorded_handler() -> Iterator[list[tuple[uuid.UUID, uuid.UUID]]]:
    calls: list[tuple[uuid.UUID, uuid.UUID]] = []

    def handler(session: Session, *, source_id: uuid.UUID, target_id: uuid.UUID, now: datetime) -> dict[str, int]:
        calls.append((source_id, target_id))
        return {"things": 2}

    on_patient_merged("test_context")(handler)
    yield calls
    merge._HANDLERS.pop("test_context", None)


def test_merge_moves_everything_and_is_audited_on_both(database: Database, factory: Factory, clock: FixedClock,
                                                       recorded_handler: list[tuple[uuid.UUID, uuid.UUID]]) -> None:
    clinic = factory.clinic()
    desk = as_principal(clinic.users[Role.front_desk])
    with database.unit_of_work() as s:
        survivor = create_patient(s, desk, data=person(emergency_contacts=[
            {"name": "Ajay Patil", "phone": "+91 90000 11111"}]), now=clock.now())
        dup = create_patient(s, desk, force=True, now=clock.now(), data=person(
            given_name="Suneeta", identifiers=[{"system": ABHA_SYSTEM, "value": "12345678901234"}],
            emergency_contacts=[{"name": "ajay patil", "phone": "090000 11111"},
                                {"name": "Leela Patil", "phone": "+91 90000 22222"}]))
        # the duplicate is also known to a second clinic
        s.add(PatientOrganization(id=uuid.uuid4(), patient_id=dup.id, organization_id=clinic.other_org,
                                  since=clock.now()))
    with database.unit_of_work() as s:
        merged = merge_patients(s, desk, source_id=dup.id, target_id=survivor.id, now=clock.now())
    assert recorded_handler == [(dup.id, survivor.id)]
    assert [i.value for i in merged.identifiers if i.system == ABHA_SYSTEM] == ["12345678901234"]
    assert sorted(c.name for c in merged.emergency_contacts) == ["Ajay Patil", "Leela Patil"]
    with database.unit_of_work() as s:
        assert get_patient_facts(s, survivor.id).organization_ids == frozenset({clinic.org, clinic.other_org})
        old = s.get(Patient, dup.id)
        assert old is not None and not old.active and old.merged_into_id == survivor.id and old.identifiers == []
        # the merged record still opens, so clients can follow merged_into_id
        assert get_patient(s, desk, patient_id=dup.id, now=clock.now()).merged_into_id == survivor.id
    src_entry = next(e for e in audit_of(database, dup.id) if e.action == "merge")
    dst_entry = next(e for e in audit_of(database, survivor.id) if e.action == "merge")
    assert src_entry.detail == {"into": str(survivor.id)}
    assert dst_entry.detail["from"] == str(dup.id)
    assert dst_entry.detail["moved"] == {"identifiers": 1, "emergency_contacts": 1, "organizations": 1,
                                         "test_context.things": 2, "identity.patient_accounts": 0,
                                         "identity.caregiver_links_moved": 0, "identity.caregiver_links_combined": 0,
                                         "fhir_generic.fhir_generic_resources": 0,
                                         "fhir_received.fhir_received_resources": 0}
    with pytest.raises(Conflict), database.unit_of_work() as s:
        merge_patients(s, desk, source_id=dup.id, target_id=survivor.id, now=clock.now())


def test_merge_needs_the_right_role_and_both_patients_in_reach(database: Database, factory: Factory,
                                                               clock: FixedClock) -> None:
    clinic = factory.clinic()
    extra = factory.patient(organization_id=clinic.org, given="Meera", family="Iyer", birth_date=date(1991, 1, 1))
    with pytest.raises(Forbidden), database.unit_of_work() as s:
        merge_patients(s, as_principal(clinic.users[Role.nurse]), source_id=extra, target_id=clinic.patient_id,
                       now=clock.now())
    desk = as_principal(clinic.users[Role.front_desk])
    with pytest.raises(Forbidden), database.unit_of_work() as s:
        merge_patients(s, desk, source_id=extra, target_id=clinic.other_patient_id, now=clock.now())
    with pytest.raises(ValidationProblem), database.unit_of_work() as s:
        merge_patients(s, desk, source_id=extra, target_id=extra, now=clock.now())
    with database.unit_of_work() as s:
        assert s.get(Patient, extra).active  # type: ignore[union-attr]


def test_a_write_racing_another_is_refused_not_lost(database: Database, factory: Factory, clock: FixedClock) -> None:
    clinic = factory.clinic()
    nurse = as_principal(clinic.users[Role.nurse])
    with pytest.raises(Conflict) as caught, database.unit_of_work() as s:
        p = load_patient_for(s, nurse, clinic.patient_id, Permission.patient_update)
        # another writer commits version 2 between our read and our write
        s.execute(update(Patient).where(Patient.id == p.id).values(version=2, preferred_name="Theirs")
                  .execution_options(synchronize_session=False))
        update_patient(s, nurse, patient_id=p.id, data=PatientUpdate(version=1, preferred_name="Ours"),
                       now=clock.now())
    assert caught.value.slug == "concurrent-change"
    with database.unit_of_work() as s:
        assert s.get(Patient, clinic.patient_id).preferred_name is None  # type: ignore[union-attr]
