"""Rollups (kept by the monitoring job from the raw readings), the retention, the care team's notifications on
alert raised and escalated, and the job that runs escalation inside the server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from carebridge.contexts.monitoring import rollups
from carebridge.contexts.monitoring.jobs import MonitoringJob, Retention
from carebridge.contexts.monitoring.models import Alert, RollupPending, VitalReading, VitalRollup
from carebridge.contexts.notifications.models import Notification
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.security import Role
from tests.api.monitoring.conftest import MEDIUM_5, NORMAL, Rig, readings


def _post(client: TestClient, rig: Rig, batch: list[dict[str, object]]) -> dict[str, object]:
    r = client.post("/api/v1/vitals", headers=rig.key, json={"readings": batch})
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def _rollups(database: Database, patient_id: uuid.UUID, width: int) -> dict[tuple[str, datetime], tuple[int, float, float, float]]:
    with database.unit_of_work() as s:
        rows = s.execute(select(VitalRollup.type, VitalRollup.bucket_start, VitalRollup.count, VitalRollup.sum,
                                VitalRollup.min, VitalRollup.max)
                         .where(VitalRollup.patient_id == patient_id, VitalRollup.width == width)).tuples().all()
    return {(t, at): (n, total, low, high) for t, at, n, total, low, high in rows}


def test_the_job_rolls_up_minutes_and_hours_from_the_raw_readings(client: TestClient, rig: Rig, clock: FixedClock,
                                                                   database: Database) -> None:
    base = clock.now().replace(minute=0)  # 09:00
    heart = [{"type": "heart_rate", "value": v, "at": (base + timedelta(minutes=m, seconds=s)).isoformat()}
             for m, s, v in [(0, 0, 60), (0, 30, 80), (1, 0, 100), (20, 0, 90)]]
    _post(client, rig, heart)
    assert _rollups(database, rig.clinic.patient_id, 60) == {}  # nothing until the job runs
    report = MonitoringJob(database, clock).run_once()
    assert report.rolled_up == 1
    minutes = _rollups(database, rig.clinic.patient_id, 60)
    assert minutes == {("heart_rate", base): (2, 140.0, 60.0, 80.0),
                       ("heart_rate", base + timedelta(minutes=1)): (1, 100.0, 100.0, 100.0),
                       ("heart_rate", base + timedelta(minutes=20)): (1, 90.0, 90.0, 90.0)}
    assert _rollups(database, rig.clinic.patient_id, 3600) == {("heart_rate", base): (4, 330.0, 60.0, 100.0)}


def test_a_late_reading_and_a_resent_batch_keep_the_rollup_exact(client: TestClient, rig: Rig, clock: FixedClock,
                                                                  database: Database) -> None:
    base = clock.now().replace(minute=0)
    first = [{"type": "heart_rate", "value": 70, "at": (base + timedelta(minutes=5)).isoformat()}]
    _post(client, rig, first)
    job = MonitoringJob(database, clock)
    job.run_once()
    assert _post(client, rig, first)["duplicates"] == 1  # a retry stores nothing and marks nothing
    late = [{"type": "heart_rate", "value": 90, "at": (base + timedelta(minutes=5, seconds=10)).isoformat()}]
    _post(client, rig, late)
    assert job.run_once().rolled_up == 1
    assert _rollups(database, rig.clinic.patient_id, 3600) == {("heart_rate", base): (2, 160.0, 70.0, 90.0)}
    with database.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(RollupPending)) == 0


def test_a_mark_bumped_while_the_hour_was_rebuilt_is_kept(client: TestClient, rig: Rig, clock: FixedClock,
                                                          database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The job removes a pending mark only at the generation it read, so readings another transaction
    committed while the hour was being rebuilt are rolled up on the next run."""
    base = clock.now().replace(minute=0)
    _post(client, rig, [{"type": "heart_rate", "value": 70, "at": base.isoformat()}])
    real = rollups.rebuild_hour

    def rebuild_then_more_arrive(session: Session, *, patient_id: uuid.UUID, hour: datetime) -> int:
        done = real(session, patient_id=patient_id, hour=hour)
        session.execute(insert(VitalReading), [{"patient_id": patient_id, "device_id": uuid.UUID(rig.device_id),
                                                "type": "heart_rate", "observed_at": base + timedelta(seconds=1),
                                                "value": 90.0, "unit": "/min", "received_at": clock.now()}])
        rollups.mark_pending(session, patient_id, [base + timedelta(seconds=1)])
        return done

    monkeypatch.setattr(rollups, "rebuild_hour", rebuild_then_more_arrive)
    job = MonitoringJob(database, clock)
    job.run_once()
    with database.unit_of_work() as s:
        assert s.execute(select(RollupPending.generation)).scalar_one() == 2
    monkeypatch.setattr(rollups, "rebuild_hour", real)
    assert job.run_once().rolled_up == 1
    assert _rollups(database, rig.clinic.patient_id, 3600) == {("heart_rate", base): (2, 160.0, 70.0, 90.0)}


