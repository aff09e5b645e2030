"""What the record cannot hold is not lost: elements beside a domain row come back as sent (until the row changes
elsewhere), and resources the record refuses, kept as JSON by import-fhir, are served by their type's read and
search with the type's parameters, after the domain's own matches; strangers are refused for both."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carebridge.fhir.cli import import_principal
from carebridge.fhir.importer import Importer
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.security import Role
from tests.factories import Clinic, Factory
from tests.fhir.mapper_helpers import FHIR, ids, post, search

SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
EXT = {"url": "http://example.org/fhir/StructureDefinition/source", "valueString": "referral letter"}


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


@pytest.fixture
def staff(factory: Factory, clinic: Clinic) -> dict[str, str]:
    return {**factory.headers(clinic.users[Role.practitioner]), "Content-Type": FHIR}


def condition(pid: uuid.UUID, codings: list[dict[str, str]], **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Condition",
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]},
            "code": {"coding": codings, "text": "Diabetes mellitus type 2"},
            "subject": {"reference": f"Patient/{pid}"}, "onsetDateTime": "2020-05-01", **extra}


def test_elements_the_record_has_no_place_for_come_back_until_the_row_changes(
        client: TestClient, factory: Factory, clinic: Clinic, staff: dict[str, str], clock: FixedClock) -> None:
    sent = condition(clinic.patient_id, [{"system": ICD10, "code": "E11"}, {"system": SNOMED, "code": "44054006"}],
                     extension=[EXT], note=[{"text": "from the referral"}],
                     evidence=[{"detail": [{"display": "HbA1c 8.1%"}]}])
    made = post(client, staff, sent)
    served = client.get(f"/fhir/R4/Condition/{made['id']}", headers=staff).json()
    assert {k: served[k] for k in sent} == sent  # as sent, beside what the record adds (category, recordedDate)
    assert search(client, staff, f"Condition?patient={clinic.patient_id}&code={ICD10}|E11") == [made["id"]]

    clock.advance(minutes=5)
    r = client.patch(f"/api/v1/patients/{clinic.patient_id}/conditions/{made['id']}", headers=staff,
                     json={"clinical_status": "resolved", "abatement_date": "2026-03-01"})
    assert r.status_code == 200, r.text
    after = client.get(f"/fhir/R4/Condition/{made['id']}", headers=staff).json()
    assert after["clinicalStatus"]["coding"][0]["code"] == "resolved"  # the record's change wins
    assert after["abatementDateTime"][:10] == "2026-03-01"
    assert after["extension"] == [EXT] and after["evidence"] == sent["evidence"]  # what it has no place for stays

    clock.advance(minutes=5)  # an update through the facade replaces the received body; the record wins over it
    other = {"url": "http://example.org/fhir/StructureDefinition/reviewed", "valueBoolean": True}
    put = {**after, "extension": [other], "onsetDateTime": "2020-06-01T00:00:00+00:00",
           "recordedDate": "2001-01-01T00:00:00Z"}
    version = after["meta"]["versionId"]
    r = client.put(f"/fhir/R4/Condition/{made['id']}", json=put, headers={**staff, "If-Match": f'W/"{version}"'})
    assert r.status_code == 200, r.text
    updated = client.get(f"/fhir/R4/Condition/{made['id']}", headers=staff).json()
    assert updated["extension"] == [other] and updated["onsetDateTime"][:10] == "2020-06-01"
    assert updated["recordedDate"] == after["recordedDate"] != put["recordedDate"]  # the record's, not the PUT's

    stranger = factory.headers(factory.user(Role.practitioner, organization_id=clinic.other_org))
    assert client.get(f"/fhir/R4/Condition/{made['id']}", headers=stranger).status_code == 403


def _import(tmp_path: Path, database: Database, clinic: Clinic, clock: FixedClock,
            resources: list[dict[str, Any]]) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": r} for r in resources]}
    (tmp_path / "kept.json").write_text(json.dumps(bundle))
    report = Importer(database, import_principal(database, clinic.org, clock.now()), clock).run([tmp_path])
    assert not report.rejected and report.kept_as_json == len(resources) - 1, report


def test_resources_the_record_refuses_are_served_once_import_keeps_them(
        client: TestClient, factory: Factory, clinic: Clinic, staff: dict[str, str], clock: FixedClock,
        database: Database, tmp_path: Path) -> None:
    pid = clinic.patient_id
    snomed = condition(pid, [{"system": SNOMED, "code": "195967001", "display": "Asthma"}])
    r = client.post("/fhir/R4/Condition", json=snomed, headers=staff)
    assert r.status_code == 422 and r.json()["issue"][0]["code"] == "code-invalid"  # the record cannot hold it
    domain = post(client, staff, condition(pid, [{"system": ICD10, "code": "E11"}]))
    order = {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
             "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                       "code": "197361"}], "text": "Amlodipine 5 mg"},
             "subject": {"reference": f"Patient/{pid}"}, "authoredOn": "2025-11-02"}
    audit = {"resourceType": "AuditEvent", "type": {"system": "http://dicom.nema.org/resources/ontology/DCM",
                                                    "code": "110110"},
             "recorded": "2025-11-02T10:00:00Z", "agent": [{"requestor": True, "who": {"display": "elsewhere"}}],
             "source": {"observer": {"display": "another system"}}}
    _import(tmp_path, database, clinic, clock, [snomed, order, audit, condition(pid, [{"system": ICD10,
                                                                                        "code": "I10"}])])

    p = f"Condition?patient={pid}"
    everyone = client.get(f"/fhir/R4/{p}&_count=50", headers=staff).json()
    kept = next(e["resource"] for e in everyone["entry"] if e["resource"]["code"]["coding"][0]["code"] == "195967001")
    assert {k: v for k, v in kept.items() if k not in ("id", "meta")} == snomed
    assert len(everyone["entry"]) == 3  # two in the problem list, one kept as JSON
    assert client.get(f"/fhir/R4/Condition/{kept['id']}", headers=staff).json()["code"] == snomed["code"]
    assert search(client, staff, f"{p}&code={SNOMED}|195967001") == [kept["id"]]
    assert search(client, staff, f"{p}&code=195967001&clinical-status=active") == [kept["id"]]
    assert search(client, staff, f"{p}&code={ICD10}|E11") == [domain["id"]]
    assert search(client, staff, f"{p}&onset-date=ge2021-01-01") == []
    assert search(client, staff, f"{p}&onset-date=2020-05-01&code=195967001") == [kept["id"]]

    seen: list[str] = []  # paging walks the record's matches, then the kept ones
    url: str | None = f"/fhir/R4/{p}&_count=1"
    while url:
        page = client.get(url.removeprefix("http://testserver"), headers=staff).json()
        seen += ids(page)
        url = next((link["url"] for link in page.get("link", []) if link["relation"] == "next"), None)
    assert len(seen) == 3 and seen[-1] == kept["id"] and len(set(seen)) == 3

    rx = search(client, staff, f"MedicationRequest?patient={pid}")
    assert len(rx) == 1
    assert search(client, staff, f"MedicationRequest?patient={pid}&authoredon=2025-11-02&status=active") == rx
    assert search(client, staff, f"MedicationRequest?patient={pid}&status=cancelled") == []
    assert client.get(f"/fhir/R4/MedicationRequest/{rx[0]}", headers=staff).json()["authoredOn"] == "2025-11-02"
    assert client.get("/fhir/R4/AuditEvent?date=2025-11-02", headers=staff).json().get("entry", []) == []

    stranger = factory.headers(factory.user(Role.practitioner, organization_id=clinic.other_org))
    assert client.get(f"/fhir/R4/Condition/{kept['id']}", headers=stranger).status_code == 403
    assert client.get(f"/fhir/R4/MedicationRequest/{rx[0]}", headers=stranger).status_code == 403


def test_a_patient_merge_moves_the_received_elements_too(client: TestClient, factory: Factory, clinic: Clinic,
                                                          staff: dict[str, str]) -> None:
    dup = factory.patient(organization_id=clinic.org, given="Meera", family="Iyer-Rao")
    sent = condition(dup, [{"system": ICD10, "code": "E11"}], extension=[EXT],
                     evidence=[{"detail": [{"reference": f"Patient/{dup}", "display": "self-reported"}]}])
    made = post(client, staff, sent)
    desk = factory.headers(clinic.users[Role.front_desk])
    r = client.post(f"/api/v1/patients/{dup}/merge", json={"into": str(clinic.patient_id)},
                    headers={**desk, "X-Purpose-Of-Use": "operations"})
    assert r.status_code == 200, r.text
    moved = client.get(f"/fhir/R4/Condition/{made['id']}", headers=staff).json()
    assert moved["subject"] == {"reference": f"Patient/{clinic.patient_id}"} and moved["extension"] == [EXT]
    assert moved["evidence"][0]["detail"][0]["reference"] == f"Patient/{clinic.patient_id}"
