"""The facade's own two tables: the version history of every write through /fhir/R4, and the store of
resource types that have no domain home.

`FhirResourceVersion` is append-only: one row per create, update or delete made through the facade,
holding the resource exactly as it was served, so vread and `_history` answer without asking the
domain to keep old versions. `FhirGenericResource` keeps a validated resource of a type no context
owns (an import loses nothing); its patient reference is a column, so access is decided by the patients
policy like any other patient data.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from carebridge.kernel.db import Base
from carebridge.kernel.ids import new_id


class FhirResourceVersion(Base):
    __tablename__ = "fhir_resource_versions"
    __table_args__ = (
        UniqueConstraint("resource_type", "resource_id", "seq"),
        Index("ix_fhir_resource_versions_type_updated", "resource_type", "last_updated", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    """1, 2, 3 … per resource: the order of the rows, whatever the mapper's version ids look like."""
    version_id: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(8))  # POST | PUT | DELETE
    last_updated: Mapped[datetime]
    body: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)  # None for a delete
    patient_id: Mapped[uuid.UUID | None] = mapped_column(default=None, index=True)


class FhirGenericResource(Base):
    __tablename__ = "fhir_generic_resources"
    __table_args__ = (
        Index("ix_fhir_generic_resources_type_updated", "resource_type", "last_updated", "id"),
        Index("ix_fhir_generic_resources_patient_type", "patient_id", "resource_type", "last_updated"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    resource_type: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    last_updated: Mapped[datetime]
    patient_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    deleted: Mapped[bool] = mapped_column(default=False)


class FhirReceivedResource(Base):
    """A mapped resource as a client sent it, kept beside the domain row (`fhir/mappers/received.py`).

    The domain holds what it has columns for; this keeps the rest (extensions, narrative, extra codings),
    so what was sent is what is served. `version` is the domain row's version when it was received: once
    the row changes elsewhere, the domain's elements win over the received ones.
    """

    __tablename__ = "fhir_received_resources"

    resource_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    patient_id: Mapped[uuid.UUID | None] = mapped_column(default=None, index=True)
