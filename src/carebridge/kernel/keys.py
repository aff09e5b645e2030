"""Server secrets kept in the data dir: the token-signing secret and the server's Ed25519 key.

Generated on first start with owner-only permissions unless given in the environment, so a fresh
install is secure without configuration and keys survive restarts.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from carebridge.settings import Settings


@dataclass(frozen=True)
class ServerKeys:
    token_secret: bytes
    signing_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.signing_key.public_key()

    def public_key_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def load_or_create_keys(settings: Settings) -> ServerKeys:
    keydir = settings.data_dir / "keys"
    if settings.secret_key is not None:
        token_secret = settings.secret_key.get_secret_value().encode()
    else:
        secret_path = keydir / "token_secret"
        if not secret_path.exists():
            # another worker may win the race; then read theirs
            with contextlib.suppress(FileExistsError):
                _write_private(secret_path, secrets.token_urlsafe(48).encode())
        token_secret = secret_path.read_bytes().strip()
    key_path = keydir / "server_ed25519.pem"
    if not key_path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        with contextlib.suppress(FileExistsError):
            _write_private(key_path, pem)
    loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise RuntimeError(f"{key_path} is not an Ed25519 private key")
    return ServerKeys(token_secret=token_secret, signing_key=loaded)
