"""Monitoring tables: devices bound to a patient, the vitals time series, per-patient threshold rules and alerts.

`vital_readings` has a unique (device, observed time, type) index: re-sent readings are dropped by the database
itself (insert … on conflict do nothing) on SQLite and PostgreSQL alike, so a batch a device retries after a lost
answer stores nothing twice. On SQLite it is a plain table; on PostgreSQL migration 0003 turns it into a table
partitioned by day on `observed_at` (docs/monitoring.md, "Storage"). `vital_rollups` holds the 1-minute and
1-hour aggregates the charts read; the monitoring job keeps them and applies the retention.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from carebridge.kernel.db import Base
from carebridge.kernel.ids import new_id


class Device(Base):
    __tablename__ = "monitoring_devices"
    __table_args__ = (UniqueConstraint("type", "serial", name="uq_monitoring_devices_type_serial"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    type: Mapped[str] = mapped_column(String(40))
    serial: Mapped[str] = mapped_column(String(80))
    label: Mapped[str | None] = mapped_column(String(120), default=None)
    secret_hash: Mapped[str] = mapped_column(String(64))
    spo2_scale: Mapped[int] = mapped_column(SmallInteger, default=1)
    created_at: Mapped[datetime]
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)


class VitalReading(Base):
    __tablename__ = "vital_readings"
    __table_args__ = (
        UniqueConstraint("device_id", "observed_at", "type", name="uq_vital_readings_device_time_type"),
        Index("ix_vital_readings_patient_type_time", "patient_id", "type", "observed_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
                                    autoincrement=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("monitoring_devices.id"))
    type: Mapped[str] = mapped_column(String(24))
    observed_at: Mapped[datetime]
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16))
    spo2_scale: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    received_at: Mapped[datetime]


class VitalRollup(Base):
    """One bucket of one patient's readings of one type: `width` 60 (a minute) or 3600 (an hour) seconds from
    `bucket_start`. Count, sum, min and max merge exactly, so hours are built from minutes."""

    __tablename__ = "vital_rollups"
    __table_args__ = (PrimaryKeyConstraint("patient_id", "type", "width", "bucket_start", name="pk_vital_rollups"),
                      Index("ix_vital_rollups_width_start", "width", "bucket_start"))

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    type: Mapped[str] = mapped_column(String(24))
    width: Mapped[int] = mapped_column(Integer)
    bucket_start: Mapped[datetime]
    count: Mapped[int] = mapped_column(Integer)
    sum: Mapped[float] = mapped_column(Float)
    min: Mapped[float] = mapped_column(Float)
    max: Mapped[float] = mapped_column(Float)


class RollupPending(Base):
    """An hour of one patient's readings whose rollups must be rebuilt: ingest marks it (an upsert that bumps
    `generation`), the rollup job rebuilds the hour from the raw readings and removes the mark only if the
    generation is still the one it read, so readings committed meanwhile are never left out."""

    __tablename__ = "vital_rollup_pending"
    __table_args__ = (PrimaryKeyConstraint("patient_id", "hour_start", name="pk_vital_rollup_pending"),)

    patient_id: Mapped[uuid.UUID] = mapped_column()
    hour_start: Mapped[datetime]
    generation: Mapped[int] = mapped_column(Integer, default=1)


class ThresholdRule(Base):
    """A care team's own limit for one patient and reading type (e.g. SpO2 below 90 for a COPD patient)."""

    __tablename__ = "monitoring_threshold_rules"
    __table_args__ = (UniqueConstraint("patient_id", "type", name="uq_monitoring_threshold_rules_patient_type"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    type: Mapped[str] = mapped_column(String(24))
    min: Mapped[float | None] = mapped_column(Float, default=None)
    max: Mapped[float | None] = mapped_column(Float, default=None)
    note: Mapped[str | None] = mapped_column(String(200), default=None)
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Alert(Base):
    """open → acknowledged → resolved. `kind` is what raised it (news2, qsofa, threshold:<type>); one alert of a
    kind is live per patient at a time, later triggers refresh it (`last_seen_at`, `occurrences`)."""

    __tablename__ = "monitoring_alerts"
    __table_args__ = (Index("ix_monitoring_alerts_patient_kind_status", "patient_id", "kind", "status"),
                      Index("ix_monitoring_alerts_status_raised", "status", "raised_at"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    kind: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    score: Mapped[int | None] = mapped_column(Integer, default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    raised_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    acknowledged_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    escalated_at: Mapped[datetime | None] = mapped_column(default=None)
