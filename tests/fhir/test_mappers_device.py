"""Device over FHIR: a registered monitoring device read and searched by patient, type token and status;
revoked devices are inactive; strangers refused; no create over FHIR."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from carebridge.security import Role
from tests.factories import Clinic, Factory
from tests.fhir.mapper_helpers import FHIR, search


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


def test_read_search_and_refusal(client: TestClient, factory: Factory, clinic: Clinic) -> None:
    nurse = factory.headers(clinic.users[Role.nurse])
    patch = client.post(f"/api/v1/patients/{clinic.patient_id}/devices", headers=nurse,
                        json={"type": "patch", "serial": "P-9", "label": "Chest patch"}).json()
    oxi = client.post(f"/api/v1/patients/{clinic.patient_id}/devices", headers=nurse,
                      json={"type": "pulse_oximeter", "serial": "OX-1"}).json()
    assert client.delete(f"/api/v1/devices/{oxi['id']}", headers=nurse).status_code == 200
    got = client.get(f"/fhir/R4/Device/{patch['id']}", headers=nurse)
    assert got.status_code == 200
    body = got.json()
    assert body["serialNumber"] == "P-9" and body["status"] == "active"
    assert body["patient"] == {"reference": f"Patient/{clinic.patient_id}"} and "credential" not in got.text
    p = f"Device?patient={clinic.patient_id}"
    assert set(search(client, nurse, p)) == {patch["id"], oxi["id"]}
    assert search(client, nurse, f"{p}&type=urn:carebridge:device-type|pulse_oximeter") == [oxi["id"]]
    assert search(client, nurse, f"{p}&status=inactive") == [oxi["id"]]
    assert search(client, nurse, f"{p}&type=http://snomed.info/sct|patch") == []
    stranger = factory.headers(factory.user(Role.nurse, organization_id=clinic.other_org))
    assert client.get(f"/fhir/R4/Device/{patch['id']}", headers=stranger).status_code == 403
    assert client.get(f"/fhir/R4/{p}", headers=stranger).status_code == 403
    r = client.post("/fhir/R4/Device", json={"resourceType": "Device"}, headers={**nurse, "Content-Type": FHIR})
    assert r.status_code in (404, 405)
