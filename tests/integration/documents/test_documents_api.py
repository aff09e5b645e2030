"""Patient documents through the API: upload (server-held and client-held keys), the type sniffing and size limit,
list/metadata/download/verify, the event and the audit trail, and who may do what."""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from carebridge.contexts.audit.models import AuditEntry
from carebridge.contexts.documents import canonical_message
from carebridge.contexts.documents.models import Document, DocumentDataKey, SigningKey
from carebridge.contexts.documents.service import clean_filename
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.kernel.events import OutboxEvent
from carebridge.security import Role
from tests.factories import Clinic, Factory
from tests.integration.documents.helpers import JPEG, PDF, PNG, upload, uploaded, url, vault_of


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


def _h(factory: Factory, clinic: Clinic, role: Role = Role.practitioner) -> dict[str, str]:
    return factory.headers(clinic.users[role])


def _audit(database: Database, **where: Any) -> list[AuditEntry]:
    with database.unit_of_work() as s:
        stmt = select(AuditEntry).order_by(AuditEntry.seq)
        for k, v in where.items():
            stmt = stmt.where(getattr(AuditEntry, k) == v)
        return list(s.scalars(stmt))


def test_a_clinician_uploads_a_lab_report_that_is_hashed_signed_and_encrypted(
        client: TestClient, factory: Factory, clinic: Clinic, app: FastAPI, database: Database) -> None:
    h = _h(factory, clinic)
    doc = uploaded(client, h, clinic.patient_id, title="HbA1c March")
    assert doc["media_type"] == "application/pdf" and doc["kind"] == "lab_report"
    assert doc["sha256"] == hashlib.sha256(PDF).hexdigest() and doc["size_bytes"] == len(PDF)
    assert doc["key_source"] == "server" and doc["uploaded_by"] == str(clinic.users[Role.practitioner].id)
    assert doc["uploaded_at"].startswith("2026-03-10T09:30") and doc["device_id"] == "tablet-7"
    assert len(base64.b64decode(doc["signature"])) == 64
    # the bytes at rest are not the document
    with database.unit_of_work() as s:
        row = s.get(Document, uuid.UUID(doc["id"]))
        assert row is not None
        stored = vault_of(app).store.get(row.storage_key)
        wrapped = s.get(DocumentDataKey, row.id)
        assert wrapped is not None and wrapped.master_key_id == vault_of(app).keyring.current()[0]
    assert PDF not in stored and b"HbA1c" not in stored and len(stored) == len(PDF) + 28
    # the event, with no content in it
    with database.unit_of_work() as s:
        events = s.scalars(select(OutboxEvent).where(OutboxEvent.type == "documents.uploaded")).all()
    assert [e.payload["document_id"] for e in events] == [doc["id"]]
    assert events[0].payload["patient_id"] == str(clinic.patient_id) and "content" not in events[0].payload
    created = _audit(database, resource_type="DocumentReference", action="create")
    assert [(e.resource_id, e.patient_id) for e in created] == [(doc["id"], clinic.patient_id)]


