"""The signed emergency card: canonical plain text that fits a QR code, with an Ed25519 signature.

Format (version 1), UTF-8, lines separated by LF, each `Label: value`:

    CAREBRIDGE EMERGENCY CARD v1
    Name: Meera Iyer
    Born: 1990-01-05
    Blood: O+
    Allergies: penicillin; peanuts
    Conditions: asthma
    Medications: salbutamol inhaler
    Contact: Ravi Iyer (husband) +91 98200 22222
    Notes: ...
    Issued: 2026-03-10T09:30Z
    Key: 3f9a1c0b7d2e4a61
    Sig: <base64url Ed25519 signature, no padding>

Every line but `Sig` is signed: the signature covers the bytes from the first character up to and
including the LF before `Sig: `. Any phone's QR reader shows it as readable text, so a first
responder needs no app; `carebridge verify-card` (or any Ed25519 library and the server's public key
from `/.well-known/carebridge-card-key.pem`) proves it came from this server and was not edited.
Values are cleaned so the text stays canonical: control characters become spaces, runs of spaces
collapse, list items are joined with "; " (a ";" inside an item becomes ","). Lines with no value are
left out. `Key` is the first 16 hex digits of SHA-256 of the raw 32-byte public key.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import segno
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

HEADER = "CAREBRIDGE EMERGENCY CARD v1"
SIG_PREFIX = "Sig: "
MAX_CARD_BYTES = 1400
"""Kept well under a QR code's capacity (2,331 bytes at level M) so the code stays easy to scan."""
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class CardContact:
    name: str
    relationship: str | None
    phone: str


@dataclass(frozen=True, slots=True)
class CardData:
    name: str
    birth_date: str | None
    blood_group: str | None
    allergies: Sequence[str]
    conditions: Sequence[str]
    medications: Sequence[str]
    contacts: Sequence[CardContact]
    notes: str | None
    issued_at: datetime


@dataclass(frozen=True, slots=True)
class Verification:
    valid: bool
    key_id: str | None
    reason: str


def clean(value: str | None) -> str:
    """One line of canonical text: no control characters, single spaces, trimmed."""
    if not value:
        return ""
    return _SPACES.sub(" ", "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in value)).strip()


def _items(values: Iterable[str]) -> str:
    return "; ".join(v for v in (clean(x).replace(";", ",") for x in values) if v)


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def body_lines(data: CardData, kid: str) -> list[str]:
    lines = [HEADER, f"Name: {clean(data.name)}"]
    optional = [("Born", clean(data.birth_date)), ("Blood", clean(data.blood_group)),
                ("Allergies", _items(data.allergies)), ("Conditions", _items(data.conditions)),
                ("Medications", _items(data.medications))]
    lines += [f"{label}: {value}" for label, value in optional if value]
    for c in data.contacts:
        rel = f" ({clean(c.relationship)})" if clean(c.relationship) else ""
        lines.append(f"Contact: {clean(c.name)}{rel} {clean(c.phone)}")
    if clean(data.notes):
        lines.append(f"Notes: {clean(data.notes)}")
    lines.append("Issued: " + data.issued_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ"))
    lines.append(f"Key: {kid}")
    return lines


def _fit(data: CardData, kid: str) -> str:
    """The signed part, trimmed (notes first, then the longest lists) until the card fits a QR code."""
    room = MAX_CARD_BYTES - len(SIG_PREFIX) - 86 - 1
    current = data
    while True:
        text = "\n".join(body_lines(current, kid)) + "\n"
        if len(text.encode()) <= room:
            return text
        if current.notes:
            current = dataclasses.replace(current, notes=None)
            continue
        sizes = {"medications": len(current.medications), "conditions": len(current.conditions),
                 "allergies": len(current.allergies), "contacts": len(current.contacts)}
        name = max(sizes, key=lambda k: sizes[k])
        if sizes[name] == 0:
            raise ValueError("the card's fixed lines alone do not fit a QR code")
        if name == "contacts":
            current = dataclasses.replace(current, contacts=list(current.contacts)[:-1])
        elif name == "allergies":
            current = dataclasses.replace(current, allergies=list(current.allergies)[:-1])
        elif name == "conditions":
            current = dataclasses.replace(current, conditions=list(current.conditions)[:-1])
        else:
            current = dataclasses.replace(current, medications=list(current.medications)[:-1])


def sign_card(data: CardData, signing_key: Ed25519PrivateKey) -> str:
    signed = _fit(data, key_id(signing_key.public_key()))
    return signed + SIG_PREFIX + _b64(signing_key.sign(signed.encode()))


MAX_INPUT_CHARS = 8000
"""Longer input is no card of ours; refused before any parsing."""


def normalise(text: str) -> str:
    """What a QR reader or a copy-paste may add is taken away: CR, a BOM, blank edges."""
    return text.replace("\ufeff", "").replace("\r\n", "\n").replace("\r", "\n").strip()


def verify_card(text: str, public_key: Ed25519PublicKey) -> Verification:
    if len(text) > MAX_INPUT_CHARS:
        return Verification(False, None, f"too long for a card ({len(text)} characters)")
    card = normalise(text)
    if not card.startswith(HEADER + "\n"):
        return Verification(False, None, "not a CareBridge emergency card (first line differs)")
    head, sep, sig = card.rpartition("\n" + SIG_PREFIX)
    if not sep or "\n" in sig:
        return Verification(False, None, "the card has no signature line at its end")
    signed = head + "\n"
    kid = next((line[5:] for line in head.split("\n") if line.startswith("Key: ")), None)
    try:
        raw = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    except (binascii.Error, ValueError):
        return Verification(False, kid, "the signature is not base64url")
    # base64 ignores the spare low bits of its last character: only the canonical spelling is accepted,
    # so no character of the card can change without the check failing
    if len(raw) != 64 or _b64(raw) != sig:
        return Verification(False, kid, "the signature is not a canonical 64-byte Ed25519 signature")
    if kid != key_id(public_key):
        return Verification(False, kid, "signed with a different key than the one given")
    try:
        public_key.verify(raw, signed.encode())
    except InvalidSignature:
        return Verification(False, kid, "bad signature: the card was changed or not issued by this server")
    return Verification(True, kid, "signature valid")


def parse_card(text: str) -> dict[str, list[str]]:
    """The card's signed lines as label -> values (a label may repeat, e.g. Contact); call after verifying."""
    out: dict[str, list[str]] = {}
    for line in normalise(text).split("\n")[1:]:
        label, sep, value = line.partition(": ")
        if sep and label != "Sig":
            out.setdefault(label, []).append(value)
    return out


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """A public key PEM, or the server's private key PEM (its public half is taken)."""
    try:
        loaded_pub = serialization.load_pem_public_key(pem)
    except ValueError:
        private = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError("not an Ed25519 key") from None
        return private.public_key()
    if not isinstance(loaded_pub, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return loaded_pub


def qr_svg(text: str, *, title: str) -> str:
    """The QR code of the card as a standalone SVG (byte mode: any reader shows the text)."""
    qr = segno.make(text, error="m", micro=False, encoding="utf-8")
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=4, border=4, xmldecl=False, svgns=True, title=title, svgclass="qr",
            lineclass=None, omitsize=False)
    return out.getvalue().decode()
