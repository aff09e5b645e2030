"""The prescription's signature: Ed25519 by the server key over a canonical JSON of what was prescribed.

The hash covers the clinical content (patient, items, note); the signed statement binds that hash to the
prescriber, the prescription id and the signing time. Verification recomputes the hash from the stored rows,
so a change to any stored item after signing makes verification fail. The QR text is the same statement in a
compact form a pharmacy can check offline with the server's public key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from carebridge.contexts.prescribing.models import Prescription, PrescriptionItem

QR_PREFIX = "CBRX1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical_content(rx: Prescription, items: list[PrescriptionItem]) -> bytes:
    body: dict[str, Any] = {
        "patient": str(rx.patient_id),
        "note": rx.note,
        "items": [
            {"medication": i.medication, "ingredients": list(i.ingredients), "dose": i.dose, "unit": i.unit,
             "route": i.route, "times_per_day": i.times_per_day, "with_food": i.with_food,
             "duration_days": i.duration_days, "quantity": i.quantity, "refills": i.refills,
             "instructions": i.instructions}
            for i in sorted(items, key=lambda x: x.position)
        ],
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_hash(rx: Prescription, items: list[PrescriptionItem]) -> str:
    return hashlib.sha256(canonical_content(rx, items)).hexdigest()


def statement(rx_id: uuid.UUID, digest: str, prescriber: uuid.UUID, signed_at: datetime) -> bytes:
    seconds = int(signed_at.astimezone(UTC).timestamp())
    return f"{QR_PREFIX}.{rx_id}.{digest}.{prescriber}.{seconds}".encode()


def sign(key: Ed25519PrivateKey, rx: Prescription, items: list[PrescriptionItem], *, prescriber: uuid.UUID,
         at: datetime) -> tuple[str, str]:
    """(content hash, signature) for the prescription as it is now."""
    digest = content_hash(rx, items)
    return digest, _b64(key.sign(statement(rx.id, digest, prescriber, at)))


def verify(public: Ed25519PublicKey, rx: Prescription, items: list[PrescriptionItem]) -> tuple[bool, str]:
    if rx.signature is None or rx.signed_at is None or rx.signed_by is None or rx.content_hash is None:
        return False, "not signed"
    digest = content_hash(rx, items)
    if digest != rx.content_hash:
        return False, "the prescription's content changed after it was signed"
    try:
        public.verify(_unb64(rx.signature), statement(rx.id, digest, rx.signed_by, rx.signed_at))
    except (InvalidSignature, ValueError):
        return False, "the signature does not match"
    return True, "signature valid"


def qr_text(rx: Prescription) -> str:
    """Compact signed text for the printed QR code: the statement plus its signature."""
    if rx.signature is None or rx.signed_at is None or rx.signed_by is None or rx.content_hash is None:
        raise ValueError("only a signed prescription has a QR text")
    return statement(rx.id, rx.content_hash, rx.signed_by, rx.signed_at).decode() + "." + rx.signature


def verify_qr_text(public: Ed25519PublicKey, text: str) -> bool:
    """True when the text was signed by this server (the pharmacy then compares the hash with the record)."""
    body, _, sig = text.rpartition(".")
    if not body.startswith(QR_PREFIX + ".") or not sig or len(text) > 400:
        return False
    try:
        public.verify(_unb64(sig), body.encode())
    except (InvalidSignature, ValueError):
        return False
    return True
