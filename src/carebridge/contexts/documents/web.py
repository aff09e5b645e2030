"""Document pages (no JavaScript): a patient's documents with the upload form, the verify page, the download.

The pages call the same services as the JSON API, so the policy, consent, the audit trail and the type
sniffing are the same. Uploads from a page are signed with the uploader's server-held key (a browser form has
no key of its own); a refused file comes back as a message on the form.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Final

from fastapi import File, Form, Query, UploadFile
from fastapi.responses import Response

from carebridge.contexts.documents import service
from carebridge.contexts.documents.schemas import DocumentKind
from carebridge.contexts.documents.sniff import EXTENSION_FOR
from carebridge.contexts.documents.vault import VaultDep
from carebridge.kernel.errors import NotFound, Problem
from carebridge.web.i18n import N_
from carebridge.web.render import SignedInPageDep, page_router, parse_uuid, signed_in

TEMPLATE_DIR: Final = Path(__file__).resolve().parent / "templates"
PAGE_SIZE: Final = 20
WEB_DEVICE_ID: Final = "web"
# the upload page's path, for the body-size middleware
UPLOAD_PAGE_PATTERN: Final = re.compile(r"/record/[^/]+/documents")
router = page_router()

KIND_LABELS: Final = {
    DocumentKind.lab_report.value: N_("Lab report"),
    DocumentKind.discharge_summary.value: N_("Discharge summary"),
    DocumentKind.prescription.value: N_("Prescription"),
    DocumentKind.image.value: N_("Image"),
}
CHECK_LABELS: Final = {
    "decrypted": N_("The stored content decrypts and is unaltered"),
    "hash_matches": N_("The content matches its recorded fingerprint (SHA-256)"),
    "signature_valid": N_("The uploader's signature over the fingerprint, patient, time and device is valid"),
    "signer_is_uploader": N_("The signing key belongs to the recorded uploader"),
}


def _documents_page(page: SignedInPageDep, patient_id: str, *, cursor: str | None = None,
                    error: str | None = None, status_code: int = 200, values: dict[str, str] | None = None,
                    uploaded: str | None = None) -> Response:
    principal, _me = signed_in(page)
    pid = parse_uuid(patient_id)
    if pid is None:
        raise NotFound("no such patient")
    result = service.list_documents(page.session, principal, patient_id=pid, now=page.clock.now(),
                                    limit=PAGE_SIZE, cursor=cursor)
    more = f"/record/{pid}/documents?cursor={result.next_cursor}" if result.next_cursor else None
    return page.render("documents/documents.html", status_code=status_code, patient_id=pid, items=result.items,
                       kinds=KIND_LABELS, more_url=more, error=error, values=values or {},
                       uploaded=uploaded, max_mb=round(page.settings.document_max_bytes / 1_048_576, 1))


@router.get("/record/{patient_id}/documents", summary="A patient's documents, with the upload form")
def documents_page(page: SignedInPageDep, patient_id: str,
                   cursor: Annotated[str | None, Query(max_length=512)] = None,
                   uploaded: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    return _documents_page(page, patient_id, cursor=cursor,
                           uploaded=uploaded if parse_uuid(uploaded) is not None else None)


@router.post("/record/{patient_id}/documents", summary="Upload a document to a patient's record")
def upload_submit(page: SignedInPageDep, vault: VaultDep, patient_id: str, file: Annotated[UploadFile, File()],
                  kind: Annotated[str, Form(max_length=30)] = "",
                  title: Annotated[str, Form(max_length=200)] = "") -> Response:
    principal, _me = signed_in(page)
    pid = parse_uuid(patient_id)
    if pid is None:
        raise NotFound("no such patient")
    values = {"kind": kind, "title": title}
    if kind not in KIND_LABELS:
        return _documents_page(page, patient_id, error=page._(N_("Choose what kind of document this is.")),
                               status_code=422, values=values)
    content = file.file.read(vault.max_bytes + 1)
    upload = service.Upload(kind=DocumentKind(kind), content=content, device_id=WEB_DEVICE_ID, title=title.strip(),
                            filename=(file.filename or "")[:255], declared_type=file.content_type)
    try:
        with page.session.begin_nested():  # a refused file leaves nothing behind but the audit of the refusal
            doc = service.upload_document(page.session, principal, vault=vault, patient_id=pid, upload=upload,
                                          now=page.clock.now())
    except Problem as exc:
        if exc.status == 413:
            message = page._(N_("This file is too large: documents may be up to {size} MB.")).format(
                size=round(vault.max_bytes / 1_048_576, 1))
        elif exc.status == 415:
            message = page._(N_("Only PDF, JPEG and PNG files can be uploaded, and the file name must match "
                                "the content. What was found: {detail}")).format(detail=exc.detail)
        elif exc.status == 422:
            message = page._(N_("Check the form: {detail}")).format(detail=exc.detail)
        else:
            raise
        return _documents_page(page, patient_id, error=message, status_code=exc.status, values=values)
    return page.redirect(f"/record/{pid}/documents?uploaded={doc.id}")


@router.get("/record/{patient_id}/documents/{document_id}/verify", summary="Verify a document's integrity")
def verify_page(page: SignedInPageDep, vault: VaultDep, patient_id: str, document_id: str) -> Response:
    principal, _me = signed_in(page)
    pid, did = parse_uuid(patient_id), parse_uuid(document_id)
    if pid is None or did is None:
        raise NotFound("no such document")
    now = page.clock.now()
    doc = service.get_document(page.session, principal, patient_id=pid, document_id=did, now=now)
    result = service.verify_document(page.session, principal, vault=vault, patient_id=pid, document_id=did, now=now)
    return page.render("documents/verify.html", doc=doc, result=result, kinds=KIND_LABELS, checks=CHECK_LABELS)


@router.get("/record/{patient_id}/documents/{document_id}/download", summary="Download a document")
def download_page(page: SignedInPageDep, vault: VaultDep, patient_id: str, document_id: str) -> Response:
    principal, _me = signed_in(page)
    pid, did = parse_uuid(patient_id), parse_uuid(document_id)
    if pid is None or did is None:
        raise NotFound("no such document")
    doc, content = service.download_document(page.session, principal, vault=vault, patient_id=pid, document_id=did,
                                             now=page.clock.now())
    name = f"document-{doc.id}{EXTENSION_FOR.get(doc.media_type, '')}"
    response = Response(content, media_type=doc.media_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
    page.finish(response)
    return response
