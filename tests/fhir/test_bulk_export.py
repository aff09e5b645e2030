"""Bulk Data `$export`: kick-off → 202 + Content-Location, poll → 202 with X-Progress, then the manifest, NDJSON
files read through the mappers (policy, audit, scopes), `_type`/`_since`, Group = an organization, DELETE cancels."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from carebridge.contexts.audit.models import AuditEntry
from carebridge.fhir.bulk import ExportWorker
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.security import Role
from tests.factories import DEFAULT_PASSWORD, Clinic, Factory

FHIR = "application/fhir+json"
ASYNC = {"Prefer": "respond-async", "Accept": FHIR}


def _vital(patient_id: Any, value: float = 72) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "vital-signs"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": f"Patient/{patient_id}"}, "effectiveDateTime": "2026-03-01T08:00:00Z",
            "valueQuantity": {"value": value, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}}


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


@pytest.fixture
def doc(factory: Factory, clinic: Clinic) -> dict[str, str]:
    return {**factory.headers(clinic.users[Role.practitioner]), "Content-Type": FHIR}


def _export(client: TestClient, database: Database, clock: FixedClock, path: str, hdrs: dict[str, str]
            ) -> tuple[str, dict[str, Any]]:
    kick = client.get(path, headers={**hdrs, **ASYNC})
    assert kick.status_code == 202, kick.text
    status_url = kick.headers["Content-Location"]
    assert "/fhir/R4/$export-status/" in status_url
    status = status_url.split("/fhir/R4", 1)[1]
    waiting = client.get(f"/fhir/R4{status}", headers=hdrs)
    assert waiting.status_code == 202 and waiting.headers["X-Progress"]
    assert ExportWorker(database, clock).run_once() == 1
    done = client.get(f"/fhir/R4{status}", headers=hdrs)
    assert done.status_code == 200, done.text
    return status, done.json()


def _ndjson(client: TestClient, url: str, hdrs: dict[str, str]) -> list[dict[str, Any]]:
    r = client.get("/fhir/R4" + url.split("/fhir/R4", 1)[1], headers=hdrs)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+ndjson")
    return [json.loads(line) for line in r.text.splitlines() if line.strip()]


def test_patient_export_produces_ndjson_of_what_the_caller_may_see(
        client: TestClient, database: Database, clock: FixedClock, clinic: Clinic, doc: dict[str, str]) -> None:
    assert client.post("/fhir/R4/Observation", json=_vital(clinic.patient_id), headers=doc).status_code == 201
    _, manifest = _export(client, database, clock, "/fhir/R4/Patient/$export", doc)
    assert manifest["requiresAccessToken"] is True and manifest["request"].endswith("/Patient/$export")
    by_type = {o["type"]: o for o in manifest["output"]}
    assert {"Patient", "Observation"} <= set(by_type)
    patients = _ndjson(client, by_type["Patient"]["url"], doc)
    ids = {p["id"] for p in patients}
    assert str(clinic.patient_id) in ids and str(clinic.other_patient_id) not in ids  # another organization's
    assert by_type["Patient"]["count"] == len(patients)
    observations = _ndjson(client, by_type["Observation"]["url"], doc)
    assert [o["valueQuantity"]["value"] for o in observations] == [72]
    with database.unit_of_work() as s:
        reads = s.scalars(select(AuditEntry).where(AuditEntry.user_id == clinic.users[Role.practitioner].id,
                                                   AuditEntry.patient_id == clinic.patient_id)).all()
    assert reads  # every exported resource was read through its mapper, as the requester


def test_type_and_since_narrow_and_a_system_export_adds_the_types_about_no_patient(
        client: TestClient, database: Database, clock: FixedClock, clinic: Clinic, doc: dict[str, str]) -> None:
    client.post("/fhir/R4/Observation", json=_vital(clinic.patient_id), headers=doc)
    _, only = _export(client, database, clock, "/fhir/R4/$export?_type=Observation", doc)
    assert {o["type"] for o in only["output"]} == {"Observation"}
    _, later = _export(client, database, clock, "/fhir/R4/$export?_type=Observation&_since=2030-01-01T00:00:00Z",
                       doc)
    assert later["output"] == []
    _, system = _export(client, database, clock, "/fhir/R4/$export", doc)
    assert {"Organization", "Patient"} <= {o["type"] for o in system["output"]}


def test_group_is_the_callers_organization(client: TestClient, database: Database, clock: FixedClock,
                                           clinic: Clinic, doc: dict[str, str]) -> None:
    _, manifest = _export(client, database, clock, f"/fhir/R4/Group/{clinic.org}/$export?_type=Patient", doc)
    assert [o["type"] for o in manifest["output"]] == ["Patient"]
    other = client.get(f"/fhir/R4/Group/{clinic.other_org}/$export", headers={**doc, **ASYNC})
    assert other.status_code == 403 and other.json()["resourceType"] == "OperationOutcome"
    assert client.get("/fhir/R4/Group/not-an-id/$export", headers={**doc, **ASYNC}).status_code == 404


def test_kickoff_errors(client: TestClient, doc: dict[str, str]) -> None:
    assert client.get("/fhir/R4/$export").status_code == 401
    assert client.get("/fhir/R4/$export", headers=doc).status_code == 400  # no Prefer: respond-async
    assert client.get("/fhir/R4/$export?_type=Spaceship", headers={**doc, **ASYNC}).status_code == 400
    assert client.get("/fhir/R4/$export?_since=yesterday", headers={**doc, **ASYNC}).status_code == 400
    assert client.get("/fhir/R4/$export?_outputFormat=text/csv", headers={**doc, **ASYNC}).status_code == 400
    assert client.get("/fhir/R4/$export?_elements=id", headers={**doc, **ASYNC}).status_code == 400


def test_delete_cancels_and_only_the_requester_sees_the_job(
        client: TestClient, database: Database, clock: FixedClock, clinic: Clinic, doc: dict[str, str],
        factory: Factory) -> None:
    kick = client.get("/fhir/R4/Patient/$export", headers={**doc, **ASYNC})
    status = "/fhir/R4" + kick.headers["Content-Location"].split("/fhir/R4", 1)[1]
    nurse = factory.headers(clinic.users[Role.nurse])
    assert client.get(status, headers=nurse).status_code == 404
    assert client.delete(status, headers=nurse).status_code == 404
    assert client.delete(status, headers=doc).status_code == 202
    assert client.get(status, headers=doc).status_code == 404
    assert ExportWorker(database, clock).run_once() == 0


def test_files_are_the_requesters_and_expire(client: TestClient, database: Database, clock: FixedClock,
                                             clinic: Clinic, doc: dict[str, str], factory: Factory) -> None:
    status, manifest = _export(client, database, clock, "/fhir/R4/Patient/$export?_type=Patient", doc)
    url = "/fhir/R4" + manifest["output"][0]["url"].split("/fhir/R4", 1)[1]
    assert client.get(url, headers=factory.headers(clinic.users[Role.nurse])).status_code == 404
    assert client.get("/fhir/R4/$export-file/nope", headers=doc).status_code == 404
    clock.advance(days=2)
    ExportWorker(database, clock).run_once()
    fresh = factory.headers(clinic.users[Role.practitioner])  # the first token expired meanwhile
    assert client.get(f"/fhir/R4{status}", headers=fresh).status_code == 404


def test_a_scoped_token_exports_only_its_types(client: TestClient, database: Database, clock: FixedClock,
                                               clinic: Clinic, doc: dict[str, str]) -> None:
    client.post("/fhir/R4/Observation", json=_vital(clinic.patient_id), headers=doc)
    token = client.post("/api/v1/auth/token", data={
        "grant_type": "password", "username": clinic.users[Role.practitioner].username,
        "password": DEFAULT_PASSWORD, "scope": "user/Patient.read"}).json()
    hdrs = {"Authorization": f"Bearer {token['access_token']}"}
    _, manifest = _export(client, database, clock, "/fhir/R4/Patient/$export", hdrs)
    assert {o["type"] for o in manifest["output"]} == {"Patient"}
    assert manifest["error"]  # the types the scopes leave out are reported, not silently dropped
    errors = _ndjson(client, manifest["error"][0]["url"], hdrs)
    assert errors[0]["resourceType"] == "OperationOutcome"


def test_the_capability_statement_lists_the_export_operations(client: TestClient) -> None:
    rest = client.get("/fhir/R4/metadata").json()["rest"][0]
    assert {"export", "patient-export", "group-export"} <= {o["name"] for o in rest["operation"]}
