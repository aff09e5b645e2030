"""Tampering is caught: stored bytes changed on disk, metadata changed in the row (hash, patient, uploader, time),
the signature changed. And `carebridge keys rotate` re-wraps every data key under a new master key without
rewriting any content."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from carebridge.cli import app as cli_app
from carebridge.contexts.documents import crypto, rotation
from carebridge.contexts.documents.cli import rotate_documents_key
from carebridge.contexts.documents.models import Document, DocumentDataKey
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.security import Role
from carebridge.settings import Settings
from tests.factories import Clinic, Factory
from tests.integration.documents.helpers import JPEG, PDF, blob_path, uploaded, url, vault_of


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


def _verify(client: TestClient, h: dict[str, str], patient_id: uuid.UUID, doc_id: str) -> dict[str, bool]:
    r = client.get(url(patient_id, f"/{doc_id}/verify"), headers=h)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    checks = {c["name"]: c["passed"] for c in body["checks"]}
    assert body["verified"] is all(checks.values())
    return checks


def _tamper(database: Database, doc_id: str, **values: Any) -> None:
    with database.unit_of_work() as s:
        s.execute(update(Document).where(Document.id == uuid.UUID(doc_id)).values(**values))


ALL_PASS = {"decrypted": True, "hash_matches": True, "signature_valid": True, "signer_is_uploader": True}


def test_changed_bytes_on_disk_are_caught_and_never_served(client: TestClient, factory: Factory, clinic: Clinic,
                                                           app: FastAPI, database: Database) -> None:
    h = factory.headers(clinic.users[Role.practitioner])
    doc = uploaded(client, h, clinic.patient_id)
    assert _verify(client, h, clinic.patient_id, doc["id"]) == ALL_PASS
    path = blob_path(app, database, doc["id"])
    stored = bytearray(path.read_bytes())
    stored[40] ^= 0x01  # one bit inside the ciphertext
    path.write_bytes(bytes(stored))
    assert _verify(client, h, clinic.patient_id, doc["id"]) == {
        "decrypted": False, "hash_matches": False, "signature_valid": True, "signer_is_uploader": True}
    r = client.get(url(clinic.patient_id, f"/{doc['id']}/content"), headers=h)
    assert r.status_code == 409 and r.json()["type"].endswith("/document-integrity")
    assert PDF not in r.content
    # truncated, and gone altogether
    path.write_bytes(bytes(stored[:10]))
    assert _verify(client, h, clinic.patient_id, doc["id"])["decrypted"] is False
    path.unlink()
    assert _verify(client, h, clinic.patient_id, doc["id"])["decrypted"] is False
    assert client.get(url(clinic.patient_id, f"/{doc['id']}/content"), headers=h).status_code == 409


def test_blobs_swapped_between_documents_do_not_decrypt(client: TestClient, factory: Factory, clinic: Clinic,
                                                        app: FastAPI, database: Database) -> None:
    h = factory.headers(clinic.users[Role.practitioner])
    a = uploaded(client, h, clinic.patient_id)
    b = uploaded(client, h, clinic.patient_id, content=JPEG, filename="b.jpg", content_type="image/jpeg")
    blob_path(app, database, a["id"]).write_bytes(blob_path(app, database, b["id"]).read_bytes())
    assert _verify(client, h, clinic.patient_id, a["id"])["decrypted"] is False


@pytest.mark.parametrize("field", ["sha256", "patient", "uploader", "time", "device", "signature"])
def test_changed_metadata_or_signature_is_caught(client: TestClient, factory: Factory, clinic: Clinic,
                                                 database: Database, field: str) -> None:
    doctor = clinic.users[Role.practitioner]
    h = factory.headers(doctor)
    doc = uploaded(client, h, clinic.patient_id)
    patient_id = clinic.patient_id
    if field == "sha256":
        _tamper(database, doc["id"], sha256="0" * 64)
    elif field == "patient":
        # the row is moved to another patient of the same clinic: readable there, but the signature names the first
        patient_id = factory.patient(organization_id=clinic.org, given="Ravi", family="Nair")
        _tamper(database, doc["id"], patient_id=patient_id)
        assert client.get(url(clinic.patient_id, f"/{doc['id']}"), headers=h).status_code == 404
    elif field == "uploader":
        _tamper(database, doc["id"], uploaded_by=clinic.users[Role.nurse].id)
    elif field == "time":
        with database.unit_of_work() as s:
            at = s.scalar(select(Document.uploaded_at).where(Document.id == uuid.UUID(doc["id"])))
        assert at is not None
        _tamper(database, doc["id"], uploaded_at=at - timedelta(days=30))
    elif field == "device":
        _tamper(database, doc["id"], device_id="someone-elses-laptop")
    else:
        forged = bytearray(base64.b64decode(doc["signature"]))
        forged[0] ^= 0x80
        _tamper(database, doc["id"], signature=bytes(forged))
    checks = _verify(client, h, patient_id, doc["id"])
    assert checks["signature_valid"] is False and checks["decrypted"] is True
    # the content itself is intact, so only a changed hash also fails the hash check
    assert checks["hash_matches"] is (field != "sha256")
    # the signing key is the first uploader's: a changed uploader is named as such
    assert checks["signer_is_uploader"] is (field != "uploader")
    if field == "sha256":
        assert client.get(url(patient_id, f"/{doc['id']}/content"), headers=h).status_code == 409


def test_rotation_rewraps_data_keys_without_touching_content(client: TestClient, factory: Factory, clinic: Clinic,
                                                             app: FastAPI, database: Database, settings: Settings,
                                                             clock: FixedClock) -> None:
    h = factory.headers(clinic.users[Role.practitioner])
    docs = [uploaded(client, h, clinic.patient_id),
            uploaded(client, h, clinic.patient_id, content=JPEG, filename="b.jpg", content_type="image/jpeg")]
    keyring = vault_of(app).keyring
    old_id = keyring.current()[0]
    before = {d["id"]: blob_path(app, database, d["id"]).read_bytes() for d in docs}
    with database.unit_of_work() as s:
        wrapped_before = {str(r.document_id): r.wrapped_key for r in s.scalars(select(DocumentDataKey))}

    report = rotate_documents_key(settings, database, clock=clock, grace_seconds=0)

    assert report.rewrapped == 2 and report.by_old_key == {old_id: 2} and report.retired == [old_id]
    new_id = report.new_key_id
    assert new_id != old_id and keyring.ids() == [new_id] and keyring.current()[0] == new_id
    with database.unit_of_work() as s:
        rows = list(s.scalars(select(DocumentDataKey)))
    assert {r.master_key_id for r in rows} == {new_id}  # the old id is gone from every row
    assert all(wrapped_before[str(r.document_id)] != r.wrapped_key for r in rows)
    for d in docs:
        assert blob_path(app, database, d["id"]).read_bytes() == before[d["id"]]  # content bytes unchanged
        assert _verify(client, h, clinic.patient_id, d["id"]) == ALL_PASS
    assert client.get(url(clinic.patient_id, f"/{docs[0]['id']}/content"), headers=h).content == PDF
    # uploads after the rotation use the new key, and a second rotation retires the first new one
    later = uploaded(client, h, clinic.patient_id)
    with database.unit_of_work() as s:
        row = s.get(DocumentDataKey, uuid.UUID(later["id"]))
        assert row is not None and row.master_key_id == new_id
    again = rotate_documents_key(settings, database, clock=clock, grace_seconds=0)
    assert again.rewrapped == 3 and again.retired == [new_id]


def test_a_rotation_keeps_an_old_key_that_a_row_still_names(client: TestClient, factory: Factory, clinic: Clinic,
                                                            app: FastAPI, database: Database, settings: Settings,
                                                            clock: FixedClock) -> None:
    """An upload that wrapped its key under the old master key while the rotation ran must stay readable."""
    h = factory.headers(clinic.users[Role.practitioner])
    doc = uploaded(client, h, clinic.patient_id)
    keyring = vault_of(app).keyring
    old_id = keyring.current()[0]
    report = rotate_documents_key(settings, database, clock=clock, grace_seconds=0)
    # simulate the straggler: a row still wrapped under a master key the rotation did not see
    straggler = keyring.create()
    with database.unit_of_work() as s:
        row = s.get(DocumentDataKey, uuid.UUID(doc["id"]))
        assert row is not None
        data_key = crypto.open_sealed(keyring.get(report.new_key_id), row.wrapped_key,
                                      crypto.wrap_aad(row.document_id, report.new_key_id))
        row.wrapped_key = crypto.seal(keyring.get(straggler), data_key, crypto.wrap_aad(row.document_id, straggler))
        row.master_key_id = straggler
    assert old_id in report.retired
    with database.unit_of_work() as s:
        kept = rotation.retire_unused(s, keyring, rotation.RotationReport(new_key_id=report.new_key_id))
    assert kept.kept == [straggler] and straggler in keyring.ids()
    assert _verify(client, h, clinic.patient_id, doc["id"]) == ALL_PASS


def test_the_rotate_command_is_wired() -> None:
    result = CliRunner().invoke(cli_app, ["keys", "rotate", "--help"])
    assert result.exit_code == 0 and "re-wraps every data key" in result.output
