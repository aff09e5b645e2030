"""PostgreSQL day partitions of the vitals series (migration 0003 + the monitoring job): created ahead, rows in
the default partition moved to their day, whole days past the retention dropped. SQLite stays a plain table."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from carebridge.contexts.monitoring import partitions, retention
from carebridge.contexts.monitoring.models import Device, VitalReading
from carebridge.kernel.clock import FixedClock
from tests.factories import Factory

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def _device(session: Session, factory: Factory) -> tuple[uuid.UUID, uuid.UUID]:
    patient = factory.patient()
    device = Device(id=uuid.uuid4(), patient_id=patient, type="patch", serial=f"S-{uuid.uuid4().hex[:8]}",
                    secret_hash="0" * 64, spo2_scale=1, created_at=NOW)
    session.add(device)
    session.flush()
    return patient, device.id


def _reading(session: Session, patient: uuid.UUID, device: uuid.UUID, at: datetime, value: float = 70.0) -> None:
    session.execute(insert(VitalReading), [{"patient_id": patient, "device_id": device, "type": "heart_rate",
                                            "observed_at": at, "value": value, "unit": "/min", "received_at": NOW}])


def _where(session: Session, at: datetime) -> str:
    return str(session.execute(text("SELECT tableoid::regclass::text FROM vital_readings WHERE observed_at = :at"),
                               {"at": at}).scalar_one())


def test_sqlite_keeps_a_plain_table(session: Session) -> None:
    if session.connection().dialect.name != "sqlite":
        pytest.skip("the SQLite pass checks the plain table")
    assert partitions.layout(session) == "plain"
    assert partitions.ensure_partitions(session, now=NOW) == []
    assert partitions.drop_expired(session, cutoff=NOW) == []


@pytest.mark.postgres
def test_the_migration_partitions_the_table_by_time(session: Session) -> None:
    assert partitions.layout(session) == "partitioned"
    key = session.execute(text("SELECT pg_get_partkeydef('public.vital_readings'::regclass)")).scalar_one()
    assert key == "RANGE (observed_at)"


@pytest.mark.postgres
def test_days_are_created_ahead_and_readings_land_in_their_day(session: Session, factory: Factory) -> None:
    created = partitions.ensure_partitions(session, now=NOW, ahead=2)
    assert created == [f"vital_partitions.vital_readings_p{d:%Y%m%d}"
                       for d in (date(2026, 3, 10), date(2026, 3, 11), date(2026, 3, 12))]
    assert partitions.ensure_partitions(session, now=NOW, ahead=2) == []  # idempotent
    patient, device = _device(session, factory)
    _reading(session, patient, device, NOW)
    assert _where(session, NOW) == "vital_partitions.vital_readings_p20260310"
    # a unique index still spans the partitions: the same reading is dropped by ON CONFLICT
    again = session.execute(text(
        "INSERT INTO vital_readings (patient_id, device_id, type, observed_at, value, unit, received_at) "
        "VALUES (:p, :d, 'heart_rate', :at, 71, '/min', :at) ON CONFLICT (device_id, observed_at, type) DO NOTHING"),
        {"p": patient, "d": device, "at": NOW})
    assert getattr(again, "rowcount", None) == 0


@pytest.mark.postgres
def test_rows_waiting_in_the_default_partition_move_to_their_day(session: Session, factory: Factory) -> None:
    patient, device = _device(session, factory)
    late = NOW - timedelta(days=3)
    _reading(session, patient, device, late)
    assert _where(session, late) == "vital_partitions.vital_readings_default"
    created = partitions.ensure_partitions(session, now=NOW, ahead=0)
    assert "vital_partitions.vital_readings_p20260307" in created
    assert _where(session, late) == "vital_partitions.vital_readings_p20260307"
    assert session.scalar(select(VitalReading.value).where(VitalReading.observed_at == late)) == 70.0


@pytest.mark.postgres
def test_retention_drops_whole_days_and_deletes_the_rest(session: Session, factory: Factory,
                                                         clock: FixedClock) -> None:
    patient, device = _device(session, factory)
    for days in (45, 31, 29):
        _reading(session, patient, device, NOW - timedelta(days=days, hours=1), value=float(days))
    partitions.ensure_partitions(session, now=NOW, ahead=0)  # the three days come out of the default
    report = retention.apply_retention(session, now=NOW, raw_days=30, minute_days=400, hour_days=0)
    assert report.partitions_dropped == 2
    left = list(session.scalars(select(VitalReading.value).where(VitalReading.patient_id == patient)))
    assert left == [29.0]
    names = {n for n in session.execute(text(
        "SELECT relname FROM pg_class WHERE relnamespace = 'vital_partitions'::regnamespace")).scalars()}
    assert "vital_readings_p20260123" not in names and "vital_readings_p20260207" not in names


@pytest.mark.postgres
def test_only_one_process_holds_the_maintenance_lock(session: Session, engine: object) -> None:
    from sqlalchemy import Engine

    assert isinstance(engine, Engine)
    assert partitions.try_lock(session)
    with engine.connect() as other:
        assert other.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": partitions.LOCK_KEY}).scalar() \
            is False
