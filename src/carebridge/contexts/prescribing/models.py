"""Tables of the prescribing context: prescriptions and their items, dispensing, refill requests,
the record of every decision-support check, and the prescriber's acknowledgements and overrides.

Items keep the ingredient ids the catalogue resolved at prescribing time, so a later catalogue change
cannot silently change what was signed; the signature covers a canonical JSON of exactly these columns.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from carebridge.kernel.db import Base, utcnow
from carebridge.kernel.ids import new_id


class Prescription(Base):
    __tablename__ = "prescriptions"
    __table_args__ = (Index("ix_prescriptions_patient_status", "patient_id", "status"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    prescriber_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"), default=None)
    pharmacy_organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"),
                                                                       default=None)
    status: Mapped[str] = mapped_column(String(24), default="draft")
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    signed_at: Mapped[datetime | None] = mapped_column(default=None)
    signed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), default=None)
    content_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    signature: Mapped[str | None] = mapped_column(String(128), default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    close_reason: Mapped[str] = mapped_column(String(500), default="")
    # dose reminders are queued up to here (a week at signing, then daily by jobs.py); None: none left to queue
    reminders_until: Mapped[datetime | None] = mapped_column(default=None)


class PrescriptionItem(Base):
    __tablename__ = "prescription_items"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    prescription_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("prescriptions.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    medication: Mapped[str] = mapped_column(String(200))
    ingredients: Mapped[list[str]] = mapped_column(JSON, default=list)
    dose: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16))
    route: Mapped[str] = mapped_column(String(20))
    times_per_day: Mapped[int] = mapped_column(Integer)
    with_food: Mapped[str] = mapped_column(String(16), default="any")
    duration_days: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    refills: Mapped[int] = mapped_column(Integer, default=0)
    refills_used: Mapped[int] = mapped_column(Integer, default=0)
    dispensed_quantity: Mapped[int] = mapped_column(Integer, default=0)
    instructions: Mapped[str] = mapped_column(String(500), default="")


class DispenseRecord(Base):
    __tablename__ = "prescription_dispenses"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    prescription_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("prescriptions.id"), index=True)
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("prescription_items.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    pharmacist_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"), default=None)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class RefillRequest(Base):
    __tablename__ = "prescription_refill_requests"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    prescription_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("prescriptions.id"), index=True)
    requested_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | approved | refused
    at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    decision_reason: Mapped[str] = mapped_column(String(500), default="")


class InteractionCheck(Base):
    """One run of the decision-support engine: its inputs, what fired, the knowledge version and the outcome."""

    __tablename__ = "prescription_checks"
    __table_args__ = (Index("ix_prescription_checks_rx_seq", "prescription_id", "seq"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    prescription_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("prescriptions.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), default=None)  # None: the system
    trigger: Mapped[str] = mapped_column(String(40))
    knowledge_version: Mapped[str] = mapped_column(String(80))
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    alerts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    outcome: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # 1, 2, 3 ... per prescription: "the latest check" must not depend on clock resolution or random ids
    seq: Mapped[int] = mapped_column(Integer, default=1)


class AlertDecision(Base):
    """A prescriber acknowledged an alert, or overrode it with a reason; keyed by the alert's identity."""

    __tablename__ = "prescription_alert_decisions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    prescription_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("prescriptions.id"), index=True)
    alert_key: Mapped[str] = mapped_column(String(700))
    kind: Mapped[str] = mapped_column(String(16))
    items: Mapped[list[str]] = mapped_column(JSON, default=list)
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500), default="")
    by_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class DoseEvent(Base):
    """A scheduled dose the patient marked taken or skipped (absent row = not yet marked)."""

    __tablename__ = "prescription_dose_events"
    __table_args__ = (Index("ux_prescription_dose_slot", "item_id", "due_at", unique=True),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("prescription_items.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(8))
    marked_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), default=None)  # None: reminder link
    at: Mapped[datetime] = mapped_column(default=utcnow)


class HandledEvent(Base):
    """A domain event prescribing has acted on (re-checked the patient's prescriptions); the key makes the
    outbox's at-least-once delivery an exactly-once effect, since the row commits with the re-check."""

    __tablename__ = "prescription_handled_events"

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    handled_at: Mapped[datetime] = mapped_column(default=utcnow)