def test_list_metadata_download_and_verify(client: TestClient, factory: Factory, clinic: Clinic, clock: FixedClock,
                                           database: Database) -> None:
    h = _h(factory, clinic, Role.nurse)
    ids = []
    for content, name, ctype, kind in [(PDF, "a.pdf", "application/pdf", "discharge_summary"),
                                       (JPEG, "b.jpeg", "image/jpeg", "image"),
                                       (PNG, "c.png", "image/png", "prescription")]:
        clock.advance(minutes=1)
        ids.append(uploaded(client, h, clinic.patient_id, content=content, filename=name, content_type=ctype,
                            kind=kind)["id"])
    first = client.get(url(clinic.patient_id), params={"limit": 2}, headers=h).json()
    assert [d["id"] for d in first["items"]] == [ids[2], ids[1]] and first["next_cursor"]
    second = client.get(url(clinic.patient_id), params={"limit": 2, "cursor": first["next_cursor"]}, headers=h).json()
    assert [d["id"] for d in second["items"]] == [ids[0]] and second["next_cursor"] is None
    images = client.get(url(clinic.patient_id), params={"kind": "image"}, headers=h).json()
    assert [d["id"] for d in images["items"]] == [ids[1]]
    assert client.get(url(clinic.patient_id), params={"cursor": "bogus!"}, headers=h).status_code == 422

    meta = client.get(url(clinic.patient_id, f"/{ids[1]}"), headers=h)
    assert meta.status_code == 200 and meta.json()["media_type"] == "image/jpeg"
    got = client.get(url(clinic.patient_id, f"/{ids[1]}/content"), headers=h)
    assert got.status_code == 200 and got.content == JPEG
    assert got.headers["content-type"] == "image/jpeg" and got.headers["cache-control"] == "no-store"
    assert f'filename="document-{ids[1]}.jpg"' in got.headers["content-disposition"]
    downloads = [e for e in _audit(database, resource_type="DocumentReference", action="read")
                 if e.detail.get("part") == "content"]
    assert [e.resource_id for e in downloads] == [ids[1]]

    check = client.get(url(clinic.patient_id, f"/{ids[0]}/verify"), headers=h)
    assert check.status_code == 200, check.text
    body = check.json()
    assert body["verified"] is True and body["computed_sha256"] == body["recorded_sha256"]
    assert {c["name"]: c["passed"] for c in body["checks"]} == {
        "decrypted": True, "hash_matches": True, "signature_valid": True, "signer_is_uploader": True}
    assert [e.resource_id for e in _audit(database, action="verify", resource_type="DocumentReference")] == [ids[0]]
    # a document of another patient is not found under this one
    assert client.get(url(clinic.other_patient_id, f"/{ids[0]}"), headers=factory.headers(
        factory.user(Role.practitioner, organization_id=clinic.other_org))).status_code == 404
    assert client.get(url(clinic.patient_id, f"/{uuid.uuid4()}/verify"), headers=h).status_code == 404


def test_one_server_key_per_user_made_on_first_upload(client: TestClient, factory: Factory, clinic: Clinic,
                                                       database: Database) -> None:
    h = _h(factory, clinic)
    a = uploaded(client, h, clinic.patient_id)
    b = uploaded(client, h, clinic.patient_id, content=PNG, filename="x.png", content_type="image/png")
    assert a["signing_key_id"] == b["signing_key_id"]
    with database.unit_of_work() as s:
        key = s.get(SigningKey, uuid.UUID(a["signing_key_id"]))
        assert key is not None and key.source == "server" and key.wrapped_private_key is not None
        assert len(key.public_key) == 32 and key.public_key not in key.wrapped_private_key
    keys = client.get("/api/v1/me/signing-keys", headers=h).json()
    assert [(k["id"], k["source"]) for k in keys] == [(a["signing_key_id"], "server")]


def _register(client: TestClient, h: dict[str, str]) -> tuple[Ed25519PrivateKey, dict[str, Any]]:
    key = Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    r = client.post("/api/v1/me/signing-keys", json={"public_key": pem, "label": "Asha's phone"}, headers=h)
    assert r.status_code == 201, r.text
    return key, r.json()


def _client_signature(key: Ed25519PrivateKey, *, patient_id: uuid.UUID, uploader_id: uuid.UUID,
                      clock: FixedClock, content: bytes = PDF, device_id: str = "phone-1") -> str:
    message = canonical_message(sha256=hashlib.sha256(content).hexdigest(), patient_id=patient_id,
                                uploader_id=uploader_id, at=clock.now(), device_id=device_id)
    return base64.b64encode(key.sign(message)).decode()


def test_a_patient_signs_on_their_own_device_and_the_server_checks_it(client: TestClient, factory: Factory,
                                                                       clinic: Clinic, clock: FixedClock) -> None:
    patient = clinic.users[Role.patient]
    h = factory.headers(patient)
    key, registered = _register(client, h)
    assert registered["source"] == "client" and registered["label"] == "Asha's phone"
    # registering the same key again is harmless
    again = client.post("/api/v1/me/signing-keys", json={"public_key": base64.b64encode(
        base64.b64decode(registered["public_key"])).decode()}, headers=h)
    assert again.status_code == 201 and again.json()["id"] == registered["id"]
    sig = _client_signature(key, patient_id=clinic.patient_id, uploader_id=patient.id, clock=clock)
    doc = uploaded(client, h, clinic.patient_id, device_id="phone-1", signature=sig,
                   signed_at=clock.now().isoformat())
    assert doc["key_source"] == "client" and doc["signing_key_id"] == registered["id"] and doc["signature"] == sig
    check = client.get(url(clinic.patient_id, f"/{doc['id']}/verify"), headers=h).json()
    assert check["verified"] is True
    # with the key named explicitly too
    named = upload(client, h, clinic.patient_id, device_id="phone-1", signature=sig,
                   signed_at=clock.now().isoformat(), key_id=registered["id"])
    assert named.status_code == 201, named.text


