"""Users' Ed25519 signing keys: one the server holds for them (made on first need), or ones they register.

A server-held private key is stored sealed (AES-256-GCM) under a key derived from the server secret, bound to
its owner's user id, so a database dump alone cannot sign. If the secret changes and a sealed key no longer
opens, the user gets a fresh key; earlier signatures still verify, because verification needs only the
public key kept on the row.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts import audit
from carebridge.contexts.documents import crypto
from carebridge.contexts.documents.models import SigningKey
from carebridge.contexts.documents.schemas import KeySource, SigningKeyCreate, SigningKeyRead
from carebridge.contexts.documents.vault import Vault
from carebridge.kernel.errors import NotFound, ValidationProblem
from carebridge.security import Permission, Principal, require

MAX_CLIENT_KEYS = 20  # active registered keys per user: a device each, not an unbounded list


def bad(field: str, message: str, where: str = "body") -> ValidationProblem:
    return ValidationProblem(f"{field}: {message}", errors=[{"field": field, "in": where, "message": message}])


def key_read(key: SigningKey) -> SigningKeyRead:
    return SigningKeyRead(id=key.id, source=KeySource(key.source), public_key=base64.b64encode(key.public_key).decode(),
                          label=key.label, active=key.active, created_at=key.created_at)


def _aad(user_id: uuid.UUID) -> bytes:
    return b"carebridge-signing-key\n" + user_id.bytes


def server_key_for(session: Session, *, vault: Vault, user_id: uuid.UUID,
                   now: datetime) -> tuple[SigningKey, Ed25519PrivateKey]:
    """The user's server-held key, made (and its private part sealed) the first time they upload."""
    rows = session.scalars(select(SigningKey).where(SigningKey.user_id == user_id,
                                                    SigningKey.source == KeySource.server.value,
                                                    SigningKey.active.is_(True))
                           .order_by(SigningKey.created_at.desc(), SigningKey.id.desc())).all()
    for row in rows:
        if row.wrapped_private_key is None:
            continue
        try:
            raw = crypto.open_sealed(vault.signing_wrap_key, row.wrapped_private_key, _aad(user_id))
        except crypto.DecryptionFailed:
            row.active = False  # sealed under an earlier server secret: keep it for verifying, stop signing
            continue
        return row, Ed25519PrivateKey.from_private_bytes(raw)
    private = Ed25519PrivateKey.generate()
    row = SigningKey(id=uuid.uuid4(), user_id=user_id, source=KeySource.server.value,
                     public_key=crypto.raw_public_key(private),
                     wrapped_private_key=crypto.seal(vault.signing_wrap_key, crypto.raw_private_key(private),
                                                     _aad(user_id)),
                     label="server-held", active=True, created_at=now)
    session.add(row)
    session.flush()
    return row, private


def client_key_for(session: Session, *, user_id: uuid.UUID, key_id: uuid.UUID | None) -> SigningKey:
    """The registered key a client says it signed with (or its newest one); 422 if there is none."""
    q = select(SigningKey).where(SigningKey.user_id == user_id, SigningKey.source == KeySource.client.value,
                                 SigningKey.active.is_(True))
    if key_id is not None:
        q = q.where(SigningKey.id == key_id)
    key = session.scalars(q.order_by(SigningKey.created_at.desc(), SigningKey.id.desc()).limit(1)).first()
    if key is None:
        if key_id is not None:
            raise bad("key_id", "you have no active registered signing key with this id")
        raise bad("signature", "you have not registered a public key: POST /api/v1/me/signing-keys first, "
                  "or leave out the signature to have the server sign")
    return key


def register_public_key(session: Session, principal: Principal, *, data: SigningKeyCreate,
                        now: datetime) -> SigningKeyRead:
    """Registers a client-held Ed25519 public key; uploads signed with its private key are then accepted."""
    require(principal, Permission.document_write)
    try:
        raw = crypto.parse_public_key(data.public_key)
    except ValueError as exc:
        raise bad("public_key", str(exc)) from exc
    existing = session.scalars(select(SigningKey).where(SigningKey.user_id == principal.user_id,
                                                        SigningKey.source == KeySource.client.value,
                                                        SigningKey.active.is_(True))).all()
    for row in existing:
        if row.public_key == raw:
            return key_read(row)  # registering the same key twice is a no-op, so a client may retry
    if len(existing) >= MAX_CLIENT_KEYS:
        raise bad("public_key", f"you already have {MAX_CLIENT_KEYS} active keys")
    key = SigningKey(id=uuid.uuid4(), user_id=principal.user_id, source=KeySource.client.value, public_key=raw,
                     wrapped_private_key=None, label=data.label, active=True, created_at=now)
    session.add(key)
    session.flush()
    audit.record(session, principal, action="create", resource_type="SigningKey", resource_id=key.id,
                 detail={"source": "client"}, at=now)
    return key_read(key)


def list_keys(session: Session, principal: Principal) -> list[SigningKeyRead]:
    rows = session.scalars(select(SigningKey).where(SigningKey.user_id == principal.user_id)
                           .order_by(SigningKey.created_at.desc(), SigningKey.id.desc()).limit(100)).all()
    return [key_read(r) for r in rows]


def deactivate_key(session: Session, principal: Principal, *, key_id: uuid.UUID, now: datetime) -> SigningKeyRead:
    """Stops accepting uploads signed with one of your keys (a lost phone); documents it signed still verify."""
    key = session.get(SigningKey, key_id)
    if key is None or key.user_id != principal.user_id:
        raise NotFound("you have no signing key with this id")
    if key.active:
        key.active = False
        audit.record(session, principal, action="update", resource_type="SigningKey", resource_id=key.id,
                     detail={"active": False}, at=now)
    return key_read(key)
