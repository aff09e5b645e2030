"""MedicationRequest and MedicationDispense over FHIR: each prescribed medicine is a request grouped by its
prescription; dispensings follow; searched by patient, status, code words and dates; strangers refused."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from carebridge.security import Role
from tests.factories import Clinic, Factory
from tests.fhir.mapper_helpers import FHIR, search


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


def _item(name: str, dose: float = 500, times: int = 2, days: int = 5) -> dict[str, Any]:
    return {"medication": name, "dose": dose, "unit": "mg", "route": "oral", "times_per_day": times,
            "duration_days": days}


def test_requests_and_dispenses(client: TestClient, factory: Factory, clinic: Clinic) -> None:
    doc = factory.headers(clinic.users[Role.practitioner])
    rx = client.post("/api/v1/prescriptions", headers=doc, json={
        "patient_id": str(clinic.patient_id), "items": [_item("paracetamol"), _item("amoxicillin", 250, 3)]}).json()
    assert client.post(f"/api/v1/prescriptions/{rx['id']}/sign", headers=doc).status_code == 200, rx
    draft = client.post("/api/v1/prescriptions", headers=doc, json={
        "patient_id": str(clinic.patient_id), "items": [_item("cetirizine", 10, 1)]}).json()
    para, amox = rx["items"][0]["id"], rx["items"][1]["id"]
    got = client.get(f"/fhir/R4/MedicationRequest/{amox}", headers=doc)
    assert got.status_code == 200
    body = got.json()
    assert body["status"] == "active" and body["intent"] == "order"
    assert body["groupIdentifier"]["value"] == rx["id"]
    assert body["dosageInstruction"][0]["timing"]["repeat"]["frequency"] == 3
    assert body["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"] == {"value": 250.0, "unit": "mg"}
    p = f"MedicationRequest?patient={clinic.patient_id}"
    assert set(search(client, doc, p)) == {para, amox, draft["items"][0]["id"]}
    assert set(search(client, doc, f"{p}&status=active")) == {para, amox}
    assert search(client, doc, f"{p}&status=draft") == [draft["items"][0]["id"]]
    assert search(client, doc, f"{p}&code=amoxi") == [amox]
    assert set(search(client, doc, f"{p}&authoredon=2026-03-10")) == {para, amox, draft["items"][0]["id"]}
    assert search(client, doc, f"{p}&authoredon=lt2026-03-10") == []

    pharm = factory.headers(clinic.users[Role.pharmacist])
    r = client.post(f"/api/v1/prescriptions/{rx['id']}/dispense", headers=pharm,
                    json={"lines": [{"item_id": para, "quantity": 4}]})
    assert r.status_code == 201, r.text
    handed = search(client, doc, f"MedicationDispense?patient={clinic.patient_id}")
    assert len(handed) == 1
    one = client.get(f"/fhir/R4/MedicationDispense/{handed[0]}", headers=doc).json()
    assert one["authorizingPrescription"] == [{"reference": f"MedicationRequest/{para}"}]
    assert one["quantity"]["value"] == 4 and one["medicationCodeableConcept"]["text"] == "paracetamol"
    assert search(client, doc, f"MedicationDispense?patient={clinic.patient_id}&prescription={amox}") == []
    assert search(client, doc, f"MedicationDispense?patient={clinic.patient_id}&whenhandedover=ge2026-03-11") == []

    stranger = factory.headers(factory.user(Role.practitioner, organization_id=clinic.other_org))
    assert client.get(f"/fhir/R4/MedicationRequest/{amox}", headers=stranger).status_code == 403
    assert client.get(f"/fhir/R4/{p}", headers=stranger).status_code == 403
    assert client.get(f"/fhir/R4/MedicationDispense/{handed[0]}", headers=stranger).status_code == 403
    r = client.post("/fhir/R4/MedicationRequest", json={"resourceType": "MedicationRequest"},
                    headers={**doc, "Content-Type": FHIR})
    assert r.status_code in (404, 405)
