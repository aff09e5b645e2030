"""Observation over FHIR: record entries and device readings as one type, searched per patient by code (token
system|code), category, status, date with prefixes and value-quantity; created from a Synthea-like resource;
refused to a stranger."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carebridge.security import Role
from tests.factories import Clinic, Factory

FHIR = "application/fhir+json"
BASE = "/fhir/R4/Observation"


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


@pytest.fixture
def staff(factory: Factory, clinic: Clinic) -> dict[str, str]:
    return {**factory.headers(clinic.users[Role.practitioner]), "Content-Type": FHIR}


def synthea_obs(patient_id: uuid.UUID, code: str = "2339-0", value: float = 95.0, unit: str = "mg/dL",
                at: str = "2026-03-01T08:00:00+00:00", **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "laboratory"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": "Glucose"}], "text": "Glucose"},
            "subject": {"reference": f"Patient/{patient_id}"}, "effectiveDateTime": at, "issued": at,
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
            "meta": {"tag": [{"system": "https://smarthealthit.org/tags", "code": "synthea-5-2019"}]}, **extra}


def ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def create(client: TestClient, staff: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(BASE, json=body, headers=staff)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def device_readings(client: TestClient, factory: Factory, clinic: Clinic) -> str:
    nurse = factory.headers(clinic.users[Role.nurse])
    dev = client.post(f"/api/v1/patients/{clinic.patient_id}/devices", headers=nurse,
                      json={"type": "patch", "serial": "P-1"}).json()
    report = client.post("/api/v1/vitals", headers={"X-Device-Key": dev["credential"]}, json={"readings": [
        {"type": "heart_rate", "value": 88, "at": "2026-03-10T09:00:00Z"},
        {"type": "spo2", "value": 97, "at": "2026-03-10T09:00:00Z"},
        {"type": "heart_rate", "value": 120, "at": "2026-03-10T09:10:00Z"}]}).json()
    assert report["stored"] == 3
    return str(dev["id"])


def test_create_from_synthea_then_read(client: TestClient, staff: dict[str, str], clinic: Clinic) -> None:
    made = create(client, staff, synthea_obs(clinic.patient_id, value=180.0))
    assert made["code"]["coding"][0] == {"system": "http://loinc.org", "code": "2339-0",
                                         "display": made["code"]["coding"][0]["display"]}
    assert made["valueQuantity"] == {"value": 180.0, "unit": "mg/dL", "system": "http://unitsofmeasure.org",
                                     "code": "mg/dL"}
    assert made["subject"] == {"reference": f"Patient/{clinic.patient_id}"}
    assert made["interpretation"][0]["coding"][0]["code"] in ("H", "HH")
    r = client.get(f"{BASE}/{made['id']}", headers=staff)
    assert r.status_code == 200 and r.json()["id"] == made["id"] and r.headers["etag"].startswith('W/"')


def test_unknown_code_or_missing_subject_is_a_422_the_importer_can_route(client: TestClient, staff: dict[str, str],
                                                                         clinic: Clinic) -> None:
    r = client.post(BASE, json=synthea_obs(clinic.patient_id, code="55284-4"), headers=staff)
    assert r.status_code == 422 and r.json()["issue"][0]["code"] == "code-invalid"
    snomed = synthea_obs(clinic.patient_id)
    snomed["code"] = {"coding": [{"system": "http://snomed.info/sct", "code": "123"}]}
    assert client.post(BASE, json=snomed, headers=staff).json()["issue"][0]["code"] == "code-invalid"
    orphan = synthea_obs(clinic.patient_id)
    orphan["subject"] = {"reference": "urn:uuid:beaf00da-c197-4e72-8b27-7ee1131348f1"}
    r = client.post(BASE, json=orphan, headers=staff)
    assert r.status_code == 422 and r.json()["issue"][0]["expression"] == ["Observation.subject"]


def test_search_code_token_category_date_prefixes_and_value(client: TestClient, staff: dict[str, str],
                                                            factory: Factory, clinic: Clinic) -> None:
    early = create(client, staff, synthea_obs(clinic.patient_id, at="2026-01-05T10:00:00Z", value=80.0))
    late = create(client, staff, synthea_obs(clinic.patient_id, at="2026-03-01T10:00:00Z", value=120.0))
    hb = create(client, staff, synthea_obs(clinic.patient_id, code="718-7", unit="g/dL", value=13.5,
                                           at="2026-02-01T10:00:00Z"))
    device_readings(client, factory, clinic)
    p = f"patient=Patient/{clinic.patient_id}"

    def q(extra: str) -> list[str]:
        r = client.get(f"{BASE}?{p}&{extra}&_count=50", headers=staff)
        assert r.status_code == 200, r.text
        return ids(r.json())

    assert set(q("code=2339-0")) == {early["id"], late["id"]}
    assert set(q("code=http://loinc.org|2339-0")) == {early["id"], late["id"]}
    assert q("code=http://snomed.info/sct|2339-0") == []
    assert q("code=|2339-0") == []
    assert set(q("date=ge2026-02-01")) >= {late["id"], hb["id"]} and early["id"] not in q("date=ge2026-02-01")
    assert q("code=2339-0&date=lt2026-02") == [early["id"]]
    assert q("code=2339-0&date=gt2026-01-05") == [late["id"]]
    assert q("code=2339-0&date=le2026-01-05") == [early["id"]]
    assert q("code=2339-0&date=eq2026-03") == [late["id"]]
    assert q("code=2339-0&date=ne2026-03-01") == [early["id"]]
    assert q("date=2026-02-01T10:00:00Z") == [hb["id"]]
    assert q("code=2339-0&value-quantity=gt100") == [late["id"]]
    assert q("value-quantity=13.5|http://unitsofmeasure.org|g/dL") == [hb["id"]]
    vitals = client.get(f"{BASE}?{p}&category=vital-signs", headers=staff).json()
    assert len(vitals["entry"]) == 3
    assert {e["resource"]["code"]["coding"][0]["code"] for e in vitals["entry"]} == {"8867-4", "59408-5"}
    heart = q("code=http://loinc.org|8867-4&date=ge2026-03-10T09:05:00Z")
    assert len(heart) == 1
    one = client.get(f"{BASE}/{heart[0]}", headers=staff).json()
    assert one["valueQuantity"]["value"] == 120 and one["valueQuantity"]["code"] == "/min"
    assert one["category"][0]["coding"][0]["code"] == "vital-signs"
    assert q("category=laboratory&code=8867-4") == []
    assert set(q("status=final")) >= {early["id"], late["id"], hb["id"], heart[0]}
    assert q("status=preliminary") == []


def test_paging_walks_record_then_readings_without_repeats(client: TestClient, staff: dict[str, str],
                                                           factory: Factory, clinic: Clinic) -> None:
    for day in range(1, 4):
        create(client, staff, synthea_obs(clinic.patient_id, at=f"2026-02-0{day}T10:00:00Z"))
    device_readings(client, factory, clinic)
    url = f"{BASE}?patient={clinic.patient_id}&_count=2"
    seen: list[str] = []
    while url:
        page = client.get(url, headers=staff).json()
        seen += ids(page)
        nxt = [link["url"] for link in page["link"] if link["relation"] == "next"]
        url = nxt[0].split("/fhir/R4", 1)[-1] if nxt else ""
        url = f"/fhir/R4{url}" if url else ""
    assert len(seen) == 6 and len(set(seen)) == 6


def test_search_needs_a_patient_and_strangers_are_refused(client: TestClient, staff: dict[str, str],
                                                          factory: Factory, clinic: Clinic) -> None:
    made = create(client, staff, synthea_obs(clinic.patient_id))
    assert client.get(f"{BASE}?code=2339-0", headers=staff).status_code == 400
    other_org = factory.headers(factory.user(Role.practitioner, organization_id=clinic.other_org))
    assert client.get(f"{BASE}/{made['id']}", headers=other_org).status_code == 403
    assert client.get(f"{BASE}?patient={clinic.patient_id}", headers=other_org).status_code == 403
    other_patient = factory.headers(factory.user(Role.patient, patient_id=clinic.other_patient_id))
    assert client.get(f"{BASE}/{made['id']}", headers=other_patient).status_code == 403
    own = factory.headers(clinic.users[Role.patient])
    assert client.get(f"{BASE}/{made['id']}", headers=own).status_code == 200
