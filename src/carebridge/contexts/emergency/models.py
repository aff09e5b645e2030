"""SOS events with their status trail, and the emergency profile a patient keeps for their card.

The profile is the patient's own short summary (what a stranger must know in the first minutes), not the
clinical record: the record's coded allergies and problems stay the clinicians'. Each SOS keeps a copy of
the organizations caring for the patient when it was raised, so staff find their open events with one
indexed join; the policy is still asked, per event, when they read one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from carebridge.kernel.db import Base, utcnow
from carebridge.kernel.ids import new_id


class SosEvent(Base):
    __tablename__ = "sos_events"
    __table_args__ = (Index("ix_sos_events_patient", "patient_id", "raised_at"),
                      Index("ix_sos_events_raiser", "raised_by_user_id", "raised_at"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    raised_by_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    raised_by_role: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)  # raised | acknowledged | closed | cancelled
    lat: Mapped[float]
    lng: Mapped[float]
    accuracy_m: Mapped[float | None] = mapped_column(default=None)
    location_source: Mapped[str] = mapped_column(String(16))  # current | last_known
    message: Mapped[str | None] = mapped_column(String(500), default=None)
    # the facilities offered when it was raised: what the patient saw, kept as they saw it
    facilities: Mapped[list[Any]] = mapped_column(JSON, default=list)
    alert_targets: Mapped[int] = mapped_column(default=0)  # emergency contacts + linked caregivers
    notified: Mapped[int] = mapped_column(default=0)  # alerts queued through the notifications outbox
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SosOrganization(Base):
    __tablename__ = "sos_organizations"
    __table_args__ = (Index("ix_sos_organizations_org", "organization_id", "sos_id"),)

    sos_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sos_events.id"), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), primary_key=True)


class SosTransition(Base):
    __tablename__ = "sos_transitions"
    __table_args__ = (Index("ix_sos_transitions_event", "sos_id", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    sos_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sos_events.id"))
    status: Mapped[str] = mapped_column(String(16))
    by_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    by_role: Mapped[str] = mapped_column(String(32))
    by_name: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str | None] = mapped_column(String(500), default=None)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class EmergencyProfile(Base):
    __tablename__ = "emergency_profiles"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    blood_group: Mapped[str | None] = mapped_column(String(8), default=None)
    allergies: Mapped[list[Any]] = mapped_column(JSON, default=list)
    conditions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    medications: Mapped[list[Any]] = mapped_column(JSON, default=list)
    notes: Mapped[str | None] = mapped_column(String(300), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)
