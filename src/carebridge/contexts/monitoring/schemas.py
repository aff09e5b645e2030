"""Monitoring DTOs: devices (the credential is shown once), reading batches and their per-item report, alerts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

MAX_BATCH = 5000
AlertStatus = Literal["open", "acknowledged", "resolved"]


class DeviceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_.-]+$",
                      description="Kind of device, e.g. `pulse_oximeter`, `bp_cuff`, `patch`.")
    serial: str = Field(min_length=1, max_length=80)
    label: str | None = Field(None, max_length=120)
    spo2_scale: Literal[1, 2] = Field(1, description="NEWS2 SpO2 scale for this patient (2 only if prescribed).")


class DeviceRead(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    type: str
    serial: str
    label: str | None
    spo2_scale: int
    created_at: datetime
    revoked_at: datetime | None
    last_seen_at: datetime | None


class DeviceIssued(DeviceRead):
    credential: str = Field(description="Send as `X-Device-Key` (or as the MQTT password). Shown only once.")


class DeviceList(BaseModel):
    items: list[DeviceRead]


class ReadingIn(BaseModel):
    """One reading as a device sends it. Validation of the value happens per item so one bad reading is reported
    by its index rather than failing the whole batch."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=40)
    value: float | str | bool
    unit: str | None = Field(None, max_length=20)
    at: AwareDatetime = Field(description="When the device measured it (with a time zone).")
    spo2_scale: Literal[1, 2] | None = None


class ReadingBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    readings: list[Any] = Field(min_length=1, max_length=MAX_BATCH,
                                description="Up to 5,000 readings, each `{type, value, unit?, at}`.")


class Rejection(BaseModel):
    index: int
    reason: str


class BatchReport(BaseModel):
    accepted: int = Field(description="Valid readings in the batch.")
    stored: int = Field(description="Readings newly stored (accepted minus those already stored before).")
    duplicates: int
    rejected: list[Rejection]


class ReadingRead(BaseModel):
    type: str
    value: float
    unit: str
    at: datetime
    device_id: uuid.UUID


class ReadingPage(BaseModel):
    items: list[ReadingRead]


class News2Read(BaseModel):
    patient_id: uuid.UUID
    score: int | None
    risk: str | None
    band: str = Field(description="Colour band: grey (no data), green, yellow, amber or red.")
    complete: bool
    missing: list[str]
    parameters: dict[str, int]
    at: datetime | None


class ThresholdRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: float | None = None
    max: float | None = None
    note: str | None = Field(None, max_length=200)


class ThresholdRuleRead(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    type: str
    min: float | None
    max: float | None
    note: str | None


class ThresholdRuleList(BaseModel):
    items: list[ThresholdRuleRead]


class AlertRead(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    kind: str
    severity: str
    status: AlertStatus
    score: int | None
    detail: dict[str, Any]
    occurrences: int
    raised_at: datetime
    last_seen_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    escalated_at: datetime | None


class AlertList(BaseModel):
    items: list[AlertRead]
