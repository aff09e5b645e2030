"""The one validation and storage path for readings, shared by `POST /api/v1/vitals` and the MQTT gateway.

Each item is validated on its own (by hand when it is well formed, by Pydantic otherwise, which also words the
rejection) and every rejected one is reported with its index and reason; the good ones
are stored with one multi-row insert that lets the unique (device, time, type) index drop repeats (insert …
on conflict do nothing, on SQLite and PostgreSQL), so a retried batch stores nothing new. Readings may arrive
late or out of order: scores always use the newest value by measurement time.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Table, text
from sqlalchemy.orm import Session

from carebridge.contexts import audit
from carebridge.contexts.monitoring import alerts, rollups
from carebridge.contexts.monitoring.models import Device, VitalReading
from carebridge.contexts.monitoring.schemas import MAX_BATCH, BatchReport, ReadingIn, Rejection
from carebridge.engines.vitals import ReadingProblem, fast_limits, normalize
from carebridge.kernel.events import emit

FUTURE_SKEW = timedelta(minutes=5)  # device clocks drift; further ahead is a wrong clock
MAX_AGE = timedelta(days=30)  # late arrivals are accepted up to the retention of the raw series
KEY = ("device_id", "observed_at", "type")
READINGS: Table = VitalReading.__table__  # type: ignore[assignment]


# PostgreSQL: the whole batch as one statement over arrays (one round trip, and a reliable row count)
_PG_BULK = text(
    "INSERT INTO vital_readings (patient_id, device_id, type, observed_at, value, unit, spo2_scale, received_at) "
    "SELECT * FROM unnest(CAST(:patient_id AS uuid[]), CAST(:device_id AS uuid[]), CAST(:type AS varchar[]), "
    "CAST(:observed_at AS timestamptz[]), CAST(:value AS float8[]), CAST(:unit AS varchar[]), "
    "CAST(:spo2_scale AS smallint[]), CAST(:received_at AS timestamptz[])) "
    "ON CONFLICT (device_id, observed_at, type) DO NOTHING"
)


_SQLITE_BULK = ("INSERT INTO vital_readings (patient_id, device_id, type, observed_at, value, unit, spo2_scale, "
                "received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_id, observed_at, type) DO NOTHING")
# the shapes Pydantic's AwareDatetime also accepts; anything else goes to Pydantic to be accepted or worded
_AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})\Z")


def _sqlite_time(at: datetime) -> str:
    """The text SQLAlchemy's SQLite DATETIME stores (UTC, microseconds always), so the unique index sees one
    spelling whichever path wrote the row."""
    # the first 26 characters of the UTC isoformat are "YYYY-MM-DD HH:MM:SS.ffffff" (years ≥ 1000 only, which
    # the 30-day acceptance window guarantees); skipping astimezone for UTC values halves the cost
    return (at if at.tzinfo is UTC else at.astimezone(UTC)).isoformat(" ", "microseconds")[:26]


Row = tuple[str, datetime, float, str, int | None]  # type, observed at, value, unit, SpO2 scale


def bulk_insert(session: Session, device: Device, rows: list[Row], *, now: datetime) -> int:
    """Store the rows, letting the unique (device, time, type) index drop repeats; answers how many were new.

    SQLite: one DBAPI executemany of `INSERT … ON CONFLICT DO NOTHING` with the values already in the column's
    stored form (no per-row bind processing; sqlite3 sums the row counts). PostgreSQL: one `INSERT … SELECT
    FROM unnest(arrays) ON CONFLICT DO NOTHING`."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        columns = {"patient_id": [device.patient_id] * len(rows), "device_id": [device.id] * len(rows),
                   "type": [r[0] for r in rows], "observed_at": [r[1] for r in rows],
                   "value": [r[2] for r in rows], "unit": [r[3] for r in rows], "spo2_scale": [r[4] for r in rows],
                   "received_at": [now] * len(rows)}
        return max(connection.execute(_PG_BULK, columns).rowcount, 0)
    patient, dev, received = device.patient_id.hex, device.id.hex, _sqlite_time(now)
    params = [(patient, dev, kind, _sqlite_time(at), value, unit, scale, received)
              for kind, at, value, unit, scale in rows]
    return max(connection.exec_driver_sql(_SQLITE_BULK, params).rowcount, 0)


def _reason(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}"[:300] if where else str(err["msg"])[:300]


Parsed = tuple[str, float | str | bool, str | None, datetime, int | None]


