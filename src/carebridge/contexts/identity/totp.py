"""Time-based one-time codes (RFC 6238) and the encrypted storage of their secrets.

The TOTP secret is a shared secret: a database dump must not let anyone mint codes, so it is stored
AES-256-GCM-encrypted under a key derived (HKDF-SHA256) from the server's token secret, with the
user id as associated data so a ciphertext copied onto another account does not decrypt.
A code is accepted for the current 30 s step and one step either side (clock drift), and never for
a step at or before the last one accepted, so a code seen over a shoulder cannot be replayed.
"""

from __future__ import annotations

import hmac
import os
import uuid
from datetime import datetime
from functools import lru_cache

import pyotp
import segno
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ISSUER = "CareBridge"
STEP_SECONDS = 30
DRIFT_STEPS = 1
_VERSION = b"\x01"
_NONCE_LEN = 12
_HKDF_INFO = b"carebridge/totp-secret/aes-256-gcm/v1"


class TotpSecretUnreadable(Exception):
    """The stored secret does not decrypt: the server secret changed or the row was tampered with."""


@lru_cache(maxsize=8)
def _key(token_secret: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(token_secret)


def new_secret() -> str:
    return pyotp.random_base32(length=32)  # 160 bits, as RFC 4226 recommends


def encrypt_secret(token_secret: bytes, user_id: uuid.UUID, secret: str) -> bytes:
    nonce = os.urandom(_NONCE_LEN)
    return _VERSION + nonce + AESGCM(_key(token_secret)).encrypt(nonce, secret.encode(), user_id.bytes)


def decrypt_secret(token_secret: bytes, user_id: uuid.UUID, blob: bytes) -> str:
    if len(blob) < 1 + _NONCE_LEN + 16 or blob[:1] != _VERSION:
        raise TotpSecretUnreadable("unknown TOTP secret format")
    nonce, ciphertext = blob[1 : 1 + _NONCE_LEN], blob[1 + _NONCE_LEN :]
    try:
        return AESGCM(_key(token_secret)).decrypt(nonce, ciphertext, user_id.bytes).decode()
    except InvalidTag as exc:
        raise TotpSecretUnreadable("TOTP secret does not decrypt with this server's key") from exc


def provisioning_uri(secret: str, account_name: str) -> str:
    return pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(name=account_name, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    svg: str = segno.make(uri, error="m").svg_inline(scale=4, title="Two-factor sign-in QR code")
    return svg


def normalise_code(code: str) -> str:
    return code.replace(" ", "").strip()


def step_of(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    """The code for one time step (tests and authenticator-less clients use it)."""
    return str(pyotp.TOTP(secret, interval=STEP_SECONDS).at(step * STEP_SECONDS))


def match_step(secret: str, code: str, *, now: datetime, last_step: int | None) -> tuple[int | None, bool]:
    """(the time step the code belongs to, or None; whether it was rejected only because it was already used)."""
    code = normalise_code(code)
    if len(code) != 6 or not code.isdigit():
        return None, False
    current = step_of(now)
    found: int | None = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        # compare every candidate so timing does not reveal which step matched
        if hmac.compare_digest(code_at(secret, step), code) and found is None:
            found = step
    if found is None:
        return None, False
    if last_step is not None and found <= last_step:
        return None, True
    return found, False
