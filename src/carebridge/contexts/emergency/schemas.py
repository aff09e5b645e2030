"""DTOs of SOS and the emergency profile and card. Every string and list is bounded."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from carebridge.kernel.text import NoControl

MAX_ITEMS = 20
MAX_FACILITIES = 10


class SosStatus(StrEnum):
    raised = "raised"
    acknowledged = "acknowledged"
    closed = "closed"
    cancelled = "cancelled"


class SosAction(StrEnum):
    acknowledge = "acknowledge"
    close = "close"
    cancel = "cancel"


class LocationSource(StrEnum):
    current = "current"
    last_known = "last_known"


class BloodGroup(StrEnum):
    a_pos = "A+"
    a_neg = "A-"
    b_pos = "B+"
    b_neg = "B-"
    ab_pos = "AB+"
    ab_neg = "AB-"
    o_pos = "O+"
    o_neg = "O-"


Item = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80), NoControl]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), NoControl]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Location(_In):
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False)
    accuracy_m: float | None = Field(None, ge=0, le=100_000, allow_inf_nan=False)


class SosCreate(_In):
    """Raise an SOS. Without `location` the patient's last known position is used."""

    patient_id: uuid.UUID | None = Field(None, description="Required for a caregiver; a patient raises their own.")
    location: Location | None = None
    message: Note | None = None


class SosTransitionCreate(_In):
    action: SosAction
    note: Note | None = None


class SosFacility(BaseModel):
    id: uuid.UUID
    name: str
    phone: str | None
    distance_km: float = Field(description="Great-circle distance from the SOS location.")
    travel_minutes: float | None = Field(None, description="Rough road estimate.")
    lat: float
    lng: float
    address: str | None = None


class SosTransitionRead(BaseModel):
    status: SosStatus
    at: datetime
    by_user_id: uuid.UUID
    by_role: str
    by_name: str
    note: str | None


class SosRead(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    status: SosStatus
    location: Location
    location_source: LocationSource
    message: str | None
    raised_at: datetime
    updated_at: datetime
    raised_by_user_id: uuid.UUID
    patient_name: str
    facilities: list[SosFacility]
    alert_targets: int = Field(description="Emergency contacts and linked caregivers this SOS is for.")
    notified: int = Field(description="How many alerts were queued for them through the notifications outbox.")
    trail: list[SosTransitionRead]


class EmergencyProfileUpdate(_In):
    """The whole profile, replaced; emergency contacts are kept on the patient's own record."""

    blood_group: BloodGroup | None = None
    allergies: list[Item] = Field(default_factory=list, max_length=MAX_ITEMS)
    conditions: list[Item] = Field(default_factory=list, max_length=MAX_ITEMS)
    medications: list[Item] = Field(default_factory=list, max_length=MAX_ITEMS)
    notes: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300), NoControl] | None = None


class EmergencyContactCard(BaseModel):
    name: str
    relationship: str | None
    phone: str


class EmergencyProfileRead(BaseModel):
    patient_id: uuid.UUID
    name: str
    birth_date: str | None
    blood_group: BloodGroup | None
    allergies: list[str]
    conditions: list[str]
    medications: list[str]
    notes: str | None
    emergency_contacts: list[EmergencyContactCard]
    updated_at: datetime | None


class EmergencyCardRead(BaseModel):
    text: str = Field(description="The signed card as plain text: what the QR code holds.")
    qr_svg: str = Field(description="The QR code of `text`, as an SVG document.")
    key_id: str
    issued_at: datetime


class CardKeyRead(BaseModel):
    algorithm: str = "Ed25519"
    key_id: str
    public_key_pem: str


class SosList(BaseModel):
    items: list[SosRead]
