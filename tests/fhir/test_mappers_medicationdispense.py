"""MedicationDispense over FHIR: each handing-over of a prescribed medicine, read and searched by patient or
subject, status, code words, prescription and whenhandedover prefixes, with `_include` of the prescription;
read-only; strangers refused."""

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


def _item(name: str) -> dict[str, Any]:
    return {"medication": name, "dose": 500, "unit": "mg", "route": "oral", "times_per_day": 2, "duration_days": 5}


def test_dispenses(client: TestClient, factory: Factory, clinic: Clinic) -> None:
    doc = factory.headers(clinic.users[Role.practitioner])
    rx = client.post("/api/v1/prescriptions", headers=doc, json={
        "patient_id": str(clinic.patient_id), "items": [_item("paracetamol"), _item("metformin")]}).json()
    assert client.post(f"/api/v1/prescriptions/{rx['id']}/sign", headers=doc).status_code == 200
    para, met = rx["items"][0]["id"], rx["items"][1]["id"]
    pharm = factory.headers(clinic.users[Role.pharmacist])
    r = client.post(f"/api/v1/prescriptions/{rx['id']}/dispense", headers=pharm,
                    json={"lines": [{"item_id": para, "quantity": 10}, {"item_id": met, "quantity": 6}]})
    assert r.status_code == 201, r.text

    p = f"MedicationDispense?patient=Patient/{clinic.patient_id}"
    both = search(client, doc, p)
    assert len(both) == 2
    assert set(search(client, doc, f"MedicationDispense?subject={clinic.patient_id}")) == set(both)
    one = search(client, doc, f"{p}&code=metf")
    assert len(one) == 1
    body = client.get(f"/fhir/R4/MedicationDispense/{one[0]}", headers=doc).json()
    assert body["status"] == "completed" and body["quantity"]["value"] == 6
    assert body["authorizingPrescription"] == [{"reference": f"MedicationRequest/{met}"}]
    assert body["subject"] == {"reference": f"Patient/{clinic.patient_id}"}
    assert search(client, doc, f"{p}&prescription=MedicationRequest/{met}") == one
    assert len(search(client, doc, f"{p}&status=completed")) == 2
    assert search(client, doc, f"{p}&status=in-progress") == []
    assert len(search(client, doc, f"{p}&whenhandedover=2026-03-10")) == 2
    assert search(client, doc, f"{p}&whenhandedover=gt2026-03-10") == []
    assert search(client, doc, f"{p}&whenhandedover=ne2026-03-10") == []

    bundle = client.get(f"/fhir/R4/{p}&code=metf&_include=MedicationDispense:prescription", headers=doc).json()
    included = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "include"]
    assert [(x["resourceType"], x["id"]) for x in included] == [("MedicationRequest", met)]

    stranger = factory.headers(factory.user(Role.practitioner, organization_id=clinic.other_org))
    assert client.get(f"/fhir/R4/MedicationDispense/{one[0]}", headers=stranger).status_code == 403
    assert client.get(f"/fhir/R4/{p}", headers=stranger).status_code == 403
    assert client.get("/fhir/R4/MedicationDispense?status=completed", headers=doc).status_code == 400
    assert client.post("/fhir/R4/MedicationDispense", json={"resourceType": "MedicationDispense"},
                       headers={**doc, "Content-Type": FHIR}).status_code == 405
