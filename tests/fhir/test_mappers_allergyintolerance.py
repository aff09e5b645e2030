"""AllergyIntolerance over FHIR: created from an R4-style resource, read, searched by patient, category,
criticality, clinical status, substance and recorded date; strangers refused."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carebridge.security import Role
from tests.factories import Clinic, Factory
from tests.fhir.mapper_helpers import FHIR, post, search


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


@pytest.fixture
def staff(factory: Factory, clinic: Clinic) -> dict[str, str]:
    return {**factory.headers(clinic.users[Role.practitioner]), "Content-Type": FHIR}


def allergy(pid: uuid.UUID, substance: str = "Penicillin", category: str = "medication",
            criticality: str = "high") -> dict[str, Any]:
    return {"resourceType": "AllergyIntolerance",
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                                           "code": "active"}]},
            "type": "allergy", "category": [category], "criticality": criticality,
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "764146007", "display": substance}],
                     "text": substance},
            "patient": {"reference": f"Patient/{pid}"},
            "reaction": [{"manifestation": [{"text": "Hives"}], "severity": "moderate"}]}


def test_create_read_search(client: TestClient, staff: dict[str, str], clinic: Clinic) -> None:
    pen = post(client, staff, allergy(clinic.patient_id))
    assert pen["code"]["text"] == "Penicillin" and pen["reaction"][0]["manifestation"] == [{"text": "Hives"}]
    assert pen["code"]["coding"][0]["code"] == "764146007"  # the SNOMED coding is kept as received
    assert pen["reaction"][0]["severity"] == "moderate" and pen["criticality"] == "high"
    nuts = post(client, staff, allergy(clinic.patient_id, "Peanut", "food", "low"))
    assert client.get(f"/fhir/R4/AllergyIntolerance/{nuts['id']}", headers=staff).json()["category"] == ["food"]
    p = f"AllergyIntolerance?patient=Patient/{clinic.patient_id}"
    assert set(search(client, staff, p)) == {pen["id"], nuts["id"]}
    assert search(client, staff, f"{p}&category=food") == [nuts["id"]]
    assert search(client, staff, f"{p}&criticality=high") == [pen["id"]]
    assert search(client, staff, f"{p}&code=penicillin") == [pen["id"]]
    assert set(search(client, staff, f"{p}&clinical-status=active")) == {pen["id"], nuts["id"]}
    assert search(client, staff, f"{p}&clinical-status=resolved") == []
    # the clock is fixed at 2026-03-10T09:30Z: both were recorded then
    assert len(search(client, staff, f"{p}&date=2026-03-10")) == 2
    assert search(client, staff, f"{p}&date=gt2026-03-10") == []
    assert search(client, staff, f"{p}&date=ne2026-03-10") == []


def test_missing_category_is_a_422_and_strangers_are_refused(client: TestClient, staff: dict[str, str],
                                                             factory: Factory, clinic: Clinic) -> None:
    body = allergy(clinic.patient_id)
    del body["category"]
    r = client.post("/fhir/R4/AllergyIntolerance", json=body, headers=staff)
    assert r.status_code == 422 and r.json()["issue"][0]["expression"] == ["AllergyIntolerance.category"]
    made = post(client, staff, allergy(clinic.patient_id))
    stranger = factory.headers(factory.user(Role.patient, patient_id=clinic.other_patient_id))
    assert client.get(f"/fhir/R4/AllergyIntolerance/{made['id']}", headers=stranger).status_code == 403
    own = factory.headers(clinic.users[Role.patient])
    assert client.get(f"/fhir/R4/AllergyIntolerance/{made['id']}", headers=own).status_code == 200


def test_update_changes_criticality_and_status(client: TestClient, staff: dict[str, str], clinic: Clinic) -> None:
    made = post(client, staff, allergy(clinic.patient_id))
    etag = client.get(f"/fhir/R4/AllergyIntolerance/{made['id']}", headers=staff).headers["etag"]
    changed = {**made, "criticality": "low", "clinicalStatus": {"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "resolved"}]}}
    r = client.put(f"/fhir/R4/AllergyIntolerance/{made['id']}", json=changed, headers={**staff, "If-Match": etag})
    assert r.status_code == 200, r.text
    assert r.json()["criticality"] == "low" and r.json()["clinicalStatus"]["coding"][0]["code"] == "resolved"
    p = f"AllergyIntolerance?patient={clinic.patient_id}"
    assert search(client, staff, f"{p}&clinical-status=resolved") == [made["id"]]
    moved = {**changed, "patient": {"reference": f"Patient/{clinic.other_patient_id}"}}
    r = client.put(f"/fhir/R4/AllergyIntolerance/{made['id']}", json=moved, headers={**staff, "If-Match": etag})
    assert r.status_code == 422
