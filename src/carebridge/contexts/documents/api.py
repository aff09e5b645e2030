"""JSON API of patient documents: upload, list, metadata, download, verify, and client signing keys. Thin."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, File, Form, Query, UploadFile, status
from fastapi.responses import Response

from carebridge.contexts.documents import service, signing
from carebridge.contexts.documents.schemas import (
    DocumentKind,
    DocumentPage,
    DocumentRead,
    SigningKeyCreate,
    SigningKeyRead,
    VerifyRead,
)
from carebridge.contexts.documents.sniff import EXTENSION_FOR
from carebridge.contexts.documents.vault import VaultDep
from carebridge.contexts.identity import CurrentPrincipal
from carebridge.kernel.deps import ClockDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["documents"])

P: Final = "/patients/{patient_id}/documents"
# the upload paths, for the body-size middleware (the one route family above the general body limit)
UPLOAD_PATH_PATTERN: Final = re.compile(r"/api/v1/patients/[^/]+/documents")
READ_FORMATS: Final = "application/pdf, image/jpeg or image/png"


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {}}}


READ_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _problem("Not signed in."),
    403: _problem("Your role, relationship or the patient's consent does not allow this (the refusal is audited)."),
    404: _problem("No such patient or document."),
    422: _problem("Invalid input; `errors` lists the fields."),
}
UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    413: _problem("The file is larger than the document size limit (`limit` says how large)."),
    415: _problem("The content is not a PDF, JPEG or PNG, or the file name / declared type disagrees with it; "
                  "`found` and `declared` say what was seen."),
    422: _problem("Invalid input, or the client signature does not verify (`signature-invalid`)."),
}
DOWNLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    409: _problem("The stored content fails its integrity check and is not served; see `.../verify`."),
}
Limit = Annotated[int, Query(ge=1, le=100, description="Page size.")]
Cursor = Annotated[str | None, Query(max_length=512, description="`next_cursor` of the previous page.")]


def _signature(value: str | None) -> bytes | None:
    if value is None or value == "":
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise signing.bad("signature", "must be base64") from exc
    if len(raw) != 64:
        raise signing.bad("signature", f"an Ed25519 signature is 64 bytes; this is {len(raw)}")
    return raw


@router.post(P, summary="Upload a document (PDF, JPEG, PNG): hashed, signed and encrypted at rest",
             status_code=status.HTTP_201_CREATED, response_model=DocumentRead, responses=UPLOAD_ERRORS)
def upload_document(
    patient_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep, vault: VaultDep,
    file: Annotated[UploadFile, File(description=f"The document: {READ_FORMATS}, sniffed from its bytes.")],
    kind: Annotated[DocumentKind, Form()],
    device_id: Annotated[str, Form(min_length=1, max_length=128, description="The uploading device.")],
    title: Annotated[str, Form(max_length=200)] = "",
    signature: Annotated[str | None, Form(max_length=100, description=(
        "Client-held key: base64 Ed25519 signature over the canonical message. Leave out to have the server "
        "sign with your server-held key."))] = None,
    signed_at: Annotated[datetime | None, Form(description="Client-held key: the time in the signed message.")]
        = None,
    key_id: Annotated[uuid.UUID | None, Form(description="Client-held key: which registered key signed.")] = None,
) -> DocumentRead:
    """The content's type is taken from its first bytes; the file name and Content-Type must agree with it."""
    content = file.file.read(vault.max_bytes + 1)
    upload = service.Upload(kind=kind, content=content, device_id=device_id, title=title,
                            filename=(file.filename or "")[:255], declared_type=file.content_type,
                            signature=_signature(signature), signed_at=signed_at, key_id=key_id)
    return service.upload_document(session, principal, vault=vault, patient_id=patient_id, upload=upload,
                                   now=clock.now())


@router.get(P, summary="A patient's documents, newest first", response_model=DocumentPage, responses=READ_ERRORS)
def list_documents(patient_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                   limit: Limit = 20, cursor: Cursor = None, kind: DocumentKind | None = None) -> DocumentPage:
    return service.list_documents(session, principal, patient_id=patient_id, now=clock.now(), limit=limit,
                                  cursor=cursor, kind=kind)


@router.get(P + "/{document_id}", summary="One document's metadata, hash and signature", response_model=DocumentRead,
            responses=READ_ERRORS)
def get_document(patient_id: uuid.UUID, document_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                 clock: ClockDep) -> DocumentRead:
    return service.get_document(session, principal, patient_id=patient_id, document_id=document_id,
                                now=clock.now())


@router.get(P + "/{document_id}/content", summary="Download a document (decrypted; the download is audited)",
            response_class=Response, responses={**DOWNLOAD_ERRORS, 200: {
                "description": "The document's bytes.",
                "content": {"application/pdf": {}, "image/jpeg": {}, "image/png": {}}}})
def download_document(patient_id: uuid.UUID, document_id: uuid.UUID, session: SessionDep,
                      principal: CurrentPrincipal, clock: ClockDep, vault: VaultDep) -> Response:
    doc, content = service.download_document(session, principal, vault=vault, patient_id=patient_id,
                                             document_id=document_id, now=clock.now())
    name = f"document-{doc.id}{EXTENSION_FOR.get(doc.media_type, '')}"
    return Response(content, media_type=doc.media_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff", "X-Content-SHA256": doc.sha256})


@router.get(P + "/{document_id}/verify", summary="Check a document: decrypts, hash matches, signature verifies",
            response_model=VerifyRead, responses=READ_ERRORS)
def verify_document(patient_id: uuid.UUID, document_id: uuid.UUID, session: SessionDep,
                    principal: CurrentPrincipal, clock: ClockDep, vault: VaultDep) -> VerifyRead:
    return service.verify_document(session, principal, vault=vault, patient_id=patient_id, document_id=document_id,
                                   now=clock.now())


@router.post("/me/signing-keys", summary="Register an Ed25519 public key to sign uploads with on your device",
             status_code=status.HTTP_201_CREATED, response_model=SigningKeyRead,
             responses={401: READ_ERRORS[401], 403: _problem("Your role may not upload documents."),
                        422: READ_ERRORS[422]})
def register_signing_key(data: SigningKeyCreate, session: SessionDep, principal: CurrentPrincipal,
                         clock: ClockDep) -> SigningKeyRead:
    return signing.register_public_key(session, principal, data=data, now=clock.now())


@router.get("/me/signing-keys", summary="Your document signing keys (server-held and registered)",
            response_model=list[SigningKeyRead], responses={401: READ_ERRORS[401]})
def list_signing_keys(session: SessionDep, principal: CurrentPrincipal) -> list[SigningKeyRead]:
    return signing.list_keys(session, principal)


@router.post("/me/signing-keys/{key_id}/deactivate", summary="Stop accepting uploads signed with one of your keys",
             response_model=SigningKeyRead, responses={401: READ_ERRORS[401], 404: _problem("No such key of yours."),
                                                        422: READ_ERRORS[422]})
def deactivate_signing_key(key_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                           clock: ClockDep) -> SigningKeyRead:
    return signing.deactivate_key(session, principal, key_id=key_id, now=clock.now())
