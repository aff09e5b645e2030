"""Provenance over FHIR: a signed prescription's signature (read-only, id = the prescription's; targets its
MedicationRequests; the prescriber as agent), searched by patient, target, recorded and agent; a draft has none;
Provenances from elsewhere are kept as JSON beside them and cannot take a signature's id; strangers refused."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from carebridge.security import Role
from tests.factories import Clinic, Factory
from tests.fhir.mapper_helpers import FHIR, post, search


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


def _rx(client: TestClient, headers: dict[str, str], clinic: Clinic, *names: str) -> dict[str, Any]:
    items = [{"medication": n, "dose": 500, "unit": "mg", "route": "oral", "times_per_day": 2, "duration_days": 5}
             for n in names]
    r = client.post("/api/v1/prescriptions", headers=headers,
                    json={"patient_id": str(clinic.patient_id), "items": items})
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def test_signatures_of_prescriptions(client: TestClient, factory: Factory, clinic: Clinic) -> None:
    prescriber = clinic.users[Role.practitioner]
    doc = factory.headers(prescriber)
    rx = _rx(client, doc, clinic, "paracetamol", "amoxicillin")
    assert client.post(f"/api/v1/prescriptions/{rx['id']}/sign", headers=doc).status_code == 200
    draft = _rx(client, doc, clinic, "cetirizine")

    body = client.get(f"/fhir/R4/Provenance/{rx['id']}", headers=doc).json()
    assert body["target"] == [{"reference": f"MedicationRequest/{i['id']}"} for i in rx["items"]]
    assert body["recorded"] == "2026-03-10T09:30:00Z" and body["signature"][0]["when"] == body["recorded"]
    assert body["agent"][0]["who"]["identifier"] == {"system": "urn:carebridge:user", "value": str(prescriber.id)}
    assert body["signature"][0]["type"][0]["code"] == "1.2.840.10065.1.12.1.1"
    assert client.get(f"/fhir/R4/Provenance/{draft['id']}", headers=doc).status_code == 404

    p = f"Provenance?patient=Patient/{clinic.patient_id}"
    assert search(client, doc, p) == [rx["id"]]
    amox = rx["items"][1]["id"]
    assert search(client, doc, f"Provenance?target=MedicationRequest/{amox}") == [rx["id"]]
    assert search(client, doc, f"Provenance?target=MedicationRequest/{draft['items'][0]['id']}") == []
    assert search(client, doc, f"{p}&recorded=ge2026-03-10") == [rx["id"]]
    assert search(client, doc, f"{p}&recorded=lt2026-03-10") == []
    assert search(client, doc, f"{p}&agent=urn:carebridge:user|{prescriber.id}") == [rx["id"]]
    assert search(client, doc, f"{p}&agent={clinic.users[Role.nurse].id}") == []

    hdrs = {**doc, "Content-Type": FHIR}
    assert client.put(f"/fhir/R4/Provenance/{rx['id']}", json={**body, "recorded": "2020-01-01T00:00:00Z"},
                      headers=hdrs).status_code == 405
    assert client.delete(f"/fhir/R4/Provenance/{rx['id']}", headers=doc).status_code == 405
    elsewhere = {"resourceType": "Provenance", "target": [{"reference": "Procedure/example"}],
                 "recorded": "2025-12-01T08:00:00Z", "agent": [{"who": {"reference": "Practitioner/xcda-author"}}]}
    kept = post(client, hdrs, elsewhere)
    assert {k: v for k, v in client.get(f"/fhir/R4/Provenance/{kept['id']}", headers=doc).json().items()
            if k not in ("id", "meta")} == elsewhere
    assert search(client, doc, "Provenance?target=Procedure/example") == [kept["id"]]
    assert search(client, doc, "Provenance?agent=Practitioner/xcda-author&recorded=2025-12") == [kept["id"]]
    assert search(client, doc, p) == [rx["id"]]  # a kept Provenance is about no patient here

    stranger = factory.headers(factory.user(Role.practitioner, organization_id=clinic.other_org))
    assert client.get(f"/fhir/R4/Provenance/{rx['id']}", headers=stranger).status_code == 403
    assert client.get(f"/fhir/R4/{p}", headers=stranger).status_code == 403
