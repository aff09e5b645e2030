"""Patients, their identifiers, emergency contacts and the organizations that care for them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from carebridge.kernel.db import Base, utcnow
from carebridge.kernel.ids import new_id


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (
        Index("ix_patients_sort", "family_name_norm", "given_name_norm", "id"),
        Index("ix_patients_dup", "birth_date", "phone_norm"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100), default="")
    preferred_name: Mapped[str | None] = mapped_column(String(100), default=None)
    # ASCII-folded, lower-cased forms: searches are accent- and case-insensitive on every engine
    given_name_norm: Mapped[str] = mapped_column(String(100), default="")
    family_name_norm: Mapped[str] = mapped_column(String(100), default="")
    name_search: Mapped[str] = mapped_column(String(400), default="")
    birth_date: Mapped[date | None] = mapped_column(default=None)
    sex: Mapped[str] = mapped_column(String(16), default="unknown")
    gender_identity: Mapped[str | None] = mapped_column(String(64), default=None)
    preferred_languages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    phone_norm: Mapped[str | None] = mapped_column(String(32), index=True, default=None)
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    address_line: Mapped[str | None] = mapped_column(String(200), default=None)
    city: Mapped[str | None] = mapped_column(String(100), default=None)
    district: Mapped[str | None] = mapped_column(String(100), default=None)
    state: Mapped[str | None] = mapped_column(String(100), default=None)
    postal_code: Mapped[str | None] = mapped_column(String(20), default=None)
    country: Mapped[str | None] = mapped_column(String(2), default=None)
    latitude: Mapped[float | None] = mapped_column(default=None)
    longitude: Mapped[float | None] = mapped_column(default=None)
    deceased: Mapped[bool] = mapped_column(Boolean, default=False)
    deceased_at: Mapped[datetime | None] = mapped_column(default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patients.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    identifiers: Mapped[list[PatientIdentifier]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", lazy="selectin", order_by="PatientIdentifier.system"
    )
    emergency_contacts: Mapped[list[EmergencyContact]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", lazy="selectin", order_by="EmergencyContact.name"
    )


class PatientIdentifier(Base):
    __tablename__ = "patient_identifiers"
    __table_args__ = (UniqueConstraint("system", "value"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    system: Mapped[str] = mapped_column(String(200))
    value: Mapped[str] = mapped_column(String(100))
    patient: Mapped[Patient] = relationship(back_populates="identifiers")


class EmergencyContact(Base):
    __tablename__ = "emergency_contacts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    relationship_: Mapped[str | None] = mapped_column("relationship", String(64), default=None)
    phone: Mapped[str] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    patient: Mapped[Patient] = relationship(back_populates="emergency_contacts")


class PatientOrganization(Base):
    """An organization that cares for the patient; the basis of staff access."""

    __tablename__ = "patient_organizations"
    __table_args__ = (UniqueConstraint("patient_id", "organization_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    since: Mapped[datetime] = mapped_column(default=utcnow)
