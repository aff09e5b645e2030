"""Tables of the document store: the document's metadata and signature, its wrapped data key, signing keys.

The content itself is never in the database: it lives, encrypted, in the blob store under `storage_key`.
`DocumentDataKey` is a row of its own so a master-key rotation rewrites only these small rows (the wrapped
key and the id of the master key that wraps it), never the content or the signed metadata.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from carebridge.kernel.db import Base, utcnow
from carebridge.kernel.ids import new_id


class SigningKey(Base):
    """An Ed25519 key a user signs uploads with: held by the server (private part wrapped) or by the client."""

    __tablename__ = "document_signing_keys"
    __table_args__ = (Index("ix_document_signing_keys_user_source", "user_id", "source", "active"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(10))  # server | client
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))  # raw 32-byte Ed25519 public key
    # server keys only: the raw private key sealed with AES-GCM under a key derived from the server secret
    wrapped_private_key: Mapped[bytes | None] = mapped_column(LargeBinary(128), default=None)
    label: Mapped[str] = mapped_column(String(100), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_patient_uploaded", "patient_id", "uploaded_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    kind: Mapped[str] = mapped_column(String(30))  # lab_report | discharge_summary | prescription | image
    title: Mapped[str] = mapped_column(String(200), default="")
    media_type: Mapped[str] = mapped_column(String(50))  # sniffed from the content, never taken from the client
    filename: Mapped[str] = mapped_column(String(255), default="")
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))  # hex, of the plaintext
    uploaded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime]  # the time in the signed message
    device_id: Mapped[str] = mapped_column(String(128))
    signing_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("document_signing_keys.id"))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentDataKey(Base):
    """The document's AES-256 data key, wrapped (AES-GCM) by the master key `master_key_id`."""

    __tablename__ = "document_data_keys"

    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    master_key_id: Mapped[str] = mapped_column(String(40), index=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary(128))  # nonce || ciphertext+tag
    wrapped_at: Mapped[datetime] = mapped_column(default=utcnow)
