"""A patient's vitals charts over a chosen period, read from the rollups (1-minute buckets up to 6 hours,
1-hour buckets beyond), never from the raw series, so a month draws from ~720 rows per type."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.orm import Session

from carebridge.contexts.monitoring import rollups
from carebridge.contexts.monitoring.charts import Bucket, band_chart_svg
from carebridge.contexts.patients import load_patient_for
from carebridge.engines.vitals import catalog
from carebridge.engines.vitals_rollups import width_for
from carebridge.security import DataCategory, Permission, Principal

PERIODS: Final = {"6h": timedelta(hours=6), "24h": timedelta(days=1), "7d": timedelta(days=7),
                  "30d": timedelta(days=30)}
DEFAULT_PERIOD: Final = "24h"
CHART_TYPES: Final = ("heart_rate", "respiratory_rate", "spo2", "temperature", "systolic_bp", "diastolic_bp")


@dataclass(frozen=True, slots=True)
class Chart:
    type: str
    unit: str
    svg: str
    points: int
    mean: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True, slots=True)
class ChartPage:
    patient_id: uuid.UUID
    name: str
    period: str
    since: datetime
    until: datetime
    bucket_seconds: int
    charts: list[Chart]


def vitals_charts(session: Session, principal: Principal, *, patient_id: uuid.UUID, period: str,
                  now: datetime) -> ChartPage:
    """Checked by the policy (vitals category) and audited as a read of the patient's vitals."""
    patient = load_patient_for(session, principal, patient_id, Permission.record_read, now=now, action="read",
                               category=DataCategory.vitals)
    period = period if period in PERIODS else DEFAULT_PERIOD
    span = PERIODS[period]
    since, until = now - span, now
    width = width_for(span)
    series = rollups.read_rollups(session, patient_id=patient_id, types=list(CHART_TYPES), width=width,
                                  since=since, until=until)
    charts: list[Chart] = []
    for kind in CHART_TYPES:
        buckets = [Bucket(start, agg.mean, agg.min, agg.max) for start, agg in series[kind]]
        unit = catalog()[kind].unit
        count = sum(agg.count for _, agg in series[kind])
        mean = sum(agg.sum for _, agg in series[kind]) / count if count else None
        charts.append(Chart(
            type=kind, unit=unit, points=count, mean=None if mean is None else round(mean, 1),
            low=min((b.low for b in buckets), default=None), high=max((b.high for b in buckets), default=None),
            svg=band_chart_svg(buckets, since=since, until=until, width_seconds=width, label=kind, unit=unit)))
    return ChartPage(patient_id=patient_id, name=f"{patient.given_name} {patient.family_name}", period=period,
                     since=since, until=until, bucket_seconds=width, charts=charts)
