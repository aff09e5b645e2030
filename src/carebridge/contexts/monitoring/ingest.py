"""The one validation and storage path for readings, shared by `POST /api/v1/vitals` and the MQTT gateway.

Each item is validated on its own and every rejected one is reported with its index and reason; the good ones
are stored with one multi-row insert that lets the unique (device, time, type) index drop repeats (insert …
on conflict do nothing, on SQLite and PostgreSQL), so a retried batch stores nothing new. Readings may arrive
late or out of order: scores always use the newest value by measurement time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Table, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from carebridge.contexts import audit
from carebridge.contexts.monitoring import alerts
from carebridge.contexts.monitoring.models import Device, VitalReading
from carebridge.contexts.monitoring.schemas import MAX_BATCH, BatchReport, ReadingIn, Rejection
from carebridge.engines.vitals import ReadingProblem, normalize
from carebridge.kernel.events import emit

FUTURE_SKEW = timedelta(minutes=5)  # device clocks drift; further ahead is a wrong clock
MAX_AGE = timedelta(days=30)  # late arrivals are accepted up to the retention of the raw series
KEY = ("device_id", "observed_at", "type")
READINGS: Table = VitalReading.__table__  # type: ignore[assignment]
_BATCH = TypeAdapter(list[ReadingIn])


# PostgreSQL: the whole batch as one statement over arrays (one round trip, and a reliable row count)
_PG_BULK = text(
    "INSERT INTO vital_readings (patient_id, device_id, type, observed_at, value, unit, spo2_scale, received_at) "
    "SELECT * FROM unnest(CAST(:patient_id AS uuid[]), CAST(:device_id AS uuid[]), CAST(:type AS varchar[]), "
    "CAST(:observed_at AS timestamptz[]), CAST(:value AS float8[]), CAST(:unit AS varchar[]), "
    "CAST(:spo2_scale AS smallint[]), CAST(:received_at AS timestamptz[])) "
    "ON CONFLICT (device_id, observed_at, type) DO NOTHING"
)


def bulk_insert(session: Session, rows: list[dict[str, Any]]) -> int:
    """Store the rows, letting the unique (device, time, type) index drop repeats; answers how many were new.

    SQLite: one Core executemany of `INSERT … ON CONFLICT DO NOTHING` (no ORM object per row; sqlite3 sums the
    row counts). PostgreSQL: one `INSERT … SELECT FROM unnest(arrays) ON CONFLICT DO NOTHING`."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        columns = {name: [row[name] for row in rows] for name in rows[0]}
        return max(connection.execute(_PG_BULK, columns).rowcount, 0)
    stmt = sqlite_insert(READINGS).on_conflict_do_nothing(index_elements=list(KEY))
    return max(connection.execute(stmt, rows).rowcount, 0)


def _reason(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}"[:300] if where else str(err["msg"])[:300]


def validate_items(items: list[Any], *, device: Device, now: datetime) -> tuple[list[dict[str, Any]],
                                                                                list[Rejection]]:
    rows: list[dict[str, Any]] = []
    rejected: list[Rejection] = []
    seen: set[tuple[datetime, str]] = set()
    items = items[:MAX_BATCH]
    try:  # one validator call for a well-formed batch; item by item only to locate what is malformed
        parsed: list[ReadingIn | ValidationError] = list(_BATCH.validate_python(items))
    except ValidationError:
        parsed = []
        for raw in items:
            try:
                parsed.append(ReadingIn.model_validate(raw))
            except ValidationError as exc:
                parsed.append(exc)
    for index, item in enumerate(parsed):
        if isinstance(item, ValidationError):
            rejected.append(Rejection(index=index, reason=_reason(item)))
            continue
        try:
            reading = normalize(item.type, item.value, item.unit)
        except ReadingProblem as exc:
            rejected.append(Rejection(index=index, reason=str(exc)))
            continue
        if item.at > now + FUTURE_SKEW:
            rejected.append(Rejection(index=index, reason="at: more than 5 minutes in the future"))
            continue
        if item.at < now - MAX_AGE:
            rejected.append(Rejection(index=index, reason="at: older than 30 days, past the raw retention"))
            continue
        key = (item.at, reading.type)
        if key in seen:
            rejected.append(Rejection(index=index, reason="repeats an earlier item of this batch (same type and at)"))
            continue
        seen.add(key)
        scale = (item.spo2_scale or device.spo2_scale) if reading.type == "spo2" else None
        rows.append({"patient_id": device.patient_id, "device_id": device.id, "type": reading.type,
                     "observed_at": item.at, "value": reading.value, "unit": reading.unit, "spo2_scale": scale,
                     "received_at": now})
    return rows, rejected


def ingest(session: Session, device: Device, items: list[Any], *, now: datetime, channel: str) -> BatchReport:
    """Validate, store and score one batch from an authenticated device; audited once per batch."""
    rows, rejected = validate_items(items, device=device, now=now)
    stored = 0
    if rows:
        # Core executemany on the session's connection: no ORM objects per row (insertmanyvalues batches it)
        stored = bulk_insert(session, rows)
    device.last_seen_at = now
    audit.record(session, None, action="create", resource_type="VitalReading", resource_id=device.id,
                 patient_id=device.patient_id, purpose="treatment",
                 detail={"device_id": str(device.id), "channel": channel, "stored": stored,
                         "rejected": len(rejected)}, at=now)
    if stored:
        latest: dict[str, dict[str, Any]] = {}
        for row in rows:
            if row["type"] not in latest or row["observed_at"] > latest[row["type"]]["observed_at"]:
                latest[row["type"]] = row
        emit(session, "monitoring.vitals_received", {
            "patient_id": str(device.patient_id), "device_id": str(device.id), "stored": stored,
            "latest": {t: {"value": r["value"], "unit": r["unit"], "at": r["observed_at"].isoformat()}
                       for t, r in latest.items()},
        })
        alerts.evaluate(session, patient_id=device.patient_id, now=now)
    return BatchReport(accepted=len(rows), stored=stored, duplicates=len(rows) - stored, rejected=rejected)
