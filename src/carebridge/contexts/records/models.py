"""Tables of the clinical record, the amendment trail, and the denormalised timeline index.

Each clinical row carries `patient_id` and, when it was made during one, `encounter_id`; once that encounter
is finished the row changes only through an `Amendment`, which keeps who, why, and the fields before and after.
`TimelineEntry` is written in the same transaction as the row it points at, so the timeline is one indexed
range scan on (patient_id, at, id) instead of a UNION over every table.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from carebridge.kernel.db import Base, utcnow
from carebridge.kernel.ids import new_id


class _Clinical:
    """Columns every clinical row shares."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    encounter_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("encounters.id"), default=None, index=True)
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Encounter(Base):
    __tablename__ = "encounters"
    __table_args__ = (Index("ix_encounters_patient_start", "patient_id", "start_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"), default=None)
    practitioner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("practitioners.id"), default=None)
    facility_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("facilities.id"), default=None)
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("appointments.id"), default=None)
    encounter_class: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(500), default="")
    start_at: Mapped[datetime]
    end_at: Mapped[datetime | None] = mapped_column(default=None)
    subjective: Mapped[str] = mapped_column(Text, default="")
    objective: Mapped[str] = mapped_column(Text, default="")
    assessment: Mapped[str] = mapped_column(Text, default="")
    plan: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Condition(_Clinical, Base):
    __tablename__ = "conditions"

    category: Mapped[str] = mapped_column(String(30))
    code: Mapped[str] = mapped_column(String(10), index=True)  # ICD-10
    display: Mapped[str] = mapped_column(String(300))
    clinical_status: Mapped[str] = mapped_column(String(20))
    verification_status: Mapped[str] = mapped_column(String(20))
    onset_date: Mapped[date | None] = mapped_column(Date, default=None)
    abatement_date: Mapped[date | None] = mapped_column(Date, default=None)
    note: Mapped[str] = mapped_column(String(2000), default="")
    recorded_at: Mapped[datetime]


class Allergy(_Clinical, Base):
    __tablename__ = "allergies"

    substance: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(20))
    criticality: Mapped[str] = mapped_column(String(20))
    clinical_status: Mapped[str] = mapped_column(String(20))
    reaction: Mapped[str] = mapped_column(String(500), default="")
    severity: Mapped[str | None] = mapped_column(String(20), default=None)
    onset_date: Mapped[date | None] = mapped_column(Date, default=None)
    note: Mapped[str] = mapped_column(String(2000), default="")
    recorded_at: Mapped[datetime]


class Observation(_Clinical, Base):
    __tablename__ = "observations"
    __table_args__ = (Index("ix_observations_patient_code_at", "patient_id", "code", "effective_at"),)

    category: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(10))  # LOINC
    display: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20))
    value: Mapped[float | None] = mapped_column(Float, default=None)
    value_text: Mapped[str | None] = mapped_column(String(500), default=None)
    unit: Mapped[str] = mapped_column(String(40), default="")  # UCUM
    ref_low: Mapped[float | None] = mapped_column(Float, default=None)
    ref_high: Mapped[float | None] = mapped_column(Float, default=None)
    critical_low: Mapped[float | None] = mapped_column(Float, default=None)
    critical_high: Mapped[float | None] = mapped_column(Float, default=None)
    interpretation: Mapped[str | None] = mapped_column(String(4), default=None)
    effective_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(String(2000), default="")


class Immunization(_Clinical, Base):
    __tablename__ = "immunizations"

    vaccine_code: Mapped[str] = mapped_column(String(20))
    display: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    dose_number: Mapped[int] = mapped_column(Integer)
    occurrence_date: Mapped[date] = mapped_column(Date)
    lot_number: Mapped[str] = mapped_column(String(60), default="")
    site: Mapped[str] = mapped_column(String(60), default="")
    note: Mapped[str] = mapped_column(String(2000), default="")


class CarePlan(_Clinical, Base):
    __tablename__ = "care_plans"

    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    intent: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(String(4000), default="")
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date, default=None)
    goals: Mapped[list[Any]] = mapped_column(JSON, default=list)
    activities: Mapped[list[Any]] = mapped_column(JSON, default=list)


class CarePlanNote(Base):
    """Progress notes are appended, never edited, so they need no amendment trail."""

    __tablename__ = "care_plan_notes"
    __table_args__ = (Index("ix_care_plan_notes_plan_at", "care_plan_id", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    care_plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("care_plans.id"))
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), default=None)
    at: Mapped[datetime]
    text: Mapped[str] = mapped_column(String(4000))


class DischargeSummary(_Clinical, Base):
    __tablename__ = "discharge_summaries"

    admitted_at: Mapped[datetime]
    discharged_at: Mapped[datetime]
    diagnoses: Mapped[str] = mapped_column(String(2000))
    hospital_course: Mapped[str] = mapped_column(Text, default="")
    condition_at_discharge: Mapped[str] = mapped_column(String(1000), default="")
    medications: Mapped[str] = mapped_column(String(4000), default="")
    follow_up: Mapped[str] = mapped_column(String(2000), default="")


class Amendment(Base):
    """A change to a record after its encounter closed: the only way such a record changes."""

    __tablename__ = "record_amendments"
    __table_args__ = (Index("ix_record_amendments_record", "record_kind", "record_id", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    record_kind: Mapped[str] = mapped_column(String(30))
    record_id: Mapped[uuid.UUID]
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), default=None)
    reason: Mapped[str] = mapped_column(String(1000))
    before: Mapped[dict[str, Any]] = mapped_column(JSON)
    after: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime]


class TimelineEntry(Base):
    """One row per clinical record, kept in step by the service; never the source of truth, only the index."""

    __tablename__ = "timeline_entries"
    __table_args__ = (
        Index("ix_timeline_patient_at", "patient_id", "occurred_at", "id"),
        Index("ix_timeline_patient_kind_at", "patient_id", "kind", "occurred_at", "id"),
        Index("ix_timeline_ref", "ref_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    occurred_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(30))
    ref_id: Mapped[uuid.UUID]
    encounter_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    summary: Mapped[str] = mapped_column(String(300))
    flag: Mapped[str | None] = mapped_column(String(4), default=None)
    amended: Mapped[bool] = mapped_column(default=False)
