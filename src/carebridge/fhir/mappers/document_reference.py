"""DocumentReference <-> the documents context: a patient's PDF, JPEG or PNG, hashed, signed and encrypted at rest.

A served DocumentReference never carries the content inline: the bytes are encrypted at rest and decrypted only
for a caller the policy lets read them, through `content.attachment.url` (the documents API's download route,
which checks the policy again, audits the download and refuses content that fails its hash). The record keeps a
SHA-256 of the content, not the SHA-1 that R4 defines `attachment.hash` as, so the hash travels in an extension
(`SHA256_URL`, hex) rather than as a made-up `hash`.

A create needs the bytes (`attachment.data`, base64): they are sniffed, hashed, signed and encrypted by the
documents context's own upload (its media types and size limit, `Vault.max_bytes`). A resource the record
cannot hold answers 422 `code-invalid`, so `import-fhir` keeps it as JSON in the generic store (served here
too, `kept_json`): content by `url` only (the record holds documents, not pointers to them), a media type
other than PDF, JPEG or PNG, a `type` with no document kind here, a status other than `current`, more than one
content. The received body is kept (`received.keeping`) without `attachment.data` and `attachment.url`: the
plaintext must not sit beside the ciphertext, and the url is the record's own.
"""

from __future__ import annotations

import base64
import binascii
import copy
import dataclasses
import hashlib
import uuid
from typing import Any, Final

from carebridge.contexts import documents
from carebridge.contexts.documents import DocumentKind, DocumentRead
from carebridge.fhir.mappers import received
from carebridge.fhir.mappers.common import (
    LOINC,
    NONE,
    by_id,
    iso,
    one_code,
    patient_id,
    prune,
    stored,
    subject_id,
    token,
    unknown_code,
    window,
)
from carebridge.fhir.outcome import FhirError
from carebridge.fhir.registry import Context, Found, Mapper, Query, ReferenceParam, SearchParam, SortParam, Stored
from carebridge.fhir.search import collect
from carebridge.fhir.validate import check

TYPE: Final = "DocumentReference"
KIND_SYSTEM: Final = "urn:carebridge:document-kind"
STATUS_SYSTEM: Final = "http://hl7.org/fhir/document-reference-status"
SHA256_URL: Final = "urn:carebridge:fhir:extension:attachment-sha256"
DEVICE: Final = "fhir"  # the documents context records the uploading device; a FHIR client names none
# the document kind -> its LOINC document type (https://loinc.org, Document Ontology)
LOINC_TYPES: Final[dict[DocumentKind, tuple[str, str]]] = {
    DocumentKind.lab_report: ("11502-2", "Laboratory report"),
    DocumentKind.discharge_summary: ("18842-5", "Discharge summary"),
    DocumentKind.prescription: ("57833-6", "Prescription for medication"),
    DocumentKind.image: ("18748-4", "Diagnostic imaging study"),
}
KIND_OF_LOINC: Final = {code: kind for kind, (code, _) in LOINC_TYPES.items()}


def content_url(d: DocumentRead) -> str:
    return f"/api/v1/patients/{d.patient_id}/documents/{d.id}/content"


def to_fhir(d: DocumentRead) -> Stored:
    code, display = LOINC_TYPES[d.kind]
    attachment = prune({
        "extension": [{"url": SHA256_URL, "valueString": d.sha256}], "contentType": d.media_type,
        "url": content_url(d), "size": d.size_bytes, "title": d.title or d.filename or None,
        "creation": iso(d.uploaded_at)})
    body: dict[str, Any] = {
        "resourceType": TYPE, "id": str(d.id), "status": "current",
        "type": {"coding": [{"system": KIND_SYSTEM, "code": d.kind.value},
                            {"system": LOINC, "code": code, "display": display}], "text": display},
        "subject": {"reference": f"Patient/{d.patient_id}"}, "date": iso(d.uploaded_at),
        "description": d.title or None, "content": [{"attachment": attachment}],
    }
    return stored(prune(body), d.uploaded_at, d.uploaded_at)


def read(ctx: Context, rid: uuid.UUID) -> Stored:
    return to_fhir(documents.find_document(ctx.session, ctx.principal, document_id=rid, now=ctx.now))


