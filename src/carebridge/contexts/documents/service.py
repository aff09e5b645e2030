"""Document use cases: upload (sniff, hash, sign, encrypt, store), list, read, download and verify.

Every call asks the policy for `DataCategory.documents` through the patients context, so consent narrows
document access with no code here, and leaves an audit entry naming the document. The encrypted content is
written to the blob store before the row commits; a request that then fails leaves an unreferenced blob
(harmless ciphertext whose data key was never stored), never a row without content.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts import audit, patients
from carebridge.contexts.documents import crypto, signing, sniff
from carebridge.contexts.documents.masterkeys import MasterKeyMissing
from carebridge.contexts.documents.models import Document, DocumentDataKey, SigningKey
from carebridge.contexts.documents.schemas import (
    DocumentKind,
    DocumentPage,
    DocumentRead,
    KeySource,
    VerifyCheck,
    VerifyRead,
)
from carebridge.contexts.documents.storage import BlobNotFound, key_for
from carebridge.contexts.documents.vault import Vault
from carebridge.kernel.errors import Conflict, NotFound, PayloadTooLarge, Problem
from carebridge.kernel.events import emit
from carebridge.kernel.pagination import decode_cursor, encode_cursor
from carebridge.security import DataCategory, Permission, Principal

RESOURCE: Final = "DocumentReference"
SIGNED_AT_SKEW: Final = timedelta(minutes=15)  # a client's signed time must be this close to the server's
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Upload:
    """One upload as the router received it; the filename and declared type are only claims."""

    kind: DocumentKind
    content: bytes
    device_id: str
    title: str = ""
    filename: str = ""
    declared_type: str | None = None
    # client-held key: the client's signature over the canonical message, the time it signed, its key
    signature: bytes | None = None
    signed_at: datetime | None = None
    key_id: uuid.UUID | None = None


def clean_filename(name: str) -> str:
    """The last path component, without control characters: shown on pages, never used as a path."""
    return _CONTROL.sub("", re.split(r"[/\\]", name)[-1]).strip()[:255]


def _authorize(session: Session, principal: Principal, patient_id: uuid.UUID, permission: Permission, *,
               now: datetime) -> None:
    patients.load_patient_for(session, principal, patient_id, permission, now=now, audit_success=False,
                              action="read" if permission is Permission.document_read else "create",
                              category=DataCategory.documents)


def _trail(session: Session, principal: Principal, *, action: str, document_id: uuid.UUID | None,
           patient_id: uuid.UUID, now: datetime, detail: dict[str, Any] | None = None) -> None:
    audit.record(session, principal, action=action, resource_type=RESOURCE, resource_id=document_id,
                 patient_id=patient_id, detail=detail or {}, at=now)


def to_read(doc: Document, key_source: str) -> DocumentRead:
    return DocumentRead(id=doc.id, patient_id=doc.patient_id, kind=DocumentKind(doc.kind), title=doc.title,
                        media_type=doc.media_type, filename=doc.filename, size_bytes=doc.size_bytes,
                        sha256=doc.sha256, uploaded_by=doc.uploaded_by, uploaded_at=doc.uploaded_at,
                        device_id=doc.device_id, signing_key_id=doc.signing_key_id,
                        key_source=KeySource(key_source), signature=base64.b64encode(doc.signature).decode())


def _refuse_type(refusal: sniff.Refusal) -> Problem:
    title = "Unknown document type" if refusal.slug == "document-type-unknown" else "Document type mismatch"
    return Problem(refusal.detail, status=415, slug=refusal.slug, title=title,
                   extra={"found": refusal.found, "declared": refusal.declared,
                          "accepted": sorted(sniff.LABELS)})


def _bad(field: str, message: str) -> Problem:
    return signing.bad(field, message)


def upload_document(session: Session, principal: Principal, *, vault: Vault, patient_id: uuid.UUID, upload: Upload,
                    now: datetime) -> DocumentRead:
    """Stores one document: checked, hashed, signed by the uploader's key, encrypted under a fresh data key."""
    _authorize(session, principal, patient_id, Permission.document_write, now=now)
    if not 1 <= len(upload.device_id) <= 128 or not upload.device_id.isprintable():
        raise _bad("device_id", "1 to 128 printable characters, no line breaks")
    if _CONTROL.search(upload.title):
        raise _bad("title", "must not contain control characters")
    if upload.signed_at is not None and upload.signed_at.tzinfo is None:
        raise _bad("signed_at", "needs a UTC offset, e.g. 2026-03-10T09:30:00Z")
    if len(upload.content) > vault.max_bytes:
        raise PayloadTooLarge(f"documents are limited to {vault.max_bytes} bytes; this one is "
                              f"{len(upload.content)}", extra={"limit": vault.max_bytes})
    filename = clean_filename(upload.filename)
    checked = sniff.check(upload.content, filename=filename, declared_type=upload.declared_type)
    if isinstance(checked, sniff.Refusal):
        raise _refuse_type(checked)
    digest = crypto.sha256_hex(upload.content)
    key, signed_at, signature = _sign(session, principal, vault=vault, patient_id=patient_id, digest=digest,
                                      upload=upload, now=now)

    doc_id = uuid.uuid4()
    data_key = crypto.new_data_key()
    sealed = crypto.seal(data_key, upload.content, crypto.content_aad(doc_id))
    master_id, master = vault.keyring.current()
    storage_key = key_for(doc_id.hex)
    vault.store.put(storage_key, sealed)
    doc = Document(id=doc_id, patient_id=patient_id, kind=upload.kind.value, title=upload.title,
                   media_type=checked, filename=filename, size_bytes=len(upload.content), sha256=digest,
                   uploaded_by=principal.user_id, uploaded_at=signed_at, device_id=upload.device_id,
                   signing_key_id=key.id, signature=signature, storage_key=storage_key, created_at=now)
    session.add(doc)
    session.flush()
    session.add(DocumentDataKey(document_id=doc_id, master_key_id=master_id, wrapped_at=now,
                                wrapped_key=crypto.seal(master, data_key, crypto.wrap_aad(doc_id, master_id))))
    _trail(session, principal, action="create", document_id=doc_id, patient_id=patient_id, now=now,
           detail={"kind": upload.kind.value, "media_type": checked, "size": len(upload.content),
                   "key_source": key.source})
    emit(session, "documents.uploaded", {"document_id": str(doc_id), "patient_id": str(patient_id),
                                         "kind": upload.kind.value, "media_type": checked,
                                         "size_bytes": len(upload.content), "sha256": digest,
                                         "uploaded_by": str(principal.user_id), "key_source": key.source})
    return to_read(doc, key.source)


