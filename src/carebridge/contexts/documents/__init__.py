"""Patient documents: lab reports, discharge summaries, prescriptions and images, uploaded as PDF, JPEG or PNG,
hashed, signed by the uploader's Ed25519 key, encrypted at rest with a per-document key, and verifiable.

Other contexts use the DTOs and `canonical_message` (what a client-held key signs) named here; the FHIR facade
(DocumentReference) uses the upload, read and list use cases, the vault and the accepted media types.
"""

from carebridge.contexts.documents.crypto import canonical_message
from carebridge.contexts.documents.schemas import (
    DocumentKind,
    DocumentPage,
    DocumentRead,
    KeySource,
    SigningKeyCreate,
    SigningKeyRead,
    VerifyCheck,
    VerifyRead,
)
from carebridge.contexts.documents.service import Upload, find_document, list_documents, upload_document
from carebridge.contexts.documents.sniff import LABELS as ACCEPTED_MEDIA_TYPES
from carebridge.contexts.documents.vault import Vault, app_vault, vault_for

__all__ = [
    "ACCEPTED_MEDIA_TYPES",
    "DocumentKind",
    "DocumentPage",
    "DocumentRead",
    "KeySource",
    "SigningKeyCreate",
    "SigningKeyRead",
    "Upload",
    "Vault",
    "VerifyCheck",
    "VerifyRead",
    "app_vault",
    "canonical_message",
    "find_document",
    "list_documents",
    "upload_document",
    "vault_for",
]
