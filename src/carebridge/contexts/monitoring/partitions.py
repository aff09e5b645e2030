"""PostgreSQL partitions of `vital_readings` (one per UTC day, in the schema `vital_partitions`; migration
0003 makes the table partitioned): created ahead by the monitoring job, rows that landed in the default
partition moved into their day, and whole days past the raw retention dropped (instant, unlike a DELETE).

On SQLite, and on PostgreSQL when the table is a TimescaleDB hypertable (its chunks are TimescaleDB's own
business; the retention calls `drop_chunks`), every function here does nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

SCHEMA = "vital_partitions"
PARENT = "public.vital_readings"
DEFAULT = f"{SCHEMA}.vital_readings_default"
AHEAD_DAYS = 7
_NAME = re.compile(r"^vital_readings_p(\d{8})$")
LOCK_KEY = 0x6362_7669_7461_6C73  # "cbvitals": one job at a time across API processes


def layout(session: Session) -> str:
    """`partitioned`, `hypertable` or `plain` (SQLite, or PostgreSQL before migration 0003)."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return "plain"
    if connection.execute(text("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(:t)"),
                          {"t": PARENT}).first() is not None:
        return "partitioned"
    hyper = connection.execute(text(
        "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).first() is not None
    return "hypertable" if hyper else "plain"


def partition_name(day: date) -> str:
    return f"vital_readings_p{day:%Y%m%d}"


def existing_days(session: Session) -> set[date]:
    names = session.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(:t)"), {"t": PARENT}).scalars()
    days: set[date] = set()
    for name in names:
        match = _NAME.match(name)
        if match:
            days.add(datetime.strptime(match.group(1), "%Y%m%d").replace(tzinfo=UTC).date())
    return days


def _bounds(day: date) -> tuple[str, str]:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start.isoformat(), (start + timedelta(days=1)).isoformat()


def create_partition(session: Session, day: date) -> str:
    """One day's partition; rows of that day already in the default partition move into it first (a range
    cannot be attached while the default partition holds rows of it)."""
    name = f"{SCHEMA}.{partition_name(day)}"
    low, high = _bounds(day)
    # names and bounds are built from a date, never from input
    session.execute(text(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS)"))
    session.execute(text(f"WITH moved AS (DELETE FROM {DEFAULT} WHERE observed_at >= :low AND observed_at < :high "  # noqa: S608
                         f"RETURNING *) INSERT INTO {name} SELECT * FROM moved"),
                    {"low": datetime.fromisoformat(low), "high": datetime.fromisoformat(high)})
    session.execute(text(f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM ('{low}') TO ('{high}')"))
    return name


def ensure_partitions(session: Session, *, now: datetime, ahead: int = AHEAD_DAYS) -> list[str]:
    """Today and the next `ahead` days, and every day that has rows waiting in the default partition."""
    if layout(session) != "partitioned":
        return []
    have = existing_days(session)
    today = now.astimezone(UTC).date()
    wanted = {today + timedelta(days=n) for n in range(ahead + 1)}
    wanted |= set(session.execute(text(
        f"SELECT DISTINCT CAST(observed_at AT TIME ZONE 'UTC' AS date) FROM {DEFAULT} LIMIT 400")).scalars())  # noqa: S608
    return [create_partition(session, day) for day in sorted(wanted - have)]


def drop_expired(session: Session, *, cutoff: datetime) -> list[str]:
    """Drop each day partition that ends at or before `cutoff`; answers the names dropped."""
    if layout(session) != "partitioned":
        return []
    gone = []
    for day in sorted(existing_days(session)):
        if datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC) <= cutoff:
            name = f"{SCHEMA}.{partition_name(day)}"
            session.execute(text(f"DROP TABLE {name}"))
            gone.append(name)
    return gone


def try_lock(session: Session) -> bool:
    """Only one process runs the maintenance at a time (released at commit); SQLite serialises writers."""
    if session.connection().dialect.name != "postgresql":
        return True
    return bool(session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOCK_KEY}).scalar())
