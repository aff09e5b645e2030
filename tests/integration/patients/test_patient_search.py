"""Patient search against a real database: name folding, identifiers, birth date, phone, visibility, paging."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import func, insert, select

from carebridge.contexts.audit.models import AuditEntry
from carebridge.contexts.identity.auth import caregiver_scopes
from carebridge.contexts.identity.models import User
from carebridge.contexts.patients import PatientPage, PatientQuery, rebuild_search_index, search_patients
from carebridge.contexts.patients.models import Patient, PatientIdentifier, PatientNameToken, PatientOrganization
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.security import Principal, Role
from tests.factories import Factory


def principal(database: Database, user: User) -> Principal:
    with database.unit_of_work() as s:
        cg = caregiver_scopes(s, user.id) if user.role == Role.caregiver else {}
    return Principal(user_id=user.id, role=Role(user.role), username=user.username,
                     organization_id=user.organization_id, patient_id=user.patient_id, caregiver_of=cg)


def search(database: Database, who: Principal, clock: FixedClock, *, limit: int = 50, cursor: str | None = None,
           **query: object) -> PatientPage:
    with database.unit_of_work() as s:
        return search_patients(s, who, query=PatientQuery(**query), limit=limit, cursor=cursor,  # type: ignore[arg-type]
                               now=clock.now())


@pytest.fixture
def staff(factory: Factory, database: Database) -> tuple[uuid.UUID, Principal]:
    org = factory.organization()
    return org, principal(database, factory.user(Role.nurse, organization_id=org))


def names_of(page: PatientPage) -> list[str]:
    return [f"{p.given_name} {p.family_name}" for p in page.items]


def test_name_search_ignores_case_accents_and_script(factory: Factory, database: Database, clock: FixedClock,
                                                     staff: tuple[uuid.UUID, Principal]) -> None:
    org, nurse = staff
    factory.patient(organization_id=org, given="José", family="Fernandes")
    factory.patient(organization_id=org, given="Asha", family="Sharma")
    factory.patient(organization_id=org, given="आशा", family="वर्मा")
    factory.patient(organization_id=org, given="Meera", family="Iyer")
    factory.patient(organization_id=org, given="Ashok", family="Kumar")

    assert names_of(search(database, nurse, clock, name="jose")) == ["José Fernandes"]
    assert names_of(search(database, nurse, clock, name="JOSÉ FERN")) == ["José Fernandes"]
    assert names_of(search(database, nurse, clock, name="sharma")) == ["Asha Sharma"]
    assert names_of(search(database, nurse, clock, name="SHAR")) == ["Asha Sharma"]
    # Devanagari query finds the Latin record and the Devanagari record alike
    assert sorted(names_of(search(database, nurse, clock, name="आशा"))) == ["Asha Sharma", "आशा वर्मा"]
    assert sorted(names_of(search(database, nurse, clock, name="asha"))) == ["Asha Sharma", "आशा वर्मा"]
    # prefix of any word; every word must match
    assert sorted(names_of(search(database, nurse, clock, name="ash"))) == ["Asha Sharma", "Ashok Kumar", "आशा वर्मा"]
    assert names_of(search(database, nurse, clock, name="ash kum")) == ["Ashok Kumar"]
    # a spelling variant through the phonetic key
    assert names_of(search(database, nurse, clock, name="Mira")) == ["Meera Iyer"]
    assert search(database, nurse, clock, name="sharmaa x").items == []


def test_search_by_identifier_birth_date_and_phone(factory: Factory, database: Database, clock: FixedClock,
                                                   staff: tuple[uuid.UUID, Principal]) -> None:
    org, nurse = staff
    a = factory.patient(organization_id=org, given="Ravi", family="Rao", birth_date=date(1970, 2, 3),
                        phone="+91 98200 22222")
    b = factory.patient(organization_id=org, given="Ravi", family="Rao", birth_date=date(1980, 4, 5),
                        phone="022 2612 3456")
    with database.unit_of_work() as s:
        s.add(PatientIdentifier(id=uuid.uuid4(), patient_id=a, system="https://healthid.ndhm.gov.in",
                                value="91123456789012"))

    def ids(page: PatientPage) -> list[uuid.UUID]:
        return [p.id for p in page.items]

    assert ids(search(database, nurse, clock, identifier="https://healthid.ndhm.gov.in|91123456789012")) == [a]
    assert ids(search(database, nurse, clock, identifier="91-1234-5678-9012")) == [a]
    assert ids(search(database, nurse, clock, identifier="urn:other|91123456789012")) == []
    assert ids(search(database, nurse, clock, birth_date=date(1980, 4, 5))) == [b]
    assert ids(search(database, nurse, clock, phone="9820022222")) == [a]
    assert ids(search(database, nurse, clock, phone="0091-98200-22222")) == [a]
    assert ids(search(database, nurse, clock, phone="+91 22 2612 3456")) == [b]
    assert ids(search(database, nurse, clock, name="ravi", birth_date=date(1970, 2, 3))) == [a]


def test_visibility_staff_patient_and_caregiver(factory: Factory, database: Database, clock: FixedClock) -> None:
    clinic = factory.clinic()
    extra = factory.patient(organization_id=clinic.org, given="Meera", family="Joshi")
    nurse = principal(database, clinic.users[Role.nurse])
    assert {p.id for p in search(database, nurse, clock, name="meera").items} == {clinic.patient_id, extra}
    assert search(database, nurse, clock, name="rahul").items == []  # other organization's patient
    other_nurse = principal(database, factory.user(Role.nurse, organization_id=clinic.other_org))
    assert [p.id for p in search(database, other_nurse, clock).items] == [clinic.other_patient_id]
    me = principal(database, clinic.users[Role.patient])
    assert [p.id for p in search(database, me, clock).items] == [clinic.patient_id]
    cg = principal(database, clinic.users[Role.caregiver])
    assert [p.id for p in search(database, cg, clock, name="meera").items] == [clinic.patient_id]
    orphan = principal(database, factory.user(Role.nurse))
    assert search(database, orphan, clock).items == []


def test_paging_is_stable_while_patients_are_added(factory: Factory, database: Database, clock: FixedClock,
                                                   staff: tuple[uuid.UUID, Principal]) -> None:
    org, nurse = staff
    for family in ["Bose", "Das", "Ghosh", "Mitra", "Sen", "Roy", "Dutta"]:
        factory.patient(organization_id=org, given="Anil", family=family)
    page1 = search(database, nurse, clock, limit=3)
    assert names_of(page1) == ["Anil Bose", "Anil Das", "Anil Dutta"]
    assert page1.next_cursor
    # inserted before and after the cursor: earlier pages never shift into later ones
    factory.patient(organization_id=org, given="Anil", family="Banerjee")
    factory.patient(organization_id=org, given="Anil", family="Chatterjee")
    factory.patient(organization_id=org, given="Anil", family="Ghosal")
    page2 = search(database, nurse, clock, limit=3, cursor=page1.next_cursor)
    assert names_of(page2) == ["Anil Ghosal", "Anil Ghosh", "Anil Mitra"]
    page3 = search(database, nurse, clock, limit=3, cursor=page2.next_cursor)
    assert names_of(page3) == ["Anil Roy", "Anil Sen"]
    assert page3.next_cursor is None


def test_equal_names_page_by_id(factory: Factory, database: Database, clock: FixedClock,
                                staff: tuple[uuid.UUID, Principal]) -> None:
    org, nurse = staff
    ids = sorted(factory.patient(organization_id=org, given="Same", family="Name") for _ in range(5))
    seen: list[uuid.UUID] = []
    cursor = None
    while True:
        page = search(database, nurse, clock, limit=2, cursor=cursor)
        seen += [p.id for p in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ids


def test_every_returned_patient_is_audited(factory: Factory, database: Database, clock: FixedClock,
                                           staff: tuple[uuid.UUID, Principal]) -> None:
    org, nurse = staff
    ids = {factory.patient(organization_id=org, given="Kavya", family=f"Nair{i}") for i in range(3)}
    with database.unit_of_work() as s:
        before = s.scalar(select(func.max(AuditEntry.seq))) or 0
    search(database, nurse, clock, name="kavya")
    search(database, nurse, clock, name="nobody")
    with database.unit_of_work() as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.seq > before).order_by(AuditEntry.seq)))
    assert {r.patient_id for r in rows if r.patient_id} == ids
    assert all(r.action == "search" and r.resource_type == "Patient" and r.user_id == nurse.user_id for r in rows)
    assert all(r.detail["params"] == ["name"] and r.purpose == "treatment" for r in rows)
    assert [r.patient_id for r in rows][-1] is None  # the empty search is recorded too


def test_name_tokens_follow_name_changes(factory: Factory, database: Database, clock: FixedClock,
                                         staff: tuple[uuid.UUID, Principal]) -> None:
    org, nurse = staff
    pid = factory.patient(organization_id=org, given="Old", family="Name")
    with database.unit_of_work() as s:
        p = s.get(Patient, pid)
        assert p is not None
        p.family_name = "Renamed"
        p.phone = "+91 98200 33333"
    assert search(database, nurse, clock, name="name").items == []
    assert [p.id for p in search(database, nurse, clock, name="renam").items] == [pid]
    assert [p.id for p in search(database, nurse, clock, phone="9820033333").items] == [pid]
    with database.unit_of_work() as s:
        tokens = set(s.scalars(select(PatientNameToken.token).where(PatientNameToken.patient_id == pid)))
    assert tokens == {"old", "renamed"}


def test_bulk_loaded_patients_are_found_after_a_reindex(database: Database, clock: FixedClock,
                                                        staff: tuple[uuid.UUID, Principal]) -> None:
    org, nurse = staff
    pid = uuid.uuid4()
    with database.unit_of_work() as s:
        # Core inserts bypass the mapper events that keep the search columns right
        s.execute(insert(Patient), [{"id": pid, "given_name": "Zoë", "family_name": "Mascarenhas",
                                     "phone": "+91 98200 77777", "created_at": clock.now(),
                                     "updated_at": clock.now(), "version": 1}])
        s.execute(insert(PatientOrganization), [{"id": uuid.uuid4(), "patient_id": pid, "organization_id": org,
                                                 "since": clock.now()}])
    assert search(database, nurse, clock, name="zoe").items == []
    with database.unit_of_work() as s:
        assert rebuild_search_index(s) >= 1
        assert rebuild_search_index(s, patient_ids=[pid]) == 1  # idempotent
    assert [p.id for p in search(database, nurse, clock, name="zoe masc").items] == [pid]
    assert [p.id for p in search(database, nurse, clock, phone="9820077777").items] == [pid]
