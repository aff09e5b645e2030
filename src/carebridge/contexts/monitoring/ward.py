"""The ward view: every monitored patient a clinician may see, with their latest NEWS2, colour band and a
heart-rate sparkline of the last hours. Each patient shown is checked by the policy and audited."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts.monitoring import alerts
from carebridge.contexts.monitoring.charts import sparkline_svg
from carebridge.contexts.monitoring.models import Alert, Device, VitalReading
from carebridge.contexts.patients import load_patient_for, visible_ids
from carebridge.security import DataCategory, Permission, Principal

MAX_PATIENTS = 100
SPARK_HOURS = 6
SPARK_POINTS = 120


@dataclass(frozen=True, slots=True)
class WardRow:
    patient_id: uuid.UUID
    name: str
    score: int | None
    band: str
    complete: bool
    at: datetime | None
    open_alerts: int
    sparkline: str


def ward(session: Session, principal: Principal, *, now: datetime) -> list[WardRow]:
    monitored = list(session.scalars(select(Device.patient_id).where(Device.revoked_at.is_(None)).distinct()
                                     .limit(10 * MAX_PATIENTS)))
    rows: list[WardRow] = []
    for pid in visible_ids(session, principal, monitored)[:MAX_PATIENTS]:
        patient = load_patient_for(session, principal, pid, Permission.record_read, now=now, action="read",
                                   category=DataCategory.vitals)
        values, scale, at = alerts.latest_values(session, pid)
        result = alerts.news2_of(values, scale)
        heart = list(session.scalars(
            select(VitalReading.value).where(VitalReading.patient_id == pid, VitalReading.type == "heart_rate",
                                             VitalReading.observed_at >= now - timedelta(hours=SPARK_HOURS))
            .order_by(VitalReading.observed_at.desc()).limit(SPARK_POINTS)))[::-1]
        open_count = len(session.scalars(select(Alert.id).where(Alert.patient_id == pid,
                                                                Alert.status == "open")).all())
        rows.append(WardRow(
            patient_id=pid, name=f"{patient.given_name} {patient.family_name}",
            score=result.score if result else None,
            band=alerts.BAND_FOR_RISK[result.risk] if result else "grey",
            complete=bool(result and result.complete), at=at, open_alerts=open_count,
            sparkline=sparkline_svg(heart, label=f"heart rate, last {SPARK_HOURS} h"),
        ))
    rows.sort(key=lambda r: (-(r.score if r.score is not None else -1), r.name))
    return rows
