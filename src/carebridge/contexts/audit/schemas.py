"""What the audit API shows: a patient's access log, the admins' entry listing and the chain report."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from carebridge.kernel.pagination import Page


class AccessActor(BaseModel):
    """Who reached the record. Null username and role mean the system itself (a job, an import)."""

    model_config = ConfigDict(frozen=True)

    username: str | None = Field(None, max_length=64)
    role: str | None = Field(None, max_length=32)
    organization_id: uuid.UUID | None = None
    organization_name: str | None = Field(None, max_length=200)


class AccessLogEntryRead(BaseModel):
    """One access to a patient's record, as the patient (or their caregiver) sees it."""

    id: uuid.UUID
    seq: int = Field(description="Position in the audit chain; newer entries have larger numbers.")
    at: datetime
    who: AccessActor
    action: str = Field(max_length=32, examples=["read"])
    resource_type: str = Field(max_length=64, examples=["patient"])
    resource_id: str | None = Field(None, max_length=64)
    purpose: str = Field(max_length=32, examples=["treatment"])
    outcome: str = Field(max_length=16, examples=["success", "denied", "failure"])


class AccessLogPage(Page[AccessLogEntryRead]):
    """Newest first; follow `next_cursor` for older entries."""

    patient_id: uuid.UUID


class AuditEntryRead(BaseModel):
    """A full audit entry with its chain links, for administrators."""

    seq: int
    id: uuid.UUID
    at: datetime
    user_id: uuid.UUID | None = None
    username: str | None = Field(None, max_length=64)
    role: str | None = Field(None, max_length=32)
    organization_id: uuid.UUID | None = None
    organization_name: str | None = Field(None, max_length=200)
    action: str = Field(max_length=32)
    resource_type: str = Field(max_length=64)
    resource_id: str | None = Field(None, max_length=64)
    patient_id: uuid.UUID | None = None
    purpose: str = Field(max_length=32)
    outcome: str = Field(max_length=16)
    client_address: str | None = Field(None, max_length=64)
    request_id: str | None = Field(None, max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditEntryPage(Page[AuditEntryRead]):
    """Newest first; follow `next_cursor` for older entries."""


class AuditEntryFilter(BaseModel):
    """The admin listing's filters; every one optional, all combined with AND."""

    model_config = ConfigDict(frozen=True)

    patient_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    action: str | None = Field(None, max_length=32)
    resource_type: str | None = Field(None, max_length=64)
    outcome: str | None = Field(None, max_length=16)
    since: datetime | None = Field(None, description="Entries at or after this instant (with a time zone).")
    until: datetime | None = Field(None, description="Entries before this instant (with a time zone).")


class AuditVerifyRead(BaseModel):
    """The result of walking the whole chain."""

    ok: bool
    entries_checked: int
    checkpoints_checked: int
    first_broken_seq: int | None = Field(None, description="The lowest entry that cannot be trusted.")
    problem: str | None = Field(None, max_length=500)
    last_seq: int = Field(description="The last entry the walk reached.")
    last_checkpoint_seq: int | None = Field(None, description="The newest entry covered by a valid signature.")
    unsigned_entries: int = Field(description="Entries after the last valid checkpoint (chain-protected only).")
    public_key: str = Field(max_length=64, description="Hex Ed25519 public key the checkpoints were checked with.")