def fast_parse(raw: Any) -> Parsed | None:
    """A well-formed item checked by hand (what `ReadingIn` would accept, in the common spellings), or None to
    let Pydantic decide and word the rejection. Pydantic per item costs about as much as the insert."""
    if not isinstance(raw, dict):
        return None
    unit, scale = raw.get("unit"), raw.get("spo2_scale")
    # no field beyond the five (cheaper than comparing key sets); a missing required one is None below
    if len(raw) != 3 + ("unit" in raw) + ("spo2_scale" in raw):
        return None
    kind, value, at = raw.get("type"), raw.get("value"), raw.get("at")
    if not isinstance(kind, str) or not 0 < len(kind) <= 40:
        return None
    if isinstance(value, (float, str, bool)):  # a tuple: faster than a union here
        pass
    elif isinstance(value, int):
        value = float(value)
    else:
        return None
    if unit is not None and (not isinstance(unit, str) or len(unit) > 20):
        return None
    if scale is not None and (not isinstance(scale, int) or isinstance(scale, bool) or scale not in (1, 2)):
        return None
    if not isinstance(at, str) or _AT.match(at) is None:
        return None
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        return None
    return kind, value, unit, when, scale


def _slow_parse(raw: Any) -> Parsed | str:
    """Pydantic's answer for an item the hand check did not recognise: accepted, or the worded reason."""
    try:
        item = ReadingIn.model_validate(raw)
    except ValidationError as exc:
        return _reason(exc)
    return item.type, item.value, item.unit, item.at, item.spo2_scale


def validate_items(items: list[Any], *, device: Device, now: datetime) -> tuple[list[Row], list[Rejection]]:
    """Every item checked on its own: the good ones as rows, the others as rejections by index. A float of a
    numeric type in a known unit is converted and bound-checked inline (`fast_limits`); everything else goes
    through `normalize`, which also words the rejection."""
    rows: list[Row] = []
    rejected: list[Rejection] = []
    seen: set[tuple[datetime, str]] = set()
    newest, oldest = now + FUTURE_SKEW, now - MAX_AGE
    device_scale = device.spo2_scale
    for index, raw in enumerate(items[:MAX_BATCH]):
        parsed = fast_parse(raw) or _slow_parse(raw)
        if isinstance(parsed, str):
            rejected.append(Rejection(index=index, reason=parsed))
            continue
        kind, value, unit, at, scale = parsed
        limits = fast_limits(kind, unit) if value.__class__ is float else None
        converted = limits[0](value) if limits is not None else None
        if limits is not None and converted is not None and limits[1] <= converted <= limits[2]:
            stored_unit = limits[3]
        else:
            try:
                reading = normalize(kind, value, unit)
            except ReadingProblem as exc:
                rejected.append(Rejection(index=index, reason=str(exc)))
                continue
            converted, stored_unit = reading.value, reading.unit
        if at > newest:
            rejected.append(Rejection(index=index, reason="at: more than 5 minutes in the future"))
            continue
        if at < oldest:
            rejected.append(Rejection(index=index, reason="at: older than 30 days, past the raw retention"))
            continue
        key = (at, kind)
        if key in seen:
            rejected.append(Rejection(index=index, reason="repeats an earlier item of this batch (same type and at)"))
            continue
        seen.add(key)
        rows.append((kind, at, float(converted), stored_unit, (scale or device_scale) if kind == "spo2" else None))
    return rows, rejected


def ingest(session: Session, device: Device, items: list[Any], *, now: datetime, channel: str) -> BatchReport:
    """Validate, store and score one batch from an authenticated device; audited once per batch."""
    rows, rejected = validate_items(items, device=device, now=now)
    stored = 0
    if rows:
        stored = bulk_insert(session, device, rows, now=now)
    if stored:
        rollups.mark_pending(session, device.patient_id, [r[1] for r in rows])
    device.last_seen_at = now
    audit.record(session, None, action="create", resource_type="VitalReading", resource_id=device.id,
                 patient_id=device.patient_id, purpose="treatment",
                 detail={"device_id": str(device.id), "channel": channel, "stored": stored,
                         "rejected": len(rejected)}, at=now)
    if stored:
        latest: dict[str, Row] = {}
        for row in rows:
            if row[0] not in latest or row[1] > latest[row[0]][1]:
                latest[row[0]] = row
        emit(session, "monitoring.vitals_received", {
            "patient_id": str(device.patient_id), "device_id": str(device.id), "stored": stored,
            "latest": {t: {"value": r[2], "unit": r[3], "at": r[1].isoformat()} for t, r in latest.items()},
        })
        alerts.evaluate(session, patient_id=device.patient_id, now=now)
    return BatchReport(accepted=len(rows), stored=stored, duplicates=len(rows) - stored, rejected=rejected)
