"""A patient merge moves the duplicate's monitoring rows to the survivor; rollup buckets both had are combined
exactly, and the survivor's own threshold rule for a type wins."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from carebridge.contexts.monitoring.jobs import MonitoringJob
from carebridge.contexts.monitoring.models import Alert, Device, ThresholdRule, VitalReading, VitalRollup
from carebridge.contexts.patients import merge_handlers
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from tests.api.monitoring.conftest import MEDIUM_5, Rig, readings


def test_a_merge_moves_devices_readings_alerts_rules_and_rollups(client: TestClient, rig: Rig, clock: FixedClock,
                                                                 database: Database) -> None:
    source, target = rig.clinic.patient_id, rig.clinic.other_patient_id
    hour = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    assert client.post("/api/v1/vitals", headers=rig.key, json={"readings": readings(clock, MEDIUM_5)}).status_code \
        == 200
    assert client.put(f"/api/v1/patients/{source}/threshold-rules/spo2", headers=rig.nurse,
                      json={"min": 92}).status_code == 200
    assert client.put(f"/api/v1/patients/{source}/threshold-rules/heart_rate", headers=rig.nurse,
                      json={"max": 120}).status_code == 200
    MonitoringJob(database, clock).run_once()
    with database.unit_of_work() as s:
        s.add(ThresholdRule(patient_id=target, type="spo2", min=88.0, created_at=clock.now(),
                            updated_at=clock.now()))
        s.execute(insert(VitalRollup), [{"patient_id": target, "type": "heart_rate", "width": 3600,
                                         "bucket_start": hour, "count": 2, "sum": 100.0, "min": 40.0,
                                         "max": 60.0}])
    assert "monitoring" in merge_handlers()
    with database.unit_of_work() as s:
        moved = merge_handlers()["monitoring"](s, source_id=source, target_id=target, now=clock.now())
    assert moved["monitoring_devices"] == 1 and moved["vital_readings"] == len(MEDIUM_5)
    assert moved["monitoring_alerts"] >= 1 and moved["monitoring_threshold_rules"] == 1
    with database.unit_of_work() as s:
        for model in (Device, VitalReading, Alert, ThresholdRule, VitalRollup):
            assert s.scalars(select(model).where(model.patient_id == source)).first() is None, model
        rules = dict(s.execute(select(ThresholdRule.type, ThresholdRule.min)
                               .where(ThresholdRule.patient_id == target)).tuples().all())
        assert rules == {"spo2": 88.0, "heart_rate": None}  # the survivor's own SpO2 rule kept
        combined = s.execute(select(VitalRollup.count, VitalRollup.sum, VitalRollup.min, VitalRollup.max).where(
            VitalRollup.patient_id == target, VitalRollup.type == "heart_rate", VitalRollup.width == 3600,
            VitalRollup.bucket_start == hour)).tuples().one()
    assert combined == (3, 195.0, 40.0, 95.0)  # 2 readings (40, 60) + the moved one (95)
    device = uuid.UUID(rig.device_id)
    late = [{"type": "heart_rate", "value": 70, "at": (clock.now() - timedelta(minutes=1)).isoformat()}]
    # the device keeps working after the merge and its readings now belong to the survivor
    assert client.post("/api/v1/vitals", headers=rig.key, json={"readings": late}).status_code == 200
    with database.unit_of_work() as s:
        assert s.scalar(select(VitalReading.patient_id).where(VitalReading.device_id == device,
                                                              VitalReading.value == 70.0)) == target
