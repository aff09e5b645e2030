"""Consent DTOs: what a patient grants or withholds, and "who can see my record"."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from carebridge.contexts.audit import PurposeOfUse
from carebridge.security import ConsentKind, DataCategory


class GranteeType(StrEnum):
    practitioner = "practitioner"  # a practitioner record id, or a staff account id
    organization = "organization"
    caregiver = "caregiver"  # a caregiver account the patient linked


class ConsentEffect(StrEnum):
    allow = "allow"  # a grant: the grantee may reach these categories
    deny = "deny"  # a restriction: narrows what the grantee (e.g. a treating organization) reaches by default


class ConsentCategory(StrEnum):
    """A DataCategory, or `all` for every category (present and future)."""

    all = "all"
    demographics = "demographics"
    clinical = "clinical"
    documents = "documents"
    prescriptions = "prescriptions"
    vitals = "vitals"
    appointments = "appointments"
    mental_health = "mental_health"


Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=10, max_length=500)]


class ConsentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grantee_type: GranteeType
    grantee_id: uuid.UUID
    effect: ConsentEffect = ConsentEffect.allow
    categories: list[ConsentCategory] = Field(min_length=1, max_length=len(ConsentCategory))
    purposes: list[PurposeOfUse] = Field(default_factory=list, max_length=len(PurposeOfUse),
                                         description="Purposes of use the grant covers; empty = any purpose")
    expires_at: AwareDatetime | None = Field(None, description="When the grant lapses; must be in the future")
    note: Note | None = None


class ConsentRead(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    kind: ConsentKind
    grantee_type: GranteeType
    grantee_id: uuid.UUID = Field(description="The grantee's account id (organization id for an organization)")
    grantee_name: str = Field(max_length=200)
    grantee_practitioner_id: uuid.UUID | None = Field(
        None, description="For a practitioner grantee with a practitioner record: that record's id")
    categories: list[ConsentCategory] = Field(max_length=len(ConsentCategory))
    purposes: list[PurposeOfUse] = Field(max_length=len(PurposeOfUse))
    expires_at: datetime | None
    note: str | None = Field(None, max_length=500, description="The patient's note, or a break-glass reason")
    created_at: datetime
    revoked_at: datetime | None
    active: bool


class OrganizationAccessRead(BaseModel):
    """An organization that treats the patient, and what it reads by default after the patient's restrictions."""

    organization_id: uuid.UUID
    name: str = Field(max_length=200)
    categories: list[DataCategory] = Field(max_length=len(DataCategory))
    withheld: list[DataCategory] = Field(max_length=len(DataCategory))


class ConsentOverview(BaseModel):
    """Who can see the patient's record: treating organizations, explicit grants and restrictions, break-glass."""

    patient_id: uuid.UUID
    default_access: list[OrganizationAccessRead] = Field(max_length=1000)
    directives: list[ConsentRead] = Field(max_length=1000, description="Grants and restrictions, newest first")
    break_glass: list[ConsentRead] = Field(max_length=1000, description="Emergency openings, newest first")


class BreakGlassCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason = Field(description="Why the record is opened without consent (shown to the patient)")
    minutes: int | None = Field(None, ge=5, le=1440, description="How long it stays open; default from settings")
