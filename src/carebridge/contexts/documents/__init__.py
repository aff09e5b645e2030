"""Patient documents: lab reports, discharge summaries, prescriptions and images, uploaded as PDF, JPEG or PNG,
hashed, signed by the uploader's Ed25519 key, encrypted at rest with a per-document key, and verifiable.

Other contexts use the DTOs and `canonical_message` (what a client-held key signs) named here.
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

__all__ = [
    "DocumentKind",
    "DocumentPage",
    "DocumentRead",
    "KeySource",
    "SigningKeyCreate",
    "SigningKeyRead",
    "VerifyCheck",
    "VerifyRead",
    "canonical_message",
]
