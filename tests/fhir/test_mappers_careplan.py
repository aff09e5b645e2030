"""CarePlan over FHIR: a Synthea-like plan with activities and contained goals is kept, read, searched by
patient, status, intent and date prefixes; strangers refused."""

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


def plan(pid: uuid.UUID, start: str = "2016-07-16T23:33:57+00:00", status: str = "active") -> dict[str, Any]:
    return {"resourceType": "CarePlan", "status": status, "intent": "order",
            "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "698360004"}],
                          "text": "Diabetes self management plan"}],
            "subject": {"reference": f"Patient/{pid}"}, "period": {"start": start},
            "contained": [{"resourceType": "Goal", "id": "g1", "lifecycleStatus": "active",
                           "description": {"text": "HbA1c below 7%"}, "subject": {"reference": f"Patient/{pid}"}}],
            "goal": [{"reference": "#g1"}],
            "activity": [{"detail": {"code": {"text": "Diabetic diet"}, "status": "in-progress"}},
                         {"detail": {"code": {"text": "Exercise therapy"}, "status": "stopped"}}]}


def test_create_read_search(client: TestClient, staff: dict[str, str], clinic: Clinic) -> None:
    old = post(client, staff, plan(clinic.patient_id))
    assert old["title"] == "Diabetes self management plan" and old["period"] == {"start": "2016-07-16T23:33:57+00:00"}
    assert old["activity"][0]["detail"]["code"] == {"text": "Diabetic diet"}  # kept as received
    assert [{k: a["detail"][k] for k in ("status", "description")} for a in old["activity"]] == [
        {"status": "in-progress", "description": "Diabetic diet"},
        {"status": "stopped", "description": "Exercise therapy"}]  # as received (the record holds cancelled)
    assert old["contained"][0]["description"] == {"text": "HbA1c below 7%"} and old["goal"] == [{"reference": f"#{old['contained'][0]['id']}"}]
    new = post(client, staff, plan(clinic.patient_id, "2026-01-01", "completed"))
    assert client.get(f"/fhir/R4/CarePlan/{new['id']}", headers=staff).json()["status"] == "completed"
    p = f"CarePlan?patient={clinic.patient_id}"
    assert set(search(client, staff, p)) == {old["id"], new["id"]}
    assert search(client, staff, f"{p}&status=active") == [old["id"]]
    assert set(search(client, staff, f"{p}&intent=order")) == {old["id"], new["id"]}
    assert search(client, staff, f"{p}&intent=proposal") == []
    assert search(client, staff, f"{p}&date=ge2020") == [new["id"]]
    assert search(client, staff, f"{p}&date=lt2020") == [old["id"]]
    assert search(client, staff, f"{p}&date=ne2026-01-01") == [old["id"]]


def test_strangers_are_refused(client: TestClient, staff: dict[str, str], factory: Factory, clinic: Clinic) -> None:
    made = post(client, staff, plan(clinic.patient_id))
    stranger = factory.headers(factory.user(Role.patient, patient_id=clinic.other_patient_id))
    assert client.get(f"/fhir/R4/CarePlan/{made['id']}", headers=stranger).status_code == 403
    assert client.get(f"/fhir/R4/CarePlan?patient={clinic.patient_id}", headers=stranger).status_code == 403
