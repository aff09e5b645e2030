"""Immunization over FHIR: national-schedule vaccines created, read, searched by patient, vaccine-code token,
status and date prefixes; CVX-coded (Synthea) resources answered code-invalid; strangers refused."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carebridge.security import Role
from tests.factories import Clinic, Factory
from tests.fhir.mapper_helpers import FHIR, post, search

UIP = "urn:carebridge:in-uip-vaccine"


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


@pytest.fixture
def staff(factory: Factory, clinic: Clinic) -> dict[str, str]:
    return {**factory.headers(clinic.users[Role.practitioner]), "Content-Type": FHIR}


def shot(pid: uuid.UUID, code: str = "BCG", when: str = "2025-01-15T10:00:00+00:00",
         system: str = UIP) -> dict[str, Any]:
    return {"resourceType": "Immunization", "status": "completed",
            "vaccineCode": {"coding": [{"system": system, "code": code}]},
            "patient": {"reference": f"Patient/{pid}"}, "occurrenceDateTime": when, "primarySource": True,
            "lotNumber": "L-42"}


def test_create_read_search(client: TestClient, staff: dict[str, str], clinic: Clinic) -> None:
    bcg = post(client, staff, shot(clinic.patient_id))
    assert bcg["occurrenceDateTime"] == "2025-01-15T10:00:00+00:00" and bcg["lotNumber"] == "L-42"  # as received
    assert bcg["vaccineCode"]["coding"][0]["system"] == UIP
    hepb = post(client, staff, shot(clinic.patient_id, "HEPB0", "2026-02-01"))
    assert client.get(f"/fhir/R4/Immunization/{hepb['id']}", headers=staff).json()["status"] == "completed"
    p = f"Immunization?patient={clinic.patient_id}"
    assert set(search(client, staff, p)) == {bcg["id"], hepb["id"]}
    assert search(client, staff, f"{p}&vaccine-code={UIP}|BCG") == [bcg["id"]]
    assert search(client, staff, f"{p}&vaccine-code=http://hl7.org/fhir/sid/cvx|BCG") == []
    assert search(client, staff, f"{p}&date=ge2026-01-01") == [hepb["id"]]
    assert search(client, staff, f"{p}&date=lt2026-02-01") == [bcg["id"]]
    assert search(client, staff, f"{p}&date=eq2025") == [bcg["id"]]
    assert search(client, staff, f"{p}&date=ne2025-01-15") == [hepb["id"]]
    assert search(client, staff, f"{p}&status=not-done") == []


def test_cvx_is_code_invalid_future_is_422_and_strangers_are_refused(client: TestClient, staff: dict[str, str],
                                                                     factory: Factory, clinic: Clinic) -> None:
    r = client.post("/fhir/R4/Immunization", json=shot(clinic.patient_id, "140", system="http://hl7.org/fhir/sid/cvx"),
                    headers=staff)
    assert r.status_code == 422 and r.json()["issue"][0]["code"] == "code-invalid"
    assert client.post("/fhir/R4/Immunization", json=shot(clinic.patient_id, when="2027-01-01"),
                       headers=staff).status_code == 422
    made = post(client, staff, shot(clinic.patient_id))
    stranger = factory.headers(factory.user(Role.nurse, organization_id=clinic.other_org))
    assert client.get(f"/fhir/R4/Immunization/{made['id']}", headers=stranger).status_code == 403
    assert client.get(f"/fhir/R4/Immunization?patient={clinic.patient_id}", headers=stranger).status_code == 403
