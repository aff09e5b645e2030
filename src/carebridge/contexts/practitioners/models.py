"""Organizations, practitioners and the roles practitioners hold at organizations.

`Practitioner.name_search` (folded "given family") is derived by a mapper event so any writer keeps it right.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Connection, ForeignKey, Index, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, Mapper, mapped_column
from unidecode import unidecode

from carebridge.engines.names import fold
from carebridge.kernel.db import Base, utcnow
from carebridge.kernel.ids import new_id


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), index=True)
    type: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True, default=None)
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    address_line: Mapped[str | None] = mapped_column(String(200), default=None)
    city: Mapped[str | None] = mapped_column(String(100), default=None)
    state: Mapped[str | None] = mapped_column(String(100), default=None)
    postal_code: Mapped[str | None] = mapped_column(String(20), default=None)
    country: Mapped[str | None] = mapped_column(String(2), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Practitioner(Base):
    __tablename__ = "practitioners"
    __table_args__ = (
        UniqueConstraint("registration_council", "registration_number"),
        Index("ix_practitioners_sort", "family_name", "given_name", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), unique=True, default=None)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    name_search: Mapped[str] = mapped_column(String(400), index=True, default="")
    gender: Mapped[str | None] = mapped_column(String(16), default=None)
    registration_number: Mapped[str | None] = mapped_column(String(64), default=None)
    registration_council: Mapped[str | None] = mapped_column(String(100), default=None)
    qualifications: Mapped[list[Any]] = mapped_column(JSON, default=list)
    specialties: Mapped[list[Any]] = mapped_column(JSON, default=list)
    languages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PractitionerRole(Base):
    __tablename__ = "practitioner_roles"
    __table_args__ = (
        UniqueConstraint("practitioner_id", "organization_id", "code"),
        Index("ix_practitioner_roles_org_active", "organization_id", "active"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("practitioners.id"), index=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"))
    code: Mapped[str] = mapped_column(String(32))  # doctor | nurse | pharmacist | health_worker | ...
    specialties: Mapped[list[Any]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def _derive_name_search(_mapper: Mapper[Practitioner], _conn: Connection, target: Practitioner) -> None:
    folded = fold(f"{target.given_name} {target.family_name}", fallback=lambda t: str(unidecode(t)))
    target.name_search = folded[:400]


event.listen(Practitioner, "before_insert", _derive_name_search)
event.listen(Practitioner, "before_update", _derive_name_search)
