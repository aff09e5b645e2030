"""Where encrypted document bytes live: a port with put/get/delete by key, and the local-directory default.

The store only ever sees ciphertext, so an S3-compatible adapter (the production alternative named in the
design) needs no trust beyond availability. Keys are chosen by the service (`<2 hex>/<document id>`), never
by a client.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Final, Protocol

_KEY: Final = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{32}$")


class BlobNotFound(Exception):
    pass


class BlobStore(Protocol):
    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...


def key_for(document_hex: str) -> str:
    return f"{document_hex[:2]}/{document_hex}"


class LocalDirectoryStore:
    """Files under a directory (by default `<data dir>/documents`), written atomically with owner-only rights."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"not a storage key: {key!r}")
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(key).unlink()