def test_a_client_signature_that_does_not_verify_is_refused(client: TestClient, factory: Factory, clinic: Clinic,
                                                            clock: FixedClock, database: Database) -> None:
    patient = clinic.users[Role.patient]
    h = factory.headers(patient)
    # no key registered yet
    stranger_key = Ed25519PrivateKey.generate()
    sig = _client_signature(stranger_key, patient_id=clinic.patient_id, uploader_id=patient.id, clock=clock)
    r = upload(client, h, clinic.patient_id, device_id="phone-1", signature=sig, signed_at=clock.now().isoformat())
    assert r.status_code == 422 and "registered a public key" in r.json()["detail"]
    key, _ = _register(client, h)
    # signed by another key, over other content, another device, or another time
    for bad in (sig,
                _client_signature(key, patient_id=clinic.patient_id, uploader_id=patient.id, clock=clock,
                                  content=PNG),
                _client_signature(key, patient_id=clinic.patient_id, uploader_id=patient.id, clock=clock,
                                  device_id="phone-2")):
        r = upload(client, h, clinic.patient_id, device_id="phone-1", signature=bad,
                   signed_at=clock.now().isoformat())
        assert r.status_code == 422, r.text
        assert r.json()["type"].endswith("/signature-invalid")
    good = _client_signature(key, patient_id=clinic.patient_id, uploader_id=patient.id, clock=clock)
    r = upload(client, h, clinic.patient_id, device_id="phone-1", signature=good,
               signed_at=(clock.now() + timedelta(seconds=1)).isoformat())
    assert r.status_code == 422 and r.json()["type"].endswith("/signature-invalid")
    # a time far from the server's, a naive time, a malformed signature, a key id that is not theirs
    stale = (clock.now() - timedelta(hours=1)).isoformat()
    assert upload(client, h, clinic.patient_id, signature=good, signed_at=stale).status_code == 422
    assert upload(client, h, clinic.patient_id, signature=good, signed_at="2026-03-10T09:30:00").status_code == 422
    assert upload(client, h, clinic.patient_id, signature="!!", signed_at=clock.now().isoformat()).status_code == 422
    assert upload(client, h, clinic.patient_id, signature=good).status_code == 422  # signed_at missing
    assert upload(client, h, clinic.patient_id, signature=good, signed_at=clock.now().isoformat(),
                  key_id=str(uuid.uuid4())).status_code == 422
    with database.unit_of_work() as s:
        assert s.scalars(select(Document).where(Document.patient_id == clinic.patient_id)).all() == []


def test_bad_public_keys_are_refused(client: TestClient, factory: Factory, clinic: Clinic) -> None:
    h = factory.headers(clinic.users[Role.patient])
    for bad in ("x" * 50, base64.b64encode(b"\x01" * 31).decode() + "=" * 4,
                "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAnotakey\n-----END PUBLIC KEY-----"):
        r = client.post("/api/v1/me/signing-keys", json={"public_key": bad}, headers=h)
        assert r.status_code == 422, (bad, r.text)
    # a front-desk account does not upload documents, so it registers no key
    r = client.post("/api/v1/me/signing-keys", json={"public_key": "A" * 44},
                    headers=factory.headers(clinic.users[Role.front_desk]))
    assert r.status_code == 403


