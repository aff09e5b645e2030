"""The document pages: the list with its upload form (CSRF, multipart, refusals shown on the form), the verify page
(passing, and failing after tampering), the download, and strangers refused."""

from __future__ import annotations

import re
import uuid

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import update

from carebridge.contexts.documents.models import Document
from carebridge.kernel.db import Database
from carebridge.security import Role
from tests.factories import Clinic, Factory
from tests.integration.documents.helpers import PDF, PNG
from tests.web.helpers import assert_good_page, csrf_token, sign_in


def _signed_in(client: TestClient, factory: Factory, role: Role = Role.practitioner) -> Clinic:
    clinic = factory.clinic()
    assert sign_in(client, clinic.users[role].username).status_code == 303
    return clinic


def _page(clinic: Clinic) -> str:
    return f"/record/{clinic.patient_id}/documents"


def _upload(client: TestClient, clinic: Clinic, *, content: bytes = PDF, filename: str = "hba1c.pdf",
            ctype: str = "application/pdf", kind: str = "lab_report", token: str | None = None) -> httpx.Response:
    token = token if token is not None else csrf_token(client.get(_page(clinic)).text)
    data = {"kind": kind, "title": "HbA1c March"}
    if token:
        data["csrf_token"] = token
    response: httpx.Response = client.post(_page(clinic), data=data, files={"file": (filename, content, ctype)},
                                           follow_redirects=False)
    return response


def test_upload_then_verify_and_download_from_the_record(client: TestClient, factory: Factory) -> None:
    clinic = _signed_in(client, factory)
    page = client.get(_page(clinic))
    assert page.status_code == 200
    assert_good_page(page.text)
    assert "No documents yet." in page.text and 'enctype="multipart/form-data"' in page.text
    # without the CSRF token the form is refused
    assert _upload(client, clinic, token="").status_code == 403
    r = _upload(client, clinic)
    assert r.status_code == 303, r.text
    match = re.search(r"uploaded=([0-9a-f-]{36})", r.headers["location"])
    assert match
    doc_id = match.group(1)
    listing = client.get(r.headers["location"])
    assert_good_page(listing.text)
    assert "HbA1c March" in listing.text and "application/pdf" in listing.text
    assert "The document was uploaded, signed and stored encrypted." in listing.text
    verify = client.get(f"{_page(clinic)}/{doc_id}/verify")
    assert verify.status_code == 200
    assert_good_page(verify.text)
    assert "Verified: every check passed." in verify.text and verify.text.count("✓ Passed") == 4
    download = client.get(f"{_page(clinic)}/{doc_id}/download")
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-type"] == "application/pdf"


def test_a_refused_file_comes_back_on_the_form(client: TestClient, factory: Factory) -> None:
    clinic = _signed_in(client, factory, Role.nurse)
    r = _upload(client, clinic, content=b"MZ\x90\x00 not a document", filename="report.pdf")
    assert r.status_code == 415
    assert_good_page(r.text)
    assert "Only PDF, JPEG and PNG files can be uploaded" in r.text and "4d 5a 90 00" in r.text
    r = _upload(client, clinic, content=PNG, filename="scan.pdf", ctype="image/png")
    assert r.status_code == 415 and "file name ends in .pdf" in r.text
    r = _upload(client, clinic, kind="")
    assert r.status_code == 422 and "Choose what kind of document this is." in r.text
    assert "No documents yet." in client.get(_page(clinic)).text


def test_the_verify_page_says_when_a_record_was_altered(client: TestClient, factory: Factory,
                                                        database: Database) -> None:
    clinic = _signed_in(client, factory)
    location = _upload(client, clinic).headers["location"]
    doc_id = location.rsplit("=", 1)[1]
    with database.unit_of_work() as s:
        s.execute(update(Document).where(Document.id == uuid.UUID(doc_id)).values(device_id="forged"))
    page = client.get(f"{_page(clinic)}/{doc_id}/verify")
    assert page.status_code == 200
    assert "Not verified" in page.text and page.text.count("✗ Failed") == 1


def test_strangers_and_bad_ids_are_refused(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    outsider = factory.user(Role.practitioner, organization_id=clinic.other_org)
    assert sign_in(client, outsider.username).status_code == 303
    assert client.get(_page(clinic)).status_code == 403
    assert client.get("/record/not-a-uuid/documents").status_code == 404
    assert client.get(f"{_page(clinic)}/not-a-uuid/verify").status_code == 404
    assert client.get(f"{_page(clinic)}/{uuid.uuid4()}/download").status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    r = client.get(_page(clinic), follow_redirects=False)
    assert r.status_code in (302, 303) and "/login" in r.headers["location"]
