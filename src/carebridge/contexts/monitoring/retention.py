"""How long readings are kept: raw readings for `monitoring_raw_retention_days` (at least the 30-day
late-arrival window), 1-minute rollups and 1-hour rollups longer (their own settings; 0 keeps hours for ever).

On PostgreSQL whole day partitions past the cutoff are dropped (or TimescaleDB chunks, for a hypertable);
the DELETE then only meets the day the cutoff falls in (partition pruning) and the default partition.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, text
from sqlalchemy.orm import Session

from carebridge.contexts.monitoring import partitions
from carebridge.contexts.monitoring.models import VitalReading, VitalRollup
from carebridge.engines.vitals_rollups import HOUR, MINUTE


@dataclass(frozen=True, slots=True)
class RetentionReport:
    partitions_dropped: int
    readings_deleted: int
    minute_rollups_deleted: int
    hour_rollups_deleted: int


def _count(result: object) -> int:
    return max(int(getattr(result, "rowcount", 0) or 0), 0)


def apply_retention(session: Session, *, now: datetime, raw_days: int, minute_days: int,
                    hour_days: int) -> RetentionReport:
    cutoff = now - timedelta(days=raw_days)
    dropped = partitions.drop_expired(session, cutoff=cutoff)
    if partitions.layout(session) == "hypertable":
        session.execute(text("SELECT drop_chunks('vital_readings', older_than => :c)"), {"c": cutoff})
    readings = _count(session.execute(delete(VitalReading).where(VitalReading.observed_at < cutoff)
                                      .execution_options(synchronize_session=False)))
    minutes = _count(session.execute(delete(VitalRollup).where(
        VitalRollup.width == MINUTE, VitalRollup.bucket_start < now - timedelta(days=minute_days))
        .execution_options(synchronize_session=False)))
    hours = 0
    if hour_days:
        hours = _count(session.execute(delete(VitalRollup).where(
            VitalRollup.width == HOUR, VitalRollup.bucket_start < now - timedelta(days=hour_days))
            .execution_options(synchronize_session=False)))
    return RetentionReport(len(dropped), readings, minutes, hours)
