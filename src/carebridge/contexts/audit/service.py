"""Appending to and verifying the audit trail.

`record` queues an entry on the session; the entries are chained and inserted in the session's
`before_commit`, under a lock on the single `audit_head` row. That keeps the lock for the shortest
time (only the commit) while the entry still commits or rolls back with the change it describes.
An entry whose outcome is a refusal is written even when the request's transaction rolls back.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import event, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from carebridge.contexts.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from carebridge.engines.audit_chain import (
    GENESIS_HASH,
    Checkpoint,
    VerifyReport,
    checkpoint_message,
    link_hash,
    verify_chain,
)
from carebridge.kernel.ids import new_id
from carebridge.security import Principal

PENDING_KEY = "audit_pending"
SIGNER_KEY = "audit_signer"
CHECKPOINT_EVERY_KEY = "audit_checkpoint_every"


@dataclass(frozen=True)
class AuditSigner:
    private_key: Ed25519PrivateKey

    @property
    def public_key_hex(self) -> str:
        raw = self.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return raw.hex()


def record(
    session: Session,
    principal: Principal | None,
    *,
    action: str,
    resource_type: str,
    resource_id: str | uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    purpose: str = "treatment",
    outcome: str = "success",
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Queue one audit entry; it commits with the session's transaction (refusals commit regardless)."""
    req = session.info.get("request")
    entry: dict[str, Any] = {
        "id": new_id(),
        "at": at or datetime.now(UTC),
        "user_id": principal.user_id if principal else None,
        "username": principal.username if principal else None,
        "role": principal.role.value if principal else None,
        "organization_id": principal.organization_id if principal else None,
        "action": action,
        "resource_type": resource_type,
        "resource_id": str(resource_id) if resource_id is not None else None,
        "patient_id": patient_id,
        "purpose": purpose,
        "outcome": outcome,
        "client_address": (
            principal.client_address if principal and principal.client_address else getattr(req, "client_address", None)
        ),
        "request_id": (
            principal.request_id if principal and principal.request_id else getattr(req, "request_id", None)
        ),
        "detail": detail or {},
    }
    session.info.setdefault(PENDING_KEY, []).append(entry)
    if outcome != "success":
        signer = session.info.get(SIGNER_KEY)
        every = session.info.get(CHECKPOINT_EVERY_KEY, 1000)

        def _keep(fresh: Session, entry: dict[str, Any] = entry) -> None:
            fresh.info[SIGNER_KEY] = signer
            fresh.info[CHECKPOINT_EVERY_KEY] = every
            fresh.info.setdefault(PENDING_KEY, []).append(entry)

        session.info.setdefault("after_rollback", []).append(_keep)


def _lock_head(session: Session) -> AuditHead:
    stmt = select(AuditHead).where(AuditHead.id == 1)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    head = session.execute(stmt).scalar_one_or_none()
    if head is None:
        session.execute(insert(AuditHead).values(id=1, seq=0, hash=GENESIS_HASH, since_checkpoint=0))
        if session.get_bind().dialect.name == "postgresql":
            session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update())
        head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one()
    return head


def _append_pending(session: Session) -> None:
    pending: list[dict[str, Any]] = session.info.pop(PENDING_KEY, [])
    if not pending:
        return
    session.flush()
    head = _lock_head(session)
    seq, prev, since = head.seq, head.hash, head.since_checkpoint
    rows = []
    for entry in pending:
        seq += 1
        entry["seq"] = seq
        entry["prev_hash"] = prev
        entry["hash"] = link_hash(prev, entry)
        prev = entry["hash"]
        rows.append(entry)
        since += 1
    session.execute(insert(AuditEntry), rows)
    signer: AuditSigner | None = session.info.get(SIGNER_KEY)
    every: int = session.info.get(CHECKPOINT_EVERY_KEY, 1000)
    if signer is not None and since >= every:
        _write_checkpoint(session, signer, seq, prev)
        since = 0
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev, since_checkpoint=since))


def _write_checkpoint(session: Session, signer: AuditSigner, seq: int, entry_hash: str) -> None:
    signed_at = datetime.now(UTC)
    sig = signer.private_key.sign(checkpoint_message(seq, entry_hash, signed_at))
    session.execute(
        insert(AuditCheckpoint).values(
            seq=seq,
            hash=entry_hash,
            signed_at=signed_at,
            signature=base64.b64encode(sig).decode(),
            public_key=signer.public_key_hex,
        )
    )


def install(factory: sessionmaker[Session], signer: AuditSigner, *, checkpoint_every: int) -> None:
    """Make every session of this factory chain its queued audit entries at commit."""
    factory.kw.setdefault("info", {})
    factory.kw["info"][SIGNER_KEY] = signer
    factory.kw["info"][CHECKPOINT_EVERY_KEY] = checkpoint_every
    event.listen(factory, "before_commit", _append_pending)


def checkpoint_now(session: Session, signer: AuditSigner) -> int | None:
    """Sign the current head (at shutdown, or on demand) unless it is already signed."""
    head = _lock_head(session)
    if head.seq == 0:
        return None
    exists = session.execute(select(AuditCheckpoint.seq).where(AuditCheckpoint.seq == head.seq)).first()
    if exists is None:
        _write_checkpoint(session, signer, head.seq, head.hash)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(since_checkpoint=0))
    return head.seq


def _iter_entries(session: Session, batch: int = 5000) -> Iterator[dict[str, Any]]:
    last = 0
    cols = [
        getattr(AuditEntry, name)
        for name in (
            "seq",
            "id",
            "at",
            "user_id",
            "username",
            "role",
            "organization_id",
            "action",
            "resource_type",
            "resource_id",
            "patient_id",
            "purpose",
            "outcome",
            "client_address",
            "request_id",
            "detail",
            "prev_hash",
            "hash",
        )
    ]
    while True:
        rows = session.execute(select(*cols).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch)).all()
        if not rows:
            return
        for row in rows:
            yield dict(row._mapping)
        last = rows[-1].seq


def verify(session: Session, public_key: Ed25519PublicKey) -> VerifyReport:
    """Walk the whole chain; the server's own public key is the only one trusted for checkpoints."""

    def _check(message: bytes, signature: bytes) -> bool:
        try:
            public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    cps = [
        Checkpoint(seq=c.seq, hash=c.hash, signed_at=c.signed_at, signature=base64.b64decode(c.signature))
        for c in session.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)).scalars()
    ]
    head_row = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one_or_none()
    head = (head_row.seq, head_row.hash) if head_row else (0, GENESIS_HASH)
    return verify_chain(_iter_entries(session), cps, verify_signature=_check, head=head)


def count_entries(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(AuditEntry)).scalar_one())
