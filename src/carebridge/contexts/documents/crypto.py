"""The cryptography of a document, all from `cryptography`: hashing, the signed message, envelope encryption.

* The signature is Ed25519 over `canonical_message(...)`, a fixed, line-oriented byte string of the content's
  SHA-256, the patient, the uploader, the time and the device, so a client in any language can build the same
  bytes and a change to any of those facts in the database breaks the signature.
* Content is AES-256-GCM under a fresh random data key per document, with the document id as associated data
  (a blob moved to another document's key fails to decrypt). The data key is itself AES-GCM-sealed by a master
  key: rotating the master key re-seals 32-byte keys and never touches the content.
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MESSAGE_PREFIX = b"carebridge-document-signature-v1\n"
NONCE_BYTES = 12
DATA_KEY_BYTES = 32


class DecryptionFailed(Exception):
    """The ciphertext, its nonce or the key is not what was sealed: tampered, truncated or the wrong key."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def format_time(at: datetime) -> str:
    """The one spelling of a time in the signed message: UTC, microseconds, `Z`."""
    if at.tzinfo is None:
        raise ValueError("the signed time needs a time zone")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_message(*, sha256: str, patient_id: uuid.UUID, uploader_id: uuid.UUID, at: datetime,
                      device_id: str) -> bytes:
    """The bytes an uploader signs. Fields are one per line, so no value can run into the next one."""
    if "\n" in device_id or "\r" in device_id:
        raise ValueError("device_id may not contain a line break")
    lines = (f"sha256={sha256.lower()}\n"
             f"patient={patient_id}\n"
             f"uploader={uploader_id}\n"
             f"time={format_time(at)}\n"
             f"device={device_id}\n")
    return MESSAGE_PREFIX + lines.encode("utf-8")


def sign(private_key: Ed25519PrivateKey, message: bytes) -> bytes:
    return private_key.sign(message)


def verify_signature(public_key: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def raw_public_key(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def raw_private_key(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                     serialization.NoEncryption())


def parse_public_key(text: str) -> bytes:
    """A public key given as PEM (SubjectPublicKeyInfo) or as the base64 of its 32 raw bytes."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            loaded = serialization.load_pem_public_key(text.encode())
        except (ValueError, TypeError) as exc:
            raise ValueError("not a PEM public key") from exc
        if not isinstance(loaded, Ed25519PublicKey):
            raise ValueError("the PEM key is not an Ed25519 key")
        return loaded.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise ValueError("not base64 and not PEM") from exc
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key is 32 bytes; this is {len(raw)}")
    Ed25519PublicKey.from_public_bytes(raw)
    return raw


def derive_key(secret: bytes, purpose: bytes) -> bytes:
    """A 256-bit key for one purpose from the server secret (HKDF-SHA256), so one secret never serves two uses."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"carebridge-documents", info=purpose).derive(secret)


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM: nonce || ciphertext || tag."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    if len(sealed) < NONCE_BYTES + 16:
        raise DecryptionFailed("too short to be sealed data")
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except InvalidTag as exc:
        raise DecryptionFailed("authentication failed") from exc


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def wrap_aad(document_id: uuid.UUID, master_key_id: str) -> bytes:
    """The data key is bound to its document and to the master key id recorded beside it."""
    return b"carebridge-data-key\n" + document_id.bytes + master_key_id.encode()


def content_aad(document_id: uuid.UUID) -> bytes:
    return b"carebridge-document-content\n" + document_id.bytes
