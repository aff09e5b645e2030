"""DTOs of the document store: what the API says about a document, a verification and a signing key."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from carebridge.kernel.pagination import Page
from carebridge.kernel.text import NoControl


class DocumentKind(StrEnum):
    lab_report = "lab_report"
    discharge_summary = "discharge_summary"
    prescription = "prescription"
    image = "image"


class KeySource(StrEnum):
    server = "server"  # the server holds the user's private key (wrapped) and signs for them
    client = "client"  # the user's device holds the private key; the server knows the public key


class DocumentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    kind: DocumentKind
    title: str = Field(max_length=200)
    media_type: str = Field(max_length=50, description="Sniffed from the content's first bytes.")
    filename: str = Field(max_length=255)
    size_bytes: int
    sha256: str = Field(max_length=64, description="Hex SHA-256 of the content (before encryption).")
    uploaded_by: uuid.UUID
    uploaded_at: datetime = Field(description="The time in the signed message.")
    device_id: str = Field(max_length=128)
    signing_key_id: uuid.UUID
    key_source: KeySource
    signature: str = Field(max_length=100, description="Base64 Ed25519 signature over the canonical message.")


class DocumentPage(Page[DocumentRead]):
    pass


CheckName = Literal["decrypted", "hash_matches", "signature_valid", "signer_is_uploader"]


class VerifyCheck(BaseModel):
    name: CheckName
    passed: bool
    detail: str = Field(max_length=300)


class VerifyRead(BaseModel):
    document_id: uuid.UUID
    verified: bool = Field(description="True only when every check passed.")
    checks: list[VerifyCheck] = Field(max_length=10)
    recorded_sha256: str = Field(max_length=64)
    computed_sha256: str | None = Field(None, max_length=64, description="Null when the content did not decrypt.")


class SigningKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    public_key: Annotated[str, NoControl] = Field(min_length=40, max_length=1000,
                                  description="Ed25519 public key: PEM (SubjectPublicKeyInfo) or base64 of 32 bytes.")
    label: Annotated[str, NoControl] = Field("", max_length=100, description="Which device holds the private key.")


class SigningKeyRead(BaseModel):
    id: uuid.UUID
    source: KeySource
    public_key: str = Field(max_length=60, description="Base64 of the raw 32-byte Ed25519 public key.")
    label: str = Field(max_length=100)
    active: bool
    created_at: datetime
