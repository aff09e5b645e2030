"""Condition over FHIR: ICD-10 problem list entries created from a resource, read, searched by patient, code
token, clinical status, category and onset-date prefixes; SNOMED-only resources refused as code-invalid;
strangers refused."""

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


def condition(pid: uuid.UUID, code: str = "E11", onset: str = "2020-05-01T00:00:00+00:00",
              status: str = "active") -> dict[str, Any]:
    return {"resourceType": "Condition",
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": status}]},
            "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                               "code": "confirmed"}]},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"},
                                {"system": "http://hl7.org/fhir/sid/icd-10", "code": code}]},
            "subject": {"reference": f"Patient/{pid}"}, "onsetDateTime": onset,
            "recordedDate": onset}


def test_create_read_and_search(client: TestClient, staff: dict[str, str], clinic: Clinic) -> None:
    diabetes = post(client, staff, condition(clinic.patient_id))
    # served as received (the record keeps the ICD-10 code and the day; fhir/mappers/received.py keeps the rest)
    assert [c["code"] for c in diabetes["code"]["coding"]] == ["44054006", "E11"]
    assert diabetes["onsetDateTime"] == "2020-05-01T00:00:00+00:00"
    assert diabetes["clinicalStatus"]["coding"][0]["code"] == "active"
    bp = post(client, staff, condition(clinic.patient_id, code="I10", onset="2023-01-10", status="resolved"))
    got = client.get(f"/fhir/R4/Condition/{bp['id']}", headers=staff)
    assert got.status_code == 200 and got.json()["code"]["coding"][-1]["code"] == "I10"
    p = f"Condition?patient={clinic.patient_id}"
    assert set(search(client, staff, p)) == {diabetes["id"], bp["id"]}
    assert search(client, staff, f"{p}&code=http://hl7.org/fhir/sid/icd-10|I10") == [bp["id"]]
    assert search(client, staff, f"{p}&code=http://snomed.info/sct|I10") == []
    assert search(client, staff, f"{p}&clinical-status=active") == [diabetes["id"]]
    assert search(client, staff, f"{p}&onset-date=ge2021") == [bp["id"]]
    assert search(client, staff, f"{p}&onset-date=lt2023-01-10") == [diabetes["id"]]
    assert set(search(client, staff, f"{p}&onset-date=le2023-01-10")) == {diabetes["id"], bp["id"]}
    assert search(client, staff, f"{p}&onset-date=eq2020-05") == [diabetes["id"]]
    assert search(client, staff, f"{p}&onset-date=ne2020-05-01") == [bp["id"]]
    assert search(client, staff, f"{p}&category=problem-list-item&code=E11") == [diabetes["id"]]
    assert search(client, staff, f"Condition?subject=Patient/{clinic.patient_id}&code=I10") == [bp["id"]]


def test_snomed_only_is_code_invalid_and_strangers_are_refused(client: TestClient, staff: dict[str, str],
                                                               factory: Factory, clinic: Clinic) -> None:
    snomed = condition(clinic.patient_id)
    snomed["code"]["coding"] = snomed["code"]["coding"][:1]
    r = client.post("/fhir/R4/Condition", json=snomed, headers=staff)
    assert r.status_code == 422 and r.json()["issue"][0]["code"] == "code-invalid"
    made = post(client, staff, condition(clinic.patient_id))
    stranger = factory.headers(factory.user(Role.practitioner, organization_id=clinic.other_org))
    assert client.get(f"/fhir/R4/Condition/{made['id']}", headers=stranger).status_code == 403
    assert client.get(f"/fhir/R4/Condition?patient={clinic.patient_id}", headers=stranger).status_code == 403
    r = client.post("/fhir/R4/Condition", json=condition(clinic.patient_id), headers={**stranger,
                                                                                      "Content-Type": FHIR})
    assert r.status_code == 403
    assert client.get("/fhir/R4/Condition?code=E11", headers=staff).status_code == 400


def test_update_changes_status_and_refuses_a_new_code(client: TestClient, staff: dict[str, str],
                                                      clinic: Clinic) -> None:
    made = post(client, staff, condition(clinic.patient_id))
    version = client.get(f"/fhir/R4/Condition/{made['id']}", headers=staff).headers["etag"]
    changed = {**made, "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                                "condition-clinical", "code": "remission"}]},
               "abatementDateTime": "2026-01-02"}
    r = client.put(f"/fhir/R4/Condition/{made['id']}", json=changed, headers={**staff, "If-Match": version})
    assert r.status_code == 200, r.text
    assert r.json()["clinicalStatus"]["coding"][0]["code"] == "remission" and r.json()["abatementDateTime"] == "2026-01-02"
    assert search(client, staff, f"Condition?patient={clinic.patient_id}&clinical-status=remission") == [made["id"]]
    recoded = {**made, "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]}}
    r = client.put(f"/fhir/R4/Condition/{made['id']}", json=recoded,
                   headers={**staff, "If-Match": client.get(f"/fhir/R4/Condition/{made['id']}",
                                                            headers=staff).headers["etag"]})
    assert r.status_code == 422 and r.json()["issue"][0]["expression"] == ["Condition.code"]
    stale = client.put(f"/fhir/R4/Condition/{made['id']}", json=changed, headers={**staff, "If-Match": 'W/"1"'})
    assert stale.status_code == 412
