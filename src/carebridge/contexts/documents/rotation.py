"""Master-key rotation: re-wrap every document's data key under a new master key, content untouched.

The new key becomes current before the re-wrap, so uploads made meanwhile already use it. Rows are re-wrapped
in batches inside the caller's transaction; only after it commits does `retire_unused` delete old key files,
and only those no row names any more (an upload that raced the rotation keeps its key alive until the next run).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts.documents import crypto
from carebridge.contexts.documents.masterkeys import MasterKeyring
from carebridge.contexts.documents.models import DocumentDataKey
from carebridge.kernel.clock import Clock

BATCH = 500


@dataclass
class RotationReport:
    new_key_id: str
    rewrapped: int = 0
    by_old_key: dict[str, int] = field(default_factory=dict)
    retired: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def start_rotation(keyring: MasterKeyring) -> str:
    """Makes a new master key and points new uploads at it."""
    new_id = keyring.create()
    keyring.make_current(new_id)
    return new_id


def rewrap_all(session: Session, keyring: MasterKeyring, *, new_key_id: str, clock: Clock) -> RotationReport:
    """Re-seals every data key not yet under `new_key_id`; content blobs are not read or written."""
    report = RotationReport(new_key_id=new_key_id)
    new_key = keyring.get(new_key_id)
    last = None
    while True:
        q = select(DocumentDataKey).where(DocumentDataKey.master_key_id != new_key_id)
        if last is not None:
            q = q.where(DocumentDataKey.document_id > last)
        rows = session.scalars(q.order_by(DocumentDataKey.document_id).limit(BATCH)).all()
        if not rows:
            break
        for row in rows:
            old = keyring.get(row.master_key_id)
            data_key = crypto.open_sealed(old, row.wrapped_key, crypto.wrap_aad(row.document_id, row.master_key_id))
            report.by_old_key[row.master_key_id] = report.by_old_key.get(row.master_key_id, 0) + 1
            row.wrapped_key = crypto.seal(new_key, data_key, crypto.wrap_aad(row.document_id, new_key_id))
            row.master_key_id = new_key_id
            row.wrapped_at = clock.now()
            report.rewrapped += 1
        session.flush()
        last = rows[-1].document_id
    return report


def retire_unused(session: Session, keyring: MasterKeyring, report: RotationReport) -> RotationReport:
    """Deletes old master keys that no committed row names; run after the re-wrap committed."""
    used = set(session.scalars(select(DocumentDataKey.master_key_id).distinct()))
    current = keyring.current()[0]
    for key_id in keyring.ids():
        if key_id == current or key_id == report.new_key_id:
            continue
        if key_id in used:
            report.kept.append(key_id)
        else:
            keyring.retire(key_id)
            report.retired.append(key_id)
    return report
