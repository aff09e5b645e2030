"""DocumentReference over FHIR: a document created with its bytes inline is stored by the documents context
(hashed, signed, encrypted) and served with a link to its content, never the bytes; the link serves the content
to those with access only; search by patient, type and date; bad input answered with an OperationOutcome;
content by url only refused as code-invalid (so the importer keeps it as JSON, which is then served here)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from carebridge.contexts import documents
from carebridge.contexts.audit.models import AuditEntry
from carebridge.contexts.documents.models import Document
from carebridge.fhir.cli import import_principal
from carebridge.fhir.importer import Importer
from carebridge.fhir.mappers.document_reference import SHA256_URL
from carebridge.fhir.models import FhirGenericResource, FhirReceivedResource
from carebridge.kernel.db import Database
from carebridge.security import Role
from tests.factories import Clinic, Factory
from tests.fhir.mapper_helpers import FHIR, search
from tests.integration.documents.helpers import PDF, PNG

LOINC = "http://loinc.org"


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


def doc(patient: object, content: bytes = PDF, content_type: str | None = "application/pdf",
        code: tuple[str, str] = (LOINC, "11502-2"), **attachment: Any) -> dict[str, Any]:
    att: dict[str, Any] = {"data": base64.encodebytes(content).decode(), "title": "HbA1c March", **attachment}
    if content_type is not None:
        att["contentType"] = content_type
    return {"resourceType": "DocumentReference", "status": "current",
            "type": {"coding": [{"system": code[0], "code": code[1]}]},
            "subject": {"reference": f"Patient/{patient}"}, "description": "HbA1c report",
            "content": [{"attachment": att}]}


def post(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> Any:
    return client.post("/fhir/R4/DocumentReference", content=json.dumps(body),
                       headers={**headers, "Content-Type": FHIR})


def test_create_read_and_content_link(client: TestClient, factory: Factory, clinic: Clinic,
                                      database: Database) -> None:
    nurse = factory.headers(clinic.users[Role.nurse])
    r = post(client, nurse, doc(clinic.patient_id))
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    got = client.get(f"/fhir/R4/DocumentReference/{rid}", headers=nurse)
    assert got.status_code == 200
    body = got.json()
    att = body["content"][0]["attachment"]
    assert "data" not in att and base64.b64encode(PDF).decode() not in got.text
    link = f"/api/v1/patients/{clinic.patient_id}/documents/{rid}/content"
    assert att["url"] == link and att["size"] == len(PDF) and att["contentType"] == "application/pdf"
    assert att["extension"] == [{"url": SHA256_URL, "valueString": hashlib.sha256(PDF).hexdigest()}]
    assert att["title"] == "HbA1c March" and body["description"] == "HbA1c report"
    assert body["status"] == "current" and body["subject"] == {"reference": f"Patient/{clinic.patient_id}"}
    assert body["type"]["coding"][0] == {"system": LOINC, "code": "11502-2"}  # as sent
    assert "hash" not in att  # R4's hash is SHA-1, which the record does not keep
    history = client.get(f"/fhir/R4/DocumentReference/{rid}/_history", headers=nurse)
    assert history.status_code == 200 and '"data"' not in history.text and link in history.text
    # the REST API sees the same document; the content link serves it to the patient, not to a stranger
    meta = client.get(f"/api/v1/patients/{clinic.patient_id}/documents/{rid}", headers=nurse).json()
    assert meta["sha256"] == hashlib.sha256(PDF).hexdigest() and meta["kind"] == "lab_report"
    mine = client.get(link, headers=factory.headers(clinic.users[Role.patient]))
    assert mine.status_code == 200 and mine.content == PDF
    stranger = factory.headers(factory.user(Role.nurse, organization_id=clinic.other_org))
    assert client.get(link, headers=stranger).status_code == 403
    assert client.get(f"/fhir/R4/DocumentReference/{rid}", headers=stranger).status_code == 403
    with database.unit_of_work() as s:  # the plaintext is neither at rest in the row nor in the kept body
        kept = s.get(FhirReceivedResource, ("DocumentReference", rid))
        assert kept is not None and "data" not in json.dumps(kept.body)
        reads = s.scalars(select(AuditEntry).where(AuditEntry.resource_type == "DocumentReference",
                                                   AuditEntry.action == "read")).all()
        assert any(str(e.resource_id) == rid for e in reads)


def test_search(client: TestClient, factory: Factory, clinic: Clinic) -> None:
    nurse = factory.headers(clinic.users[Role.nurse])
    lab = post(client, nurse, doc(clinic.patient_id)).json()["id"]
    image = post(client, nurse, doc(clinic.patient_id, PNG, "image/png",
                                    ("urn:carebridge:document-kind", "image"))).json()["id"]
    other = post(client, nurse, doc(clinic.other_patient_id))
    assert other.status_code == 403  # the nurse's organization does not hold the other patient
    p = f"DocumentReference?patient={clinic.patient_id}"
    assert set(search(client, nurse, p)) == {lab, image}
    assert set(search(client, nurse, f"DocumentReference?subject=Patient/{clinic.patient_id}")) == {lab, image}
    assert search(client, nurse, f"{p}&type=image") == [image]
    assert search(client, nurse, f"{p}&type={LOINC}|11502-2") == [lab]
    assert search(client, nurse, f"{p}&type=http://snomed.info/sct|11502-2") == []
    assert set(search(client, nurse, f"{p}&status=current&date=2026-03-10")) == {lab, image}
    assert search(client, nurse, f"{p}&date=lt2026-03-01") == []
    assert search(client, nurse, f"{p}&status=superseded") == []
    assert search(client, nurse, f"DocumentReference?_id={lab}") == [lab]
    stranger = factory.headers(factory.user(Role.nurse, organization_id=clinic.other_org))
    assert client.get(f"/fhir/R4/{p}", headers=stranger).status_code == 403
    assert client.get("/fhir/R4/DocumentReference", headers=nurse).status_code == 400  # per patient


@pytest.mark.parametrize(("change", "status", "code"), [
    ({"data": "not base64!"}, 422, None),
    ({"size": 3}, 422, "value"),
    ({"hash": base64.b64encode(b"x" * 20).decode()}, 422, "value"),
])
def test_bad_attachment(client: TestClient, factory: Factory, clinic: Clinic, change: dict[str, Any], status: int,
                        code: str | None) -> None:
    body = doc(clinic.patient_id)
    body["content"][0]["attachment"].update(change)
    r = post(client, factory.headers(clinic.users[Role.nurse]), body)
    assert r.status_code == status, r.text
    assert r.json()["resourceType"] == "OperationOutcome"
    if code is not None:
        assert r.json()["issue"][0]["code"] == code


def test_refusals(client: TestClient, factory: Factory, clinic: Clinic, app: FastAPI) -> None:
    nurse = factory.headers(clinic.users[Role.nurse])
    pid = clinic.patient_id
    cases: list[tuple[dict[str, Any], int, str]] = [
        # what the record cannot hold, but with its bytes inline: refused, never kept as JSON in plaintext
        (doc(pid, b"plain words", "text/plain"), 422, "not-supported"),  # not a type the record holds
        (doc(pid, b"plain words", None), 415, "not-supported"),  # sniffed: not a PDF, JPEG or PNG
        (doc(pid, PDF, "image/png"), 415, "not-supported"),  # declared type disagrees with the bytes
        (doc(pid, code=("http://snomed.info/sct", "371530004")), 422, "not-supported"),  # no kind here
        ({**doc(pid), "status": "entered-in-error"}, 422, "not-supported"),
        ({**doc(pid), "subject": {"reference": "Group/1"}}, 422, "required"),
    ]
    url_only = doc(pid)
    url_only["content"][0]["attachment"] = {"contentType": "application/pdf", "url": "http://elsewhere/b/1"}
    cases.append((url_only, 422, "code-invalid"))
    for body, status, code in cases:
        r = post(client, nurse, body)
        assert r.status_code == status, (body.get("status"), r.text)
        assert r.json()["resourceType"] == "OperationOutcome" and r.json()["issue"][0]["code"] == code, r.text
    pharmacist = factory.headers(clinic.users[Role.pharmacist])  # reads documents, may not add them
    assert post(client, pharmacist, doc(pid)).status_code == 403
    app.state.documents_vault = dataclasses.replace(documents.app_vault(app.state), max_bytes=1024)
    big = post(client, nurse, doc(pid, PDF + b"%" * 2000))
    assert big.status_code == 413 and big.json()["issue"][0]["code"] == "too-costly", big.text


def test_kept_by_import_and_served(client: TestClient, factory: Factory, clinic: Clinic, database: Database,
                                   tmp_path: Path) -> None:
    """A document the record cannot hold (a link to content elsewhere) is kept as JSON and served and found."""
    body = doc(clinic.patient_id)
    body["id"] = "ext-1"
    body["content"][0]["attachment"] = {"contentType": "text/plain", "url": "http://elsewhere/Binary/1"}
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(body))
    report = Importer(database, import_principal(database, clinic.org, factory.clock.now()), factory.clock).run([path])
    assert report.imported == report.kept_as_json == 1 and not report.rejected, report
    nurse = factory.headers(clinic.users[Role.nurse])
    found = search(client, nurse, f"DocumentReference?patient={clinic.patient_id}&type={LOINC}|11502-2")
    assert len(found) == 1
    got = client.get(f"/fhir/R4/DocumentReference/{found[0]}", headers=nurse).json()
    assert got["content"][0]["attachment"]["url"] == "http://elsewhere/Binary/1"
    with database.unit_of_work() as s:
        assert s.scalars(select(Document)).all() == []


def test_an_import_refuses_inline_bytes_it_cannot_encrypt_rather_than_keep_them_as_json(
        factory: Factory, clinic: Clinic, database: Database, tmp_path: Path) -> None:
    body = {**doc(clinic.patient_id, b"discharge letter: plain words", "text/plain"), "id": "ext-3"}
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(body))
    report = Importer(database, import_principal(database, clinic.org, factory.clock.now()), factory.clock).run([path])
    assert report.imported == 0 and len(report.rejected) == 1, report
    assert "encrypted or not at all" in report.rejected[0].reason
    with database.unit_of_work() as s:
        kept = s.scalars(select(FhirGenericResource).where(FhirGenericResource.resource_type == "DocumentReference")).all()
    assert kept == []


def test_import_with_the_vault_stores_the_document(client: TestClient, factory: Factory, clinic: Clinic,
                                                   database: Database, app: FastAPI, tmp_path: Path) -> None:
    """`import-fhir` hands the importer the vault: a document with its bytes becomes a document, not JSON."""
    body = {**doc(clinic.patient_id), "id": "ext-2"}
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(body))
    importer = Importer(database, import_principal(database, clinic.org, factory.clock.now()), factory.clock,
                        vault=documents.app_vault(app.state))
    report = importer.run([path])
    assert report.imported == 1 and report.kept_as_json == 0 and not report.rejected, report
    with database.unit_of_work() as s:
        stored = s.scalars(select(Document)).all()
        assert [d.size_bytes for d in stored] == [len(PDF)] and stored[0].patient_id == clinic.patient_id
    nurse = factory.headers(clinic.users[Role.nurse])
    link = f"/api/v1/patients/{clinic.patient_id}/documents/{stored[0].id}/content"
    assert client.get(link, headers=nurse).content == PDF


def test_created_in_a_transaction(client: TestClient, factory: Factory, clinic: Clinic) -> None:
    nurse = factory.headers(clinic.users[Role.nurse])
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:0f6a1c2e-8d4b-4a57-9a43-3f1e2b7c9d10", "resource": doc(clinic.patient_id, PNG, "image/png"),
         "request": {"method": "POST", "url": "DocumentReference"}}]}
    r = client.post("/fhir/R4", content=json.dumps(bundle), headers={**nurse, "Content-Type": FHIR})
    assert r.status_code == 200, r.text
    location = r.json()["entry"][0]["response"]["location"]
    served = client.get(f"/fhir/R4/{location.split('/_history')[0]}", headers=nurse).json()
    assert served["content"][0]["attachment"]["size"] == len(PNG) and "data" not in served["content"][0]["attachment"]
