"""Patients, their identifiers, emergency contacts and the organizations that care for them.

The search columns (`*_norm`, `name_search`, `phone_norm` and the `patient_name_tokens` rows) are
derived from the names and phone by mapper events here, so every writer (the service, a factory,
an import) keeps them right without remembering to.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Connection, ForeignKey, Index, String, UniqueConstraint, delete, event, insert
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship

from carebridge.contexts.patients import names
from carebridge.kernel.db import Base, utcnow
from carebridge.kernel.ids import new_id

# Tokens hold only [a-z0-9]; the "C" collation makes PostgreSQL's b-tree serve prefix ranges byte-wise.
TOKEN_TYPE = String(64).with_variant(String(64, collation="C"), "postgresql")
NAME_FIELDS = ("given_name", "family_name", "preferred_name")


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
    # the last ten digits: "+91 98200 11111" and "098200 11111" are the same number
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
    deactivated_at: Mapped[datetime | None] = mapped_column(default=None)
    deactivation_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patients.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Every UPDATE is `... WHERE version = <read version>`: a concurrent writer's change is never overwritten.
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    identifiers: Mapped[list[PatientIdentifier]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", lazy="selectin", order_by="PatientIdentifier.system"
    )
    emergency_contacts: Mapped[list[EmergencyContact]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", lazy="selectin", order_by="EmergencyContact.name"
    )


class PatientIdentifier(Base):
    __tablename__ = "patient_identifiers"
    __table_args__ = (UniqueConstraint("system", "value"), Index("ix_patient_identifiers_value", "value"))

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


class PatientNameToken(Base):
    """One folded word (or its phonetic key) of a patient's names: name search is a prefix range here.

    The sort keys are copied in so a search reads matches already in page order from one covering
    index, and touches the patients table only for the rows of the page.
    """

    __tablename__ = "patient_name_tokens"
    __table_args__ = (
        Index("ix_patient_name_tokens_search", "token", "family_name_norm", "given_name_norm", "patient_id"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    token: Mapped[str] = mapped_column(TOKEN_TYPE, primary_key=True)
    family_name_norm: Mapped[str] = mapped_column(String(100), default="")
    given_name_norm: Mapped[str] = mapped_column(String(100), default="")


def derived_columns(given: str, family: str, preferred: str | None, phone: str | None) -> dict[str, Any]:
    """The search columns a patient row carries, computed from what was typed."""
    return {
        "given_name_norm": names.fold(given)[:100],
        "family_name_norm": names.fold(family)[:100],
        "name_search": names.fold(" ".join(p for p in (given, family, preferred) if p))[:400],
        "phone_norm": names.phone_key(phone),
    }


def token_rows(patient_id: uuid.UUID, given: str, family: str, preferred: str | None) -> list[dict[str, Any]]:
    """The `patient_name_tokens` rows of one patient."""
    family_norm, given_norm = names.fold(family)[:100], names.fold(given)[:100]
    return [{"patient_id": patient_id, "token": t, "family_name_norm": family_norm, "given_name_norm": given_norm}
            for t in sorted(names.index_tokens(given, family, preferred))]


def _derive_columns(_mapper: Mapper[Patient], _conn: Connection, target: Patient) -> None:
    for column, value in derived_columns(target.given_name, target.family_name, target.preferred_name,
                                         target.phone).items():
        setattr(target, column, value)


def _write_tokens(conn: Connection, target: Patient) -> None:
    conn.execute(delete(PatientNameToken).where(PatientNameToken.patient_id == target.id))
    rows = token_rows(target.id, target.given_name, target.family_name, target.preferred_name)
    if rows:
        conn.execute(insert(PatientNameToken), rows)


def _after_insert(_mapper: Mapper[Patient], conn: Connection, target: Patient) -> None:
    _write_tokens(conn, target)


def _after_update(_mapper: Mapper[Patient], conn: Connection, target: Patient) -> None:
    state = sa_inspect(target)
    if any(state.attrs[name].history.has_changes() for name in NAME_FIELDS):
        _write_tokens(conn, target)


event.listen(Patient, "before_insert", _derive_columns)
event.listen(Patient, "before_update", _derive_columns)
event.listen(Patient, "after_insert", _after_insert)
event.listen(Patient, "after_update", _after_update)
