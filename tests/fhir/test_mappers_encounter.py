"""Encounter over FHIR: a Synthea-like finished visit is recorded opened and closed, read, searched by patient,
status, class and date prefixes and practitioner; unknown classes are code-invalid; an observation of a finished
encounter is kept without the link; strangers refused."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from carebridge.contexts.audit.models import AuditEntry
from carebridge.kernel.db import Database
from carebridge.kernel.events import OutboxEvent
from carebridge.security import Role
from tests.factories import Clinic, Factory
from tests.fhir.mapper_helpers import FHIR, post, search


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


@pytest.fixture
def staff(factory: Factory, clinic: Clinic) -> dict[str, str]:
    return {**factory.headers(clinic.users[Role.practitioner]), "Content-Type": FHIR}


def visit(pid: uuid.UUID, start: str = "2025-10-22T23:33:57+00:00", end: str | None = "2025-10-22T23:48:57+00:00",
          klass: str = "AMB", status: str = "finished") -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Encounter", "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": klass},
        "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "185345009"}],
                  "text": "Encounter for symptom"}],
        "subject": {"reference": f"Patient/{pid}"},
        "participant": [{"individual": {"reference": f"Practitioner/{uuid.uuid4()}"}}],
        "period": {"start": start, **({"end": end} if end else {})},
        "reasonCode": [{"coding": [{"system": "http://snomed.info/sct", "code": "75498004",
                                    "display": "Acute bacterial sinusitis (disorder)"}]}]}
    return body


def test_create_finished_and_open_then_search(client: TestClient, staff: dict[str, str], clinic: Clinic) -> None:
    done = post(client, staff, visit(clinic.patient_id))
    assert done["status"] == "finished" and done["period"]["end"] == "2025-10-22T23:48:57+00:00"
    assert done["reasonCode"][0]["text"] == "Acute bacterial sinusitis (disorder)"
    assert done["reasonCode"][0]["coding"][0]["code"] == "75498004"  # the SNOMED coding is kept as received
    assert "participant" not in done  # the practitioner is not stored here: dropped, not failed
    now = post(client, staff, visit(clinic.patient_id, "2026-03-10T09:00:00Z", None, "VR", "in-progress"))
    assert client.get(f"/fhir/R4/Encounter/{now['id']}", headers=staff).json()["class"]["code"] == "VR"
    p = f"Encounter?patient={clinic.patient_id}"
    assert search(client, staff, p) == [now["id"], done["id"]]
    assert search(client, staff, f"{p}&status=finished") == [done["id"]]
    assert search(client, staff, f"{p}&class=http://terminology.hl7.org/CodeSystem/v3-ActCode|VR") == [now["id"]]
    assert search(client, staff, f"{p}&date=ge2026-01-01") == [now["id"]]
    assert search(client, staff, f"{p}&date=lt2026-01-01") == [done["id"]]
    assert search(client, staff, f"{p}&date=eq2025-10-22") == [done["id"]]
    assert search(client, staff, f"{p}&date=ne2025-10") == [now["id"]]
    assert search(client, staff, f"{p}&practitioner=Practitioner/{uuid.uuid4()}") == []


def test_observation_of_a_finished_encounter_is_kept_unlinked(client: TestClient, staff: dict[str, str],
                                                              clinic: Clinic) -> None:
    done = post(client, staff, visit(clinic.patient_id))
    obs = post(client, staff, {"resourceType": "Observation", "status": "final",
                               "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
                               "subject": {"reference": f"Patient/{clinic.patient_id}"},
                               "encounter": {"reference": f"Encounter/{done['id']}"},
                               "effectiveDateTime": "2025-10-22T23:40:00Z",
                               "valueQuantity": {"value": 13.1, "unit": "g/dL", "system": "http://unitsofmeasure.org",
                                                 "code": "g/dL"}})
    assert "encounter" not in obs


def test_emergency_class_is_code_invalid_and_strangers_are_refused(client: TestClient, staff: dict[str, str],
                                                                   factory: Factory, clinic: Clinic) -> None:
    r = client.post("/fhir/R4/Encounter", json=visit(clinic.patient_id, klass="EMER"), headers=staff)
    assert r.status_code == 422 and r.json()["issue"][0]["code"] == "code-invalid"
    made = post(client, staff, visit(clinic.patient_id))
    stranger = factory.headers(factory.user(Role.practitioner, organization_id=clinic.other_org))
    assert client.get(f"/fhir/R4/Encounter/{made['id']}", headers=stranger).status_code == 403
    assert client.get(f"/fhir/R4/Encounter?patient={clinic.patient_id}", headers=stranger).status_code == 403


def test_a_finished_visit_is_one_closed_record_with_both_events(client: TestClient, staff: dict[str, str],
                                                                 clinic: Clinic, database: Database) -> None:
    done = post(client, staff, visit(clinic.patient_id))
    rest = client.get(f"/api/v1/patients/{clinic.patient_id}/encounters/{done['id']}", headers=staff)
    assert rest.status_code == 200
    assert rest.json()["status"] == "finished" and rest.json()["end_at"].startswith("2025-10-22T23:48:57")
    with database.unit_of_work() as s:  # subscribers of closed encounters (reminders, analytics) still hear of it
        kinds = sorted(e.type for e in s.scalars(select(OutboxEvent)) if e.payload.get("encounter_id") == done["id"])
        audited = [e.detail for e in s.scalars(select(AuditEntry).where(AuditEntry.resource_id == done["id"],
                                                                        AuditEntry.action == "create"))]
    assert kinds == ["records.encounter.closed", "records.encounter.opened"]
    assert audited == [{"closed": True}]


def test_a_visit_ending_before_it_starts_is_refused(client: TestClient, staff: dict[str, str],
                                                    clinic: Clinic) -> None:
    r = client.post("/fhir/R4/Encounter", headers=staff,
                    json=visit(clinic.patient_id, "2025-10-22T23:33:57Z", "2025-10-22T22:00:00Z"))
    assert r.status_code == 422 and r.json()["resourceType"] == "OperationOutcome"
    assert search(client, staff, f"Encounter?patient={clinic.patient_id}") == []