@pytest.mark.parametrize(("content", "filename", "ctype", "slug", "words"), [
    (b"<html><script>alert(1)</script>", "report.pdf", "application/pdf", "document-type-unknown",
     "starts with 3c 68 74 6d 6c"),
    (b"GIF89a\x01\x00", "scan.gif", "image/gif", "document-type-unknown", "not a PDF, JPEG or PNG"),
    (b"", "empty.pdf", "application/pdf", "document-type-unknown", "empty"),
    (PNG, "scan.png", "application/pdf", "document-type-mismatch", "PNG image (image/png) but was declared as "
     "application/pdf"),
    (PDF, "photo.jpg", "application/octet-stream", "document-type-mismatch", "file name ends in .jpg"),
])
def test_the_type_is_sniffed_from_the_content_and_a_mismatch_is_refused(
        client: TestClient, factory: Factory, clinic: Clinic, content: bytes, filename: str, ctype: str, slug: str,
        words: str) -> None:
    r = upload(client, _h(factory, clinic), clinic.patient_id, content=content, filename=filename,
               content_type=ctype)
    assert r.status_code == 415, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"].endswith("/" + slug) and words in body["detail"]
    assert body["accepted"] == ["application/pdf", "image/jpeg", "image/png"]


def test_a_pdf_sent_as_octet_stream_with_no_extension_is_taken_for_what_it_is(
        client: TestClient, factory: Factory, clinic: Clinic) -> None:
    doc = uploaded(client, _h(factory, clinic), clinic.patient_id, filename="scan",
                   content_type="application/octet-stream")
    assert doc["media_type"] == "application/pdf"


def test_the_size_limit_is_a_setting(client: TestClient, factory: Factory, clinic: Clinic, app: FastAPI) -> None:
    h = _h(factory, clinic)
    uploaded(client, h, clinic.patient_id)  # builds the app's vault
    app.state.documents_vault = replace(vault_of(app), max_bytes=2048)
    big = PDF + b"0" * 2048
    r = upload(client, h, clinic.patient_id, content=big)
    assert r.status_code == 413 and r.json()["limit"] == 2048 and "2048 bytes" in r.json()["detail"]
    assert upload(client, h, clinic.patient_id, content=PDF + b"0" * (2048 - len(PDF))).status_code == 201
    assert app.state.settings.document_max_bytes == 10 * 1024 * 1024  # the default


def test_form_fields_are_bounded(client: TestClient, factory: Factory, clinic: Clinic) -> None:
    h = _h(factory, clinic)
    assert upload(client, h, clinic.patient_id, kind="x-ray").status_code == 422
    assert upload(client, h, clinic.patient_id, device_id="d" * 129).status_code == 422
    assert upload(client, h, clinic.patient_id, device_id="").status_code == 422
    assert upload(client, h, clinic.patient_id, title="t" * 201).status_code == 422
    r = client.post(url(clinic.patient_id), headers=h, data={"kind": "lab_report", "device_id": "x"})
    assert r.status_code == 422  # no file


@pytest.mark.parametrize("role", [Role.practitioner, Role.nurse, Role.health_worker, Role.patient])
def test_who_may_upload(client: TestClient, factory: Factory, clinic: Clinic, role: Role) -> None:
    assert upload(client, _h(factory, clinic, role), clinic.patient_id).status_code == 201


@pytest.mark.parametrize("role", [Role.caregiver, Role.pharmacist, Role.front_desk])
def test_who_may_not_upload(client: TestClient, factory: Factory, clinic: Clinic, role: Role,
                            database: Database) -> None:
    r = upload(client, _h(factory, clinic, role), clinic.patient_id)
    assert r.status_code == 403, r.text
    denied = _audit(database, outcome="denied", patient_id=clinic.patient_id)
    assert denied and denied[-1].user_id == clinic.users[role].id


def test_strangers_are_refused_and_the_refusal_is_audited(client: TestClient, factory: Factory, clinic: Clinic,
                                                          database: Database) -> None:
    doc = uploaded(client, _h(factory, clinic), clinic.patient_id)
    outsider = factory.user(Role.practitioner, organization_id=clinic.other_org)
    other_patient = factory.user(Role.patient, patient_id=clinic.other_patient_id)
    for user in (outsider, other_patient, factory.user(Role.caregiver)):
        h = factory.headers(user)
        for tail in ("", f"/{doc['id']}", f"/{doc['id']}/content", f"/{doc['id']}/verify"):
            assert client.get(url(clinic.patient_id, tail), headers=h).status_code == 403, (user.role, tail)
        assert upload(client, h, clinic.patient_id).status_code == 403
        assert _audit(database, outcome="denied", user_id=user.id)
    # the linked caregiver reads (read_record), the front desk does not read documents
    assert client.get(url(clinic.patient_id, f"/{doc['id']}/content"),
                      headers=_h(factory, clinic, Role.caregiver)).status_code == 200
    assert client.get(url(clinic.patient_id), headers=_h(factory, clinic, Role.front_desk)).status_code == 403
    assert client.get(url(clinic.patient_id), headers=_h(factory, clinic, Role.pharmacist)).status_code == 200


