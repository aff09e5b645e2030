"""Synthetic documents and the calls the document tests share."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from carebridge.contexts.documents.models import Document
from carebridge.contexts.documents.vault import Vault, get_vault
from carebridge.kernel.db import Database

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n% synthetic lab report: HbA1c 6.1 %\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + b"\x00" * 64 + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32


def url(patient_id: uuid.UUID, tail: str = "") -> str:
    return f"/api/v1/patients/{patient_id}/documents{tail}"


def upload(client: TestClient, headers: dict[str, str], patient_id: uuid.UUID, *, content: bytes = PDF,
           filename: str = "hba1c.pdf", content_type: str = "application/pdf", kind: str = "lab_report",
           device_id: str = "tablet-7", **form: str) -> Any:
    return client.post(url(patient_id), headers=headers, files={"file": (filename, content, content_type)},
                       data={"kind": kind, "device_id": device_id, **form})


def uploaded(client: TestClient, headers: dict[str, str], patient_id: uuid.UUID, **kw: Any) -> dict[str, Any]:
    r = upload(client, headers, patient_id, **kw)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def vault_of(app: FastAPI) -> Vault:
    vault: Vault | None = getattr(app.state, "documents_vault", None)
    assert vault is not None, "the app has not built its vault yet (upload something first)"
    return vault


def blob_path(app: FastAPI, database: Database, document_id: str) -> Path:
    with database.unit_of_work() as s:
        doc = s.get(Document, uuid.UUID(document_id))
        assert doc is not None
        key = doc.storage_key
    store = vault_of(app).store
    path: Path = store.path(key)  # type: ignore[attr-defined]  # the local-directory adapter
    return path


__all__ = ["JPEG", "PDF", "PNG", "blob_path", "get_vault", "upload", "uploaded", "url", "vault_of"]
