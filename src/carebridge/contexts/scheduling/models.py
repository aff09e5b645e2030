"""Availability rules, exceptions, appointments, the seats that make double booking impossible, the
waitlist, walk-in queue tokens and calendar-feed secrets.

`SlotSeat` is the lock: one row per taken seat of a slot, primary key (practitioner, UTC start, seat
number). Two transactions that try to take the same seat collide on that key inside the database, on
SQLite and PostgreSQL alike, whichever process or connection they come from; the loser gets an
IntegrityError and the booking answers 409. Cancelling deletes the row (or turns it into a waitlist
hold), so the seat is free again in the same transaction that cancels.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from carebridge.kernel.db import Base, utcnow
from carebridge.kernel.ids import new_id


class AvailabilityRule(Base):
    __tablename__ = "availability_rules"
    __table_args__ = (Index("ix_availability_rules_facility_active", "facility_id", "active"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("practitioners.id"), index=True)
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id"))
    time_zone: Mapped[str] = mapped_column(String(64))
    rrule: Mapped[str] = mapped_column(String(300))
    starts_on: Mapped[date] = mapped_column(Date)
    until: Mapped[date | None] = mapped_column(Date, default=None)
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)
    slot_minutes: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer, default=1)
    breaks: Mapped[list[Any]] = mapped_column(JSON, default=list)
    kinds: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # copies of the practitioner's specialties and languages, so slot search filters without a join
    specialties: Mapped[list[Any]] = mapped_column(JSON, default=list)
    languages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # display names for search results, copied like the codes above (refreshed when the rule is rewritten)
    practitioner_name: Mapped[str] = mapped_column(String(200), default="")
    facility_name: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AvailabilityException(Base):
    __tablename__ = "availability_exceptions"
    __table_args__ = (Index("ix_availability_exceptions_span", "starts_at", "ends_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    practitioner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("practitioners.id"), index=True,
                                                               default=None)
    facility_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("facilities.id"), index=True, default=None)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (
        Index("ix_appointments_practitioner_start", "practitioner_id", "start_at"),
        Index("ix_appointments_patient_start", "patient_id", "start_at"),
        Index("ix_appointments_facility_start", "facility_id", "start_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("practitioners.id"))
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id"))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"), default=None)
    rule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("availability_rules.id"))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    time_zone: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="booked")
    reason: Mapped[str] = mapped_column(String(500), default="")
    care_request_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    meeting_link: Mapped[str | None] = mapped_column(String(300), default=None)
    patient_name: Mapped[str] = mapped_column(String(200), default="")
    booked_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), default=None)
    # who hears about it (reminders, offers): the booking patient's or caregiver's account, else the contacts
    notify_user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    contact_email: Mapped[str | None] = mapped_column(String(254), default=None)
    contact_phone: Mapped[str | None] = mapped_column(String(32), default=None)
    rescheduled_from: Mapped[uuid.UUID | None] = mapped_column(default=None)
    cancel_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SlotSeat(Base):
    """A taken seat: an appointment's, or a waitlist hold's while an offer is open."""

    __tablename__ = "slot_seats"

    practitioner_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    start_at: Mapped[datetime] = mapped_column(primary_key=True)
    seat: Mapped[int] = mapped_column(Integer, primary_key=True)
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("appointments.id"), unique=True,
                                                             default=None)
    hold_entry_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("waitlist_entries.id"), unique=True,
                                                            default=None)
    hold_expires_at: Mapped[datetime | None] = mapped_column(default=None)


class WaitlistEntry(Base):
    __tablename__ = "waitlist_entries"
    __table_args__ = (Index("ix_waitlist_practitioner_status", "practitioner_id", "status", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("practitioners.id"))
    facility_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("facilities.id"), default=None)
    earliest: Mapped[datetime]
    latest: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(20), default="in_person")
    reason: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(20), default="waiting")  # waiting|offered|booked|expired|cancelled
    offered_start_at: Mapped[datetime | None] = mapped_column(default=None)
    offer_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    offered_facility_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    offered_rule_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), default=None)
    patient_name: Mapped[str] = mapped_column(String(200), default="")
    # who hears about it (reminders, offers): the booking patient's or caregiver's account, else the contacts
    notify_user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    contact_email: Mapped[str | None] = mapped_column(String(254), default=None)
    contact_phone: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class QueueToken(Base):
    """A walk-in token of an outpatient department's queue for one local day; numbers are unique per day."""

    __tablename__ = "queue_tokens"
    __table_args__ = (UniqueConstraint("facility_id", "department", "service_date", "number"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id"))
    department: Mapped[str] = mapped_column(String(64))
    service_date: Mapped[date] = mapped_column(Date)
    number: Mapped[int] = mapped_column(Integer)
    patient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patients.id"), default=None)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(20), default="waiting")  # waiting|called|done|skipped
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    called_at: Mapped[datetime | None] = mapped_column(default=None)


class CalendarFeed(Base):
    """A secret calendar URL; only the SHA-256 of its token is kept, so a database leak does not leak feeds."""

    __tablename__ = "calendar_feeds"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    owner_kind: Mapped[str] = mapped_column(String(16))  # practitioner | patient
    owner_id: Mapped[uuid.UUID] = mapped_column(index=True)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(default=None)  # a staff feed shows only its org
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