def test_a_patients_restriction_narrows_document_access_through_consent(client: TestClient, factory: Factory,
                                                                        clinic: Clinic) -> None:
    doctor = _h(factory, clinic)
    doc = uploaded(client, doctor, clinic.patient_id)
    r = client.post(f"/api/v1/patients/{clinic.patient_id}/consents",
                    json={"grantee_type": "organization", "grantee_id": str(clinic.org), "effect": "deny",
                          "categories": ["documents"]}, headers=factory.headers(clinic.users[Role.patient]))
    assert r.status_code == 201, r.text
    assert client.get(url(clinic.patient_id, f"/{doc['id']}"), headers=doctor).status_code == 403
    assert client.get(url(clinic.patient_id), headers=doctor).status_code == 403
    # the rest of the record is untouched, and the patient still reads their documents
    assert client.get(f"/api/v1/patients/{clinic.patient_id}/encounters", headers=doctor).status_code == 200
    assert client.get(url(clinic.patient_id, f"/{doc['id']}"),
                      headers=factory.headers(clinic.users[Role.patient])).status_code == 200


def test_no_credentials_no_documents(client: TestClient, clinic: Clinic) -> None:
    assert client.get(url(clinic.patient_id)).status_code == 401
    r = client.post(url(clinic.patient_id), files={"file": ("a.pdf", PDF, "application/pdf")},
                    data={"kind": "lab_report", "device_id": "x"})
    assert r.status_code == 401


def test_an_upload_may_exceed_the_general_body_limit_up_to_the_document_limit(
        client: TestClient, factory: Factory, clinic: Clinic, app: FastAPI) -> None:
    h = _h(factory, clinic)
    general = app.state.settings.max_body_bytes
    big = PDF + b"0" * (general + 100_000)
    doc = uploaded(client, h, clinic.patient_id, content=big)
    assert doc["size_bytes"] == len(big) > general
    assert client.get(url(clinic.patient_id, f"/{doc['id']}/content"), headers=h).content == big
    # other routes keep the general limit
    r = client.post("/api/v1/me/signing-keys", content=b"{" + b" " * general + b"}",
                    headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 413


def test_a_deactivated_key_signs_no_more_uploads_but_its_documents_still_verify(
        client: TestClient, factory: Factory, clinic: Clinic, clock: FixedClock) -> None:
    patient = clinic.users[Role.patient]
    h = factory.headers(patient)
    key, registered = _register(client, h)
    sig = _client_signature(key, patient_id=clinic.patient_id, uploader_id=patient.id, clock=clock)
    doc = uploaded(client, h, clinic.patient_id, device_id="phone-1", signature=sig,
                   signed_at=clock.now().isoformat())
    # another user cannot switch it off
    other = factory.headers(clinic.users[Role.practitioner])
    assert client.post(f"/api/v1/me/signing-keys/{registered['id']}/deactivate", headers=other).status_code == 404
    r = client.post(f"/api/v1/me/signing-keys/{registered['id']}/deactivate", headers=h)
    assert r.status_code == 200 and r.json()["active"] is False
    refused = upload(client, h, clinic.patient_id, device_id="phone-1", signature=sig,
                     signed_at=clock.now().isoformat())
    assert refused.status_code == 422 and "registered a public key" in refused.json()["detail"]
    assert client.get(url(clinic.patient_id, f"/{doc['id']}/verify"), headers=h).json()["verified"] is True


def test_control_characters_never_reach_the_database(client: TestClient, factory: Factory, clinic: Clinic) -> None:
    h = _h(factory, clinic)
    assert upload(client, h, clinic.patient_id, title="lab\x00report").status_code == 422
    assert upload(client, h, clinic.patient_id, device_id="tab\x00let").status_code == 422
    doc = uploaded(client, h, clinic.patient_id, filename="C:\\fakepath\\lab report.pdf")
    assert doc["filename"] == "lab report.pdf"
    assert clean_filename("../../etc/lab\x00\x07 report.pdf\n") == "lab report.pdf"
