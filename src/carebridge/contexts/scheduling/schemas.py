"""DTOs of the scheduling context: availability rules and exceptions, slots, appointments, the waitlist,
queue tokens and calendar feeds."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from carebridge.engines.slots import AppointmentKind, Break, check_rrule, check_session, zone_of
from carebridge.kernel.text import NoControl

Text200 = Annotated[str, StringConstraints(max_length=200, strip_whitespace=True), NoControl]
Reason = Annotated[str, StringConstraints(max_length=500, strip_whitespace=True), NoControl]
Department = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True,
                                              pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Name = Annotated[str, StringConstraints(max_length=100, strip_whitespace=True), NoControl]


class AppointmentStatus(StrEnum):
    booked = "booked"
    checked_in = "checked_in"
    completed = "completed"
    no_show = "no_show"
    cancelled = "cancelled"


class WaitlistStatus(StrEnum):
    waiting = "waiting"
    offered = "offered"
    booked = "booked"
    expired = "expired"
    cancelled = "cancelled"


class QueueStatus(StrEnum):
    waiting = "waiting"
    called = "called"
    done = "done"
    skipped = "skipped"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _aware(value: datetime | None) -> datetime | None:
    """Aware and within 1970-2200, so no date arithmetic downstream can overflow."""
    if value is not None and value.tzinfo is None:
        raise ValueError("needs a UTC offset, e.g. 2026-03-10T09:30:00+05:30")
    if value is not None and not 1970 <= value.year <= 2200:
        raise ValueError("must be between the years 1970 and 2200")
    return value


class AvailabilityRuleCreate(_In):
    practitioner_id: uuid.UUID
    facility_id: uuid.UUID
    time_zone: str | None = Field(None, max_length=64, description="IANA zone; default: the facility's hours' zone.")
    rrule: str = Field(min_length=6, max_length=300, examples=["FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"],
                       description="RFC 5545 RRULE on local dates (DAILY/WEEKLY/MONTHLY/YEARLY).")
    starts_on: date
    until: date | None = None
    start_time: time
    end_time: time
    slot_minutes: int = Field(15, ge=5, le=480)
    capacity: int = Field(1, ge=1, le=500, description="Seats per slot: >1 for group sessions or OPD token blocks.")
    breaks: list[Break] = Field(default_factory=list, max_length=8)
    kinds: list[AppointmentKind] = Field(default_factory=lambda: [AppointmentKind.in_person], min_length=1,
                                         max_length=3)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            zone_of(value)
        return value

    @field_validator("rrule")
    @classmethod
    def _rrule(cls, value: str) -> str:
        check_rrule(value)
        return value.strip().removeprefix("RRULE:")

    @field_validator("starts_on", "until")
    @classmethod
    def _dates(cls, value: date | None) -> date | None:
        if value is not None and not 1970 <= value.year <= 2200:
            raise ValueError("must be between the years 1970 and 2200")
        return value

    @model_validator(mode="after")
    def _times(self) -> AvailabilityRuleCreate:
        check_session(self.start_time, self.end_time, self.slot_minutes, self.starts_on, self.until)
        return self


class AvailabilityRuleRead(BaseModel):
    id: uuid.UUID
    practitioner_id: uuid.UUID
    facility_id: uuid.UUID
    time_zone: str
    rrule: str
    starts_on: date
    until: date | None
    start_time: time
    end_time: time
    slot_minutes: int
    capacity: int
    breaks: list[Break]
    kinds: list[AppointmentKind]
    active: bool
    created_at: datetime


class ExceptionCreate(_In):
    practitioner_id: uuid.UUID | None = None
    facility_id: uuid.UUID | None = None
    starts_at: datetime
    ends_at: datetime
    reason: Text200 = ""

    _check = field_validator("starts_at", "ends_at")(_aware)

    @model_validator(mode="after")
    def _valid(self) -> ExceptionCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.practitioner_id is None and self.facility_id is None:
            raise ValueError("name a practitioner (leave), a facility (holiday), or both")
        return self


class ExceptionRead(BaseModel):
    id: uuid.UUID
    practitioner_id: uuid.UUID | None
    facility_id: uuid.UUID | None
    starts_at: datetime
    ends_at: datetime
    reason: str


class SlotRead(BaseModel):
    practitioner_id: uuid.UUID
    practitioner_name: str
    facility_id: uuid.UUID
    facility_name: str
    rule_id: uuid.UUID
    start: datetime
    end: datetime
    local_date: date
    local_start: time
    time_zone: str
    capacity: int
    free: int
    kinds: list[AppointmentKind]
    distance_km: float | None = None


class SlotPage(BaseModel):
    items: list[SlotRead]
    next_cursor: str | None = Field(description="Pass as `after` for the next page (the last slot's start).")


class AppointmentCreate(_In):
    patient_id: uuid.UUID | None = Field(None, description="Default: the signed-in patient.")
    practitioner_id: uuid.UUID
    start: datetime = Field(description="The slot's start (any offset).")
    facility_id: uuid.UUID | None = Field(None, description="When the practitioner works at several at that time.")
    kind: AppointmentKind = AppointmentKind.in_person
    reason: Reason = ""
    care_request_id: uuid.UUID | None = None

    _check = field_validator("start")(_aware)


class AppointmentReschedule(_In):
    start: datetime
    practitioner_id: uuid.UUID | None = Field(None, description="Default: the same practitioner.")
    facility_id: uuid.UUID | None = None

    _check = field_validator("start")(_aware)


class AppointmentCancel(_In):
    reason: Annotated[str, StringConstraints(max_length=200, strip_whitespace=True), NoControl] = ""


class AppointmentRead(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    patient_name: str
    practitioner_id: uuid.UUID
    facility_id: uuid.UUID
    start: datetime
    end: datetime
    time_zone: str
    local_start: datetime = Field(description="The start on the clinic's wall clock, with its offset.")
    kind: AppointmentKind
    status: AppointmentStatus
    reason: str
    care_request_id: uuid.UUID | None
    meeting_link: str | None
    rescheduled_from: uuid.UUID | None
    created_at: datetime


class AppointmentPage(BaseModel):
    items: list[AppointmentRead]


class WaitlistCreate(_In):
    patient_id: uuid.UUID | None = None
    practitioner_id: uuid.UUID
    facility_id: uuid.UUID | None = None
    earliest: datetime
    latest: datetime
    kind: AppointmentKind = AppointmentKind.in_person
    reason: Reason = ""

    _check = field_validator("earliest", "latest")(_aware)

    @model_validator(mode="after")
    def _valid(self) -> WaitlistCreate:
        if self.latest <= self.earliest:
            raise ValueError("latest must be after earliest")
        return self


class WaitlistRead(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    facility_id: uuid.UUID | None
    earliest: datetime
    latest: datetime
    kind: AppointmentKind
    status: WaitlistStatus
    offered_start: datetime | None
    offer_expires_at: datetime | None
    created_at: datetime


class QueueTokenCreate(_In):
    facility_id: uuid.UUID
    department: Department
    patient_id: uuid.UUID | None = None
    display_name: Name = ""


class QueueTokenRead(BaseModel):
    id: uuid.UUID
    facility_id: uuid.UUID
    department: str
    service_date: date
    number: int
    display_name: str
    status: QueueStatus
    created_at: datetime
    called_at: datetime | None


class QueueRead(BaseModel):
    facility_id: uuid.UUID
    department: str
    service_date: date
    now_serving: int | None
    waiting: list[QueueTokenRead]


class CalendarFeedRead(BaseModel):
    id: uuid.UUID
    owner_kind: str
    owner_id: uuid.UUID
    url: str = Field(description="Shown once: the server keeps only a hash of the secret.")
    created_at: datetime