def _sign(session: Session, principal: Principal, *, vault: Vault, patient_id: uuid.UUID, digest: str,
          upload: Upload, now: datetime) -> tuple[SigningKey, datetime, bytes]:
    """The key, time and signature of the upload: the server signs now, or the client's signature is checked."""
    if upload.signature is None:
        if upload.signed_at is not None or upload.key_id is not None:
            raise _bad("signature", "signed_at and key_id go with a client signature; send it too, or neither")
        key, private = signing.server_key_for(session, vault=vault, user_id=principal.user_id, now=now)
        message = crypto.canonical_message(sha256=digest, patient_id=patient_id, uploader_id=principal.user_id,
                                           at=now, device_id=upload.device_id)
        return key, now, crypto.sign(private, message)
    if upload.signed_at is None:
        raise _bad("signed_at", "a client signature needs the time that was signed")
    if abs(upload.signed_at - now) > SIGNED_AT_SKEW:
        raise _bad("signed_at", f"must be within {int(SIGNED_AT_SKEW.total_seconds() // 60)} minutes of the "
                   f"server's time ({crypto.format_time(now)})")
    key = signing.client_key_for(session, user_id=principal.user_id, key_id=upload.key_id)
    message = crypto.canonical_message(sha256=digest, patient_id=patient_id, uploader_id=principal.user_id,
                                       at=upload.signed_at, device_id=upload.device_id)
    if not crypto.verify_signature(key.public_key, upload.signature, message):
        raise Problem("the signature does not verify with your registered key over this content, patient, "
                      "time and device (see docs/documents.md for the exact message)", status=422,
                      slug="signature-invalid", title="Signature invalid",
                      extra={"key_id": str(key.id), "sha256": digest})
    return key, upload.signed_at, upload.signature