def test_retention_removes_raw_readings_first_and_rollups_later(client: TestClient, rig: Rig, clock: FixedClock,
                                                                 database: Database) -> None:
    old = clock.now() - timedelta(days=29)
    _post(client, rig, [{"type": "heart_rate", "value": 77, "at": old.isoformat()},
                        {"type": "heart_rate", "value": 78, "at": clock.now().isoformat()}])
    job = MonitoringJob(database, clock, keep=Retention(raw_days=30, minute_days=40, hour_days=0))
    first = job.run_once()
    assert first.retention is not None and first.retention.readings_deleted == 0
    clock.advance(days=2)  # the old reading is now 31 days old
    report = MonitoringJob(database, clock, keep=Retention(raw_days=30, minute_days=40, hour_days=0)).run_once()
    assert report.retention is not None
    # SQLite deletes the row; PostgreSQL drops the whole day partition it was in
    assert report.retention.readings_deleted + report.retention.partitions_dropped == 1
    with database.unit_of_work() as s:
        assert list(s.scalars(select(VitalReading.value).where(
            VitalReading.patient_id == rig.clinic.patient_id))) == [78.0]
    assert len(_rollups(database, rig.clinic.patient_id, 60)) == 2  # the minute rollups outlive the raw rows
    clock.advance(days=10)  # 41 days: past the 1-minute retention, hours are kept for ever (0)
    later = MonitoringJob(database, clock, keep=Retention(raw_days=30, minute_days=40, hour_days=0)).run_once()
    assert later.retention is not None and later.retention.minute_rollups_deleted == 1
    assert later.retention.hour_rollups_deleted == 0
    assert len(_rollups(database, rig.clinic.patient_id, 3600)) == 2


def test_maintenance_runs_at_most_once_per_period(rig: Rig, clock: FixedClock, database: Database) -> None:
    job = MonitoringJob(database, clock, maintenance_seconds=3600)
    assert job.run_once().retention is not None
    clock.advance(minutes=30)
    assert job.run_once().retention is None
    clock.advance(minutes=31)
    assert job.run_once().retention is not None


def _notifications(database: Database, template: str) -> list[tuple[uuid.UUID | None, str | None]]:
    with database.unit_of_work() as s:
        return list(s.execute(select(Notification.user_id, Notification.dedupe_key)
                              .where(Notification.template == template)).tuples())


def test_a_raised_alert_notifies_the_care_team_it_concerns(client: TestClient, rig: Rig, clock: FixedClock,
                                                            database: Database) -> None:
    _post(client, rig, readings(clock, MEDIUM_5))
    sent = _notifications(database, "monitoring.alert_raised")
    users = rig.clinic.users
    assert {uid for uid, _ in sent} == {users[Role.practitioner].id, users[Role.nurse].id}
    with database.unit_of_work() as s:
        alert = s.scalars(select(Alert)).one()
    assert all(key and key.startswith(f"monitoring:{alert.id}:raised:") for _, key in sent)
    _post(client, rig, readings(clock, MEDIUM_5, minutes_ago=-1))  # the same alert refreshed: nobody hears twice
    assert len(_notifications(database, "monitoring.alert_raised")) == 2


def test_a_normal_set_notifies_nobody(client: TestClient, rig: Rig, clock: FixedClock, database: Database) -> None:
    _post(client, rig, readings(clock, NORMAL))
    assert _notifications(database, "monitoring.alert_raised") == []


def test_the_job_escalates_an_unacknowledged_alert_once_and_tells_the_team(
        client: TestClient, rig: Rig, clock: FixedClock, database: Database) -> None:
    _post(client, rig, readings(clock, MEDIUM_5))
    job = MonitoringJob(database, clock)
    assert job.run_once().escalated == 0
    clock.advance(minutes=16)
    assert job.run_once().escalated == 1
    assert job.run_once().escalated == 0
    sent = _notifications(database, "monitoring.alert_escalated")
    assert {uid for uid, _ in sent} == {rig.clinic.users[Role.practitioner].id, rig.clinic.users[Role.nurse].id}


def test_an_acknowledged_alert_is_not_escalated(client: TestClient, rig: Rig, clock: FixedClock,
                                                database: Database) -> None:
    _post(client, rig, readings(clock, MEDIUM_5))
    alert_id = client.get(f"/api/v1/patients/{rig.clinic.patient_id}/alerts", headers=rig.nurse).json()["items"][0]["id"]
    assert client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=rig.nurse).status_code == 200
    clock.advance(minutes=16)
    assert MonitoringJob(database, clock).run_once().escalated == 0
    assert _notifications(database, "monitoring.alert_escalated") == []


def test_rollups_of_another_patient_are_untouched(client: TestClient, rig: Rig, clock: FixedClock,
                                                  database: Database) -> None:
    other = rig.clinic.other_patient_id
    with database.unit_of_work() as s:
        s.execute(insert(VitalRollup), [{"patient_id": other, "type": "heart_rate", "width": 60,
                                         "bucket_start": datetime(2026, 3, 10, 9, 0, tzinfo=UTC), "count": 1,
                                         "sum": 50.0, "min": 50.0, "max": 50.0}])
    _post(client, rig, [{"type": "heart_rate", "value": 70, "at": clock.now().replace(minute=0).isoformat()}])
    MonitoringJob(database, clock).run_once()
    assert _rollups(database, other, 60) == {("heart_rate", datetime(2026, 3, 10, 9, 0, tzinfo=UTC)):
                                             (1, 50.0, 50.0, 50.0)}
