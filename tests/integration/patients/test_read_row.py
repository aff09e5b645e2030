"""The one-statement patient read gives what the ORM gives: every identifier and contact, the organizations the
policy needs (none, one, several), on SQLite and on PostgreSQL (whose empty aggregate is NULL, not [])."""

from __future__ import annotations

import uuid

from carebridge.contexts.patients.models import EmergencyContact, Patient, PatientIdentifier, PatientOrganization
from carebridge.contexts.patients.read_row import read_patient_row
from carebridge.contexts.patients.service import build_read, to_read
from carebridge.kernel.db import Database
from tests.factories import Factory


def test_row_children_and_organizations_match_the_orm(database: Database, factory: Factory) -> None:
    org_a, org_b = factory.organization("Org A"), factory.organization("Org B")
    lone = factory.patient(given="Lone", family="Rao")  # no organization, one identifier, no contacts
    busy = factory.patient(organization_id=org_a, given="Busy", family="Das")
    with database.unit_of_work() as s:
        s.add(PatientOrganization(id=uuid.uuid4(), patient_id=busy, organization_id=org_b, since=factory.clock.now()))
        s.add(PatientIdentifier(id=uuid.uuid4(), patient_id=busy, system="https://abdm.gov.in/abha",
                                value="91-1234-5678-9012"))
        s.add(EmergencyContact(id=uuid.uuid4(), patient_id=busy, name="Zoya Das", relationship_="sister",
                               phone="+91 98200 00001", email=None))
        s.add(EmergencyContact(id=uuid.uuid4(), patient_id=busy, name="Arun Das", relationship_=None,
                               phone="+91 98200 00002", email="arun@example.test"))

    with database.unit_of_work() as s:
        lone_row = read_patient_row(s, lone)
        busy_row = read_patient_row(s, busy)
        assert read_patient_row(s, uuid.uuid4()) is None
        assert lone_row is not None and busy_row is not None
        assert lone_row.organization_ids == frozenset() and lone_row.contacts == []
        assert busy_row.organization_ids == {org_a, org_b}
        assert [c.name for c in busy_row.contacts] == ["Arun Das", "Zoya Das"]
        assert [i.system for i in busy_row.identifiers] == ["https://abdm.gov.in/abha", "urn:carebridge:test-mrn"]
        for pid, found in ((lone, lone_row), (busy, busy_row)):
            orm = to_read(s.get(Patient, pid))  # type: ignore[arg-type]
            fast = build_read(found.row, found.identifiers, found.contacts)
            assert sorted(i.value for i in fast.identifiers) == sorted(i.value for i in orm.identifiers)
            assert {c.id for c in fast.emergency_contacts} == {c.id for c in orm.emergency_contacts}
            assert fast.model_dump(exclude={"identifiers", "emergency_contacts"}) == \
                orm.model_dump(exclude={"identifiers", "emergency_contacts"})