def _kind(value: str) -> DocumentKind | None:
    """The document kind a `type` token names: ours (`urn:carebridge:document-kind|lab_report`), a LOINC code,
    or a bare code of either; None when it names no kind here."""
    t = token("type", value)
    by_kind = t.code if t.code in DocumentKind.__members__ else None
    if t.system is None:
        return DocumentKind(by_kind) if by_kind else KIND_OF_LOINC.get(t.code)
    if t.system == KIND_SYSTEM:
        return DocumentKind(by_kind) if by_kind else None
    return KIND_OF_LOINC.get(t.code) if t.system == LOINC else None


def search(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    if (found := by_id(ctx, query, read)) is not None:
        return found
    pid = patient_id(query, "patient", "subject")
    status_ok, status = one_code(query, "status", STATUS_SYSTEM)
    kinds = {_kind(v) for v in query.params.get("type", [])}
    if pid is None or not status_ok or status not in (None, "current") or None in kinds or len(kinds) > 1:
        return NONE
    kind = next(iter(kinds), None)
    w = window(query, "date")
    if w.empty:
        return NONE

    def keep(d: DocumentRead) -> bool:
        at = d.uploaded_at
        return (w.since is None or at >= w.since) and (w.before is None or at < w.before) and w.keep(at)

    def fetch(cur: str | None, limit: int) -> tuple[list[Any], str | None]:
        page = documents.list_documents(ctx.session, ctx.principal, patient_id=pid, now=ctx.now, limit=limit,
                                        cursor=cur, kind=kind)
        return list(page.items), page.next_cursor

    dated = w.since is not None or w.before is not None or bool(w.holes)
    return collect(fetch, keep, to_fhir, count, cursor, filtered=dated)


# --- create -------------------------------------------------------------------------------------------------


def _content(body: dict[str, Any]) -> dict[str, Any]:
    content = body.get("content") or []
    if len(content) != 1:
        raise unknown_code(TYPE, "content", "the record holds one content (one file) per document")
    attachment = content[0].get("attachment") or {}
    if attachment.get("data") is None:
        if attachment.get("url"):
            raise unknown_code(TYPE, "content[0].attachment.url",
                               "the record holds the document's bytes (attachment.data), not a link to them")
        raise FhirError(422, "the document's bytes are needed (content[0].attachment.data, base64)",
                        code="required", expression=[f"{TYPE}.content[0].attachment.data"])
    out: dict[str, Any] = attachment
    return out


def _bytes(attachment: dict[str, Any]) -> bytes:
    where = [f"{TYPE}.content[0].attachment.data"]
    try:
        content = base64.b64decode("".join(str(attachment["data"]).split()), validate=True)  # R4 allows spaces
    except (binascii.Error, ValueError) as exc:
        raise FhirError(422, "attachment.data is not base64", code="value", expression=where) from exc
    size = attachment.get("size")
    if size is not None and size != len(content):
        raise FhirError(422, f"attachment.size says {size} bytes; the data is {len(content)}", code="value",
                        expression=[f"{TYPE}.content[0].attachment.size"])
    sent_hash = attachment.get("hash")
    if sent_hash is not None:
        sha1 = base64.b64encode(hashlib.sha1(content, usedforsecurity=False).digest()).decode()
        if sent_hash != sha1:
            raise FhirError(422, "attachment.hash is not the SHA-1 of the data", code="value",
                            expression=[f"{TYPE}.content[0].attachment.hash"])
    return content


def _type(body: dict[str, Any]) -> DocumentKind:
    codings = (body.get("type") or {}).get("coding") or []
    for c in codings:
        system, code = c.get("system"), str(c.get("code") or "")
        if system == KIND_SYSTEM and code in DocumentKind.__members__:
            return DocumentKind(code)
        if system == LOINC and code in KIND_OF_LOINC:
            return KIND_OF_LOINC[code]
    kinds = ", ".join(f"{k.value} (LOINC {c})" for k, (c, _) in LOINC_TYPES.items())
    raise unknown_code(TYPE, "type", f"the record files a document as one of {kinds}")


def create(ctx: Context, body: dict[str, Any], resource_id: uuid.UUID | None, if_match: str | None) -> Stored:
    check(TYPE, body)
    try:
        return _create(ctx, body)
    except FhirError as exc:
        if not (_inline_data(body) and any(i.get("code") == "code-invalid" for i in exc.issues)):
            raise
        # `code-invalid` would have the importer keep the resource as JSON, bytes and all, in plaintext
        raise FhirError(422, f"{exc.issues[0].get('diagnostics', '')}; a document with its bytes is stored here "
                        "encrypted or not at all, so it is refused rather than kept as JSON",
                        code="not-supported", expression=exc.issues[0].get("expression", [])) from exc


def _inline_data(body: dict[str, Any]) -> bool:
    return any(isinstance(c, dict) and isinstance(c.get("attachment"), dict) and c["attachment"].get("data")
               is not None for c in body.get("content") or [])


def _create(ctx: Context, body: dict[str, Any]) -> Stored:
    pid = subject_id(body, "subject", TYPE)
    if body.get("status", "current") != "current":
        raise unknown_code(TYPE, "status", "the record holds current documents")
    attachment = _content(body)
    kind = _type(body)
    declared = attachment.get("contentType")
    if declared is not None and str(declared).split(";")[0].strip().lower() not in documents.ACCEPTED_MEDIA_TYPES:
        raise unknown_code(TYPE, "content[0].attachment.contentType",
                           f"the record holds {', '.join(sorted(documents.ACCEPTED_MEDIA_TYPES))} documents")
    content = _bytes(attachment)
    if ctx.vault is None:
        raise unknown_code(TYPE, "content", "documents are stored only through the API here (no documents vault)")
    title = str(body.get("description") or attachment.get("title") or "")[:200]
    upload = documents.Upload(kind=kind, content=content, device_id=DEVICE, title=title,
                              declared_type=str(declared) if declared is not None else None)
    return to_fhir(documents.upload_document(ctx.session, ctx.principal, vault=ctx.vault, patient_id=pid,
                                             upload=upload, now=ctx.now))


def _without_bytes(body: dict[str, Any]) -> dict[str, Any]:
    """The body to keep as received: no plaintext beside the ciphertext, no url but the record's own."""
    out = copy.deepcopy(body)
    for item in out.get("content") or []:
        attachment = item.get("attachment") if isinstance(item, dict) else None
        if isinstance(attachment, dict):
            attachment.pop("data", None)
            attachment.pop("url", None)
    return out


def _date(body: dict[str, Any]) -> str | None:
    value = body.get("date")
    return str(value) if value is not None else None


BASE = Mapper(
    type=TYPE, documentation="Patient documents (PDF, JPEG, PNG): read, search and create with the content "
    "inline (attachment.data); served with a link to the content, never the bytes.",
    search_params=(SearchParam("_id", "token", "The document's id."),
                   SearchParam("patient", "reference", "Patient/<id>: required (or subject)."),
                   SearchParam("subject", "reference", "Patient/<id>: required (or patient)."),
                   SearchParam("date", "date", "When the record received the document."),
                   SearchParam("type", "token", f"[{KIND_SYSTEM}|]<kind> or [{LOINC}|]<code>, e.g. lab_report."),
                   SearchParam("status", "token", "current (the record holds current documents).")),
    search=search, read=read, create=create, patient_param="patient",
    references=(ReferenceParam("patient", ("Patient",), "subject"), ReferenceParam("subject", ("Patient",),
                                                                                   "subject")),
    sort_params=(SortParam("date", _date),))


def _keeping(m: Mapper) -> Mapper:
    """`received.keeping`, with the body kept stripped of the content (see the module docstring)."""
    kept = received.keeping(m)

    def create_keeping(ctx: Context, body: dict[str, Any], rid: uuid.UUID | None, if_match: str | None) -> Stored:
        s = create(ctx, body, rid, if_match)
        return received.keep(ctx.session, s, _without_bytes(body), ctx.now, created=rid is None)

    return dataclasses.replace(kept, create=create_keeping)


MAPPER = _keeping(BASE)
