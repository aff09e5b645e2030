"""The Bulk Data `$export` jobs and their NDJSON output, in the database so any process can answer a poll.

A job row records the request (kind, `_type`, `_since`), the requester (enough to act as them again when the
job runs: the export reads every resource through its mapper, with their policy and audit) and its state;
each output file is a row holding NDJSON text. Deleting a job (cancel, or after it expires) deletes its files.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from carebridge.kernel.db import Base
from carebridge.kernel.ids import new_id


class FhirExportJob(Base):
    __tablename__ = "fhir_export_jobs"
    __table_args__ = (Index("ix_fhir_export_jobs_status_created", "status", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    status: Mapped[str] = mapped_column(String(16))  # queued | running | done | failed | cancelled
    kind: Mapped[str] = mapped_column(String(16))  # system | patient | group
    group_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    types: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    since: Mapped[datetime | None] = mapped_column(default=None)
    request_url: Mapped[str] = mapped_column(String(2000))
    base_url: Mapped[str] = mapped_column(String(500))
    user_id: Mapped[uuid.UUID]
    role: Mapped[str] = mapped_column(String(32))
    username: Mapped[str] = mapped_column(String(100), default="")
    organization_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    patient_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    scopes: Mapped[str | None] = mapped_column(String(1000), default=None)
    purpose: Mapped[str] = mapped_column(String(40))
    progress: Mapped[str] = mapped_column(String(200), default="queued")
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class FhirExportFile(Base):
    __tablename__ = "fhir_export_files"
    __table_args__ = (Index("ix_fhir_export_files_job_type_seq", "job_id", "resource_type", "seq"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("fhir_export_jobs.id", ondelete="CASCADE"))
    resource_type: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