def _document(session: Session, patient_id: uuid.UUID, document_id: uuid.UUID) -> tuple[Document, str]:
    row = session.execute(select(Document, SigningKey.source).join(SigningKey, SigningKey.id ==
                                                                    Document.signing_key_id)
                          .where(Document.id == document_id)).first()
    if row is None or row[0].patient_id != patient_id:
        raise NotFound("no such document for this patient")
    return row[0], row[1]


def list_documents(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime, limit: int,
                   cursor: str | None, kind: DocumentKind | None = None) -> DocumentPage:
    _authorize(session, principal, patient_id, Permission.document_read, now=now)
    q = (select(Document, SigningKey.source).join(SigningKey, SigningKey.id == Document.signing_key_id)
         .where(Document.patient_id == patient_id))
    if kind is not None:
        q = q.where(Document.kind == kind.value)
    keys = decode_cursor(cursor, arity=2)
    if keys is not None:
        try:
            at, rid = datetime.fromisoformat(str(keys[0])), uuid.UUID(str(keys[1]))
        except ValueError as exc:
            raise _bad("cursor", "not one this server issued") from exc
        if at.tzinfo is None:
            raise _bad("cursor", "not one this server issued")
        q = q.where((Document.uploaded_at < at) | ((Document.uploaded_at == at) & (Document.id < rid)))
    rows = session.execute(q.order_by(Document.uploaded_at.desc(), Document.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    _trail(session, principal, action="search", document_id=None, patient_id=patient_id, now=now,
           detail={"count": len(rows)})
    last = rows[-1][0] if rows else None
    nxt = encode_cursor([last.uploaded_at.isoformat(), str(last.id)]) if more and last is not None else None
    return DocumentPage(items=[to_read(d, src) for d, src in rows], next_cursor=nxt, limit=limit)


def get_document(session: Session, principal: Principal, *, patient_id: uuid.UUID, document_id: uuid.UUID,
                 now: datetime) -> DocumentRead:
    _authorize(session, principal, patient_id, Permission.document_read, now=now)
    doc, source = _document(session, patient_id, document_id)
    _trail(session, principal, action="read", document_id=doc.id, patient_id=patient_id, now=now)
    return to_read(doc, source)


def find_document(session: Session, principal: Principal, *, document_id: uuid.UUID, now: datetime) -> DocumentRead:
    """One document by its id alone (a FHIR read names no patient): the policy is asked about its patient."""
    row = session.execute(select(Document, SigningKey.source).join(SigningKey, SigningKey.id ==
                                                                    Document.signing_key_id)
                          .where(Document.id == document_id)).first()
    if row is None:
        raise NotFound("no such document")
    doc, source = row[0], row[1]
    _authorize(session, principal, doc.patient_id, Permission.document_read, now=now)
    _trail(session, principal, action="read", document_id=doc.id, patient_id=doc.patient_id, now=now)
    return to_read(doc, source)


def _decrypt(session: Session, vault: Vault, doc: Document) -> bytes:
    """The plaintext; raises DecryptionFailed (tampered, truncated or missing bytes, or a lost master key)."""
    wrapped = session.get(DocumentDataKey, doc.id)
    if wrapped is None:
        raise crypto.DecryptionFailed("the document has no data key")
    try:
        master = vault.keyring.get(wrapped.master_key_id)
        sealed = vault.store.get(doc.storage_key)
    except (MasterKeyMissing, BlobNotFound, ValueError) as exc:
        raise crypto.DecryptionFailed(str(exc)) from exc
    data_key = crypto.open_sealed(master, wrapped.wrapped_key, crypto.wrap_aad(doc.id, wrapped.master_key_id))
    return crypto.open_sealed(data_key, sealed, crypto.content_aad(doc.id))


def download_document(session: Session, principal: Principal, *, vault: Vault, patient_id: uuid.UUID,
                      document_id: uuid.UUID, now: datetime) -> tuple[DocumentRead, bytes]:
    """The decrypted content; its hash is checked first, so tampered content is refused, never served."""
    _authorize(session, principal, patient_id, Permission.document_read, now=now)
    doc, source = _document(session, patient_id, document_id)
    try:
        content = _decrypt(session, vault, doc)
    except crypto.DecryptionFailed as exc:
        _trail(session, principal, action="read", document_id=doc.id, patient_id=patient_id, now=now,
               detail={"part": "content", "failed": "decrypt"})
        raise _integrity(f"the stored content cannot be decrypted ({exc})") from exc
    if crypto.sha256_hex(content) != doc.sha256:
        raise _integrity("the stored content does not match its recorded hash")
    _trail(session, principal, action="read", document_id=doc.id, patient_id=patient_id, now=now,
           detail={"part": "content", "size": len(content)})
    return to_read(doc, source), content


def _integrity(detail: str) -> Conflict:
    return Conflict(detail + "; GET .../verify says which checks fail", slug="document-integrity",
                    title="Document failed its integrity check")


def verify_document(session: Session, principal: Principal, *, vault: Vault, patient_id: uuid.UUID,
                    document_id: uuid.UUID, now: datetime) -> VerifyRead:
    """Decrypts, recomputes the hash and checks the signature over the recorded facts; says which passed."""
    _authorize(session, principal, patient_id, Permission.document_read, now=now)
    doc, _source = _document(session, patient_id, document_id)
    checks: list[VerifyCheck] = []
    computed: str | None = None
    try:
        computed = crypto.sha256_hex(_decrypt(session, vault, doc))
        checks.append(VerifyCheck(name="decrypted", passed=True, detail="the content decrypted and authenticated"))
    except crypto.DecryptionFailed as exc:
        checks.append(VerifyCheck(name="decrypted", passed=False, detail=f"cannot decrypt: {exc}"[:300]))
    hash_ok = computed is not None and computed == doc.sha256
    checks.append(VerifyCheck(name="hash_matches", passed=hash_ok,
                              detail="the content's SHA-256 equals the recorded hash" if hash_ok else
                              "the content could not be hashed" if computed is None else
                              "the content's SHA-256 differs from the recorded hash"))
    key = session.get(SigningKey, doc.signing_key_id)
    sig_ok = False
    if key is not None:
        try:
            message = crypto.canonical_message(sha256=doc.sha256, patient_id=doc.patient_id,
                                               uploader_id=doc.uploaded_by, at=doc.uploaded_at,
                                               device_id=doc.device_id)
            sig_ok = crypto.verify_signature(key.public_key, doc.signature, message)
        except ValueError:
            sig_ok = False
    checks.append(VerifyCheck(name="signature_valid", passed=sig_ok,
                              detail="the signature over hash, patient, uploader, time and device verifies"
                              if sig_ok else "the signature does not verify over the recorded facts"))
    owner_ok = key is not None and key.user_id == doc.uploaded_by
    checks.append(VerifyCheck(name="signer_is_uploader", passed=owner_ok,
                              detail="the signing key belongs to the recorded uploader" if owner_ok else
                              "the signing key does not belong to the recorded uploader"))
    verified = all(c.passed for c in checks)
    _trail(session, principal, action="verify", document_id=doc.id, patient_id=patient_id, now=now,
           detail={"verified": verified, "failed": [c.name for c in checks if not c.passed]})
    return VerifyRead(document_id=doc.id, verified=verified, checks=checks, recorded_sha256=doc.sha256,
                      computed_sha256=computed)
