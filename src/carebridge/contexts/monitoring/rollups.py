"""The 1-minute and 1-hour rollups the charts read, kept by a job rather than on every insert.

Why a job: ingest stays one insert per batch (plus one small upsert marking the touched patient-hours), so
the ingest rate does not pay for the aggregates, and the rollup of an hour is rebuilt whole from the raw
readings, which makes it exact with duplicates, late and out-of-order readings alike. The price is a lag:
charts show a reading once the job has run (every `monitoring_job_seconds`, 60 s by default); the ward's live
view and the alerts read the raw readings and do not lag.

Hours are built from the minutes (count, sum, min and max merge exactly), and the raw retention is at least
the 30-day late-arrival window, so an hour is never rebuilt from readings the retention already removed.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from carebridge.contexts.monitoring.models import RollupPending, VitalReading, VitalRollup
from carebridge.engines.vitals_rollups import HOUR, MINUTE, Aggregate, aggregate, bucket_start, coarsen

PENDING: Table = RollupPending.__table__  # type: ignore[assignment]
ROLLUPS: Table = VitalRollup.__table__  # type: ignore[assignment]
BATCH_HOURS = 500  # patient-hours rebuilt per job run; the rest wait for the next run


def mark_pending(session: Session, patient_id: uuid.UUID, times: Iterable[datetime]) -> None:
    """In the ingest transaction: note each hour of the patient's stored readings. The upsert bumps the
    generation of a mark already there, which the job checks before removing it."""
    stamps = list(times)
    if not stamps:
        return
    first, last = int(min(stamps).timestamp()) // HOUR, int(max(stamps).timestamp()) // HOUR
    # a batch usually spans a few hours: mark the span (an hour without readings rebuilds to nothing) rather
    # than convert every reading's time; a batch spread over days is marked hour by hour
    hours = (set(range(first, last + 1)) if last - first <= 24
             else {int(at.timestamp()) // HOUR for at in stamps})
    values = [{"patient_id": patient_id, "hour_start": datetime.fromtimestamp(hour * HOUR, UTC), "generation": 1}
              for hour in sorted(hours)]
    dialect = session.connection().dialect.name
    stmt = (pg_insert(PENDING) if dialect == "postgresql" else sqlite_insert(PENDING))
    stmt = stmt.on_conflict_do_update(index_elements=["patient_id", "hour_start"],
                                      set_={"generation": PENDING.c.generation + 1})
    session.execute(stmt, values)


def rebuild_hour(session: Session, *, patient_id: uuid.UUID, hour: datetime) -> int:
    """Replace the rollups of one patient-hour (every type, minutes and the hour) from the raw readings."""
    end = hour + timedelta(seconds=HOUR)
    points: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for kind, at, value in session.execute(
            select(VitalReading.type, VitalReading.observed_at, VitalReading.value)
            .where(VitalReading.patient_id == patient_id, VitalReading.observed_at >= hour,
                   VitalReading.observed_at < end)).tuples():
        points[kind].append((at, value))
    session.execute(delete(VitalRollup).where(
        VitalRollup.patient_id == patient_id,
        ((VitalRollup.width == MINUTE) & (VitalRollup.bucket_start >= hour) & (VitalRollup.bucket_start < end))
        | ((VitalRollup.width == HOUR) & (VitalRollup.bucket_start == hour))))
    out: list[dict[str, Any]] = []
    for kind, series in points.items():
        minutes = aggregate(series, MINUTE)
        for width, buckets in ((MINUTE, minutes), (HOUR, coarsen(minutes.items(), HOUR))):
            out += [_row(patient_id, kind, width, start, agg) for start, agg in buckets.items()]
    if out:
        session.execute(insert(VitalRollup), out)
    return len(out)


def _row(patient_id: uuid.UUID, kind: str, width: int, start: datetime, agg: Aggregate) -> dict[str, Any]:
    return {"patient_id": patient_id, "type": kind, "width": width, "bucket_start": start, "count": agg.count,
            "sum": agg.sum, "min": agg.min, "max": agg.max}


def refresh_rollups(session: Session, *, limit: int = BATCH_HOURS) -> int:
    """Rebuild up to `limit` pending patient-hours, oldest first; answers how many were rebuilt."""
    pending = session.execute(select(RollupPending.patient_id, RollupPending.hour_start, RollupPending.generation)
                              .order_by(RollupPending.hour_start).limit(limit)).tuples().all()
    for patient_id, hour, generation in pending:
        rebuild_hour(session, patient_id=patient_id, hour=hour)
        session.execute(delete(RollupPending).where(RollupPending.patient_id == patient_id,
                                                    RollupPending.hour_start == hour,
                                                    RollupPending.generation == generation))
    return len(pending)


def read_rollups(session: Session, *, patient_id: uuid.UUID, types: list[str], width: int, since: datetime,
                 until: datetime) -> dict[str, list[tuple[datetime, Aggregate]]]:
    """The buckets of each type in [since, until), oldest first."""
    out: dict[str, list[tuple[datetime, Aggregate]]] = {t: [] for t in types}
    rows = session.execute(
        select(VitalRollup.type, VitalRollup.bucket_start, VitalRollup.count, VitalRollup.sum, VitalRollup.min,
               VitalRollup.max)
        .where(VitalRollup.patient_id == patient_id, VitalRollup.type.in_(types), VitalRollup.width == width,
               VitalRollup.bucket_start >= bucket_start(since, width), VitalRollup.bucket_start < until)
        .order_by(VitalRollup.bucket_start)).tuples()
    for kind, start, count, total, low, high in rows:
        out[kind].append((start, Aggregate(count, total, low, high)))
    return out
