"""What `carebridge import-fhir` remembers between runs, so a second run adds nothing and a broken run resumes.

`FhirImportKey` maps each source entry (its Bundle `fullUrl`, its `Type/id`, or an identifier) to the resource it
became here: an entry whose key is known is not created again, and references to it in later files resolve to
it. `FhirImportFile` marks a file (by the SHA-256 of its bytes) as done, so a re-run skips it unread; an NDJSON
file that stopped half-way records how many lines were committed and continues after them.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from carebridge.kernel.db import Base
from carebridge.kernel.ids import new_id


def key_digest(source_key: str) -> str:
    """Keys are hashed so a long fullUrl or identifier never exceeds the column."""
    return hashlib.sha256(source_key.encode()).hexdigest()


class FhirImportKey(Base):
    __tablename__ = "fhir_import_keys"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(300))
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class FhirImportFile(Base):
    __tablename__ = "fhir_import_files"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(16))  # running | done
    lines_done: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
