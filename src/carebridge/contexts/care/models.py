"""Care requests: one person's symptoms and position, the triage answer, kept only as long as needed.

A request lives until `expires_at` (made + the configured TTL) and is then deleted by the purge,
unless the patient saved it to their record (`saved`, `expires_at` cleared). Requests from an
integrating app (the compatibility API) carry the app's key and the app's own query id, unique per key.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from carebridge.kernel.db import Base
from carebridge.kernel.ids import new_id


class CareRequest(Base):
    __tablename__ = "care_requests"
    __table_args__ = (UniqueConstraint("api_key_id", "query_ref"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID | None] = mapped_column(index=True, default=None)
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    query_ref: Mapped[str | None] = mapped_column(String(100), default=None)
    customer_ref: Mapped[str | None] = mapped_column(String(100), default=None)
    symptoms: Mapped[str] = mapped_column(String(2000))
    age: Mapped[float | None] = mapped_column(Float, default=None)
    sex: Mapped[str | None] = mapped_column(String(16), default=None)
    level: Mapped[str] = mapped_column(String(16))
    specialty: Mapped[str] = mapped_column(String(64))
    triage: Mapped[dict[str, Any]] = mapped_column(JSON)
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    lng: Mapped[float | None] = mapped_column(Float, default=None)
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
    saved: Mapped[bool] = mapped_column(Boolean, default=False)
    saved_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None] = mapped_column(index=True, default=None)
