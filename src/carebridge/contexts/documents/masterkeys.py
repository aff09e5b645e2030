"""The master keys that wrap documents' data keys, kept in the data dir like the other server keys.

`<data dir>/keys/documents/<id>.key` holds 32 random bytes (owner-only), and `current` names the key new
uploads are wrapped with. The current pointer is read on every use, so an API process notices a rotation
made by `carebridge keys rotate` in another process without restarting. A key file is deleted only once no
row names it any more.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path
from typing import Final

from carebridge.contexts.documents.crypto import new_data_key

_ID: Final = re.compile(r"^mk-[0-9a-f]{16}$")


class MasterKeyMissing(Exception):
    """A row names a master key that is not in the key directory (lost, or retired too early)."""


class MasterKeyring:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: dict[str, bytes] = {}

    def _path(self, key_id: str) -> Path:
        if not _ID.match(key_id):
            raise MasterKeyMissing(f"not a master key id: {key_id!r}")
        return self.directory / f"{key_id}.key"

    def ids(self) -> list[str]:
        if not self.directory.exists():
            return []
        return sorted(p.stem for p in self.directory.glob("mk-*.key") if _ID.match(p.stem))

    def get(self, key_id: str) -> bytes:
        if key_id not in self._cache:
            try:
                data = self._path(key_id).read_bytes()
            except FileNotFoundError as exc:
                raise MasterKeyMissing(f"master key {key_id} is not in {self.directory}") from exc
            if len(data) != 32:
                raise MasterKeyMissing(f"master key {key_id} is not 32 bytes")
            self._cache[key_id] = data
        return self._cache[key_id]

    def current(self) -> tuple[str, bytes]:
        """The key new data keys are wrapped with; the first one is made on first need."""
        pointer = self.directory / "current"
        try:
            key_id = pointer.read_text().strip()
        except FileNotFoundError:
            key_id = self.create()
            with contextlib.suppress(FileExistsError):
                _write_private(pointer, key_id.encode(), exclusive=True)
            key_id = pointer.read_text().strip()  # another process may have won the race: use theirs
        return key_id, self.get(key_id)

    def create(self) -> str:
        key_id = f"mk-{secrets.token_hex(8)}"
        _write_private(self._path(key_id), new_data_key(), exclusive=True)
        return key_id

    def make_current(self, key_id: str) -> None:
        self.get(key_id)
        _write_private(self.directory / "current", key_id.encode(), exclusive=False)

    def retire(self, key_id: str) -> None:
        """Delete a master key; the caller has checked that no row still names it."""
        self._cache.pop(key_id, None)
        with contextlib.suppress(FileNotFoundError):
            self._path(key_id).unlink()


def _write_private(path: Path, data: bytes, *, exclusive: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if exclusive:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
