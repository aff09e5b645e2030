"""The MQTT gateway against the real Mosquitto broker: a reading published on a device's topic reaches the
vitals table through the same validation as HTTP, and its report comes back on the report topic."""

from __future__ import annotations

import json
import queue
import uuid
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from carebridge.contexts.monitoring.gateway import MqttGateway, handle_message, report_topic, topic_for
from carebridge.contexts.monitoring.models import VitalReading
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.kernel.migrate import upgrade
from carebridge.main import create_app
from carebridge.security import Role
from carebridge.settings import Settings
from tests.conftest import TEST_SECRET
from tests.factories import Factory
from tests.services import require_mqtt

pytestmark = pytest.mark.mqtt


@pytest.fixture
def own_db(tmp_path: Path) -> tuple[Database, FixedClock, Factory, TestClient]:
    """A file database of its own: the gateway works from paho's thread, which the test's single shared
    connection cannot serve."""
    url = f"sqlite:///{tmp_path / 'mqtt.db'}"
    upgrade(url)
    db = Database(url)
    clock = FixedClock(datetime(2026, 3, 10, 9, 30, tzinfo=UTC))
    settings = Settings(env="test", data_dir=tmp_path / "data", database_url=url, secret_key=TEST_SECRET,
                        log_level="WARNING", event_relay=False)
    app = create_app(settings, database=db, clock=clock)
    return db, clock, Factory(app=app, database=db, clock=clock), TestClient(app, raise_server_exceptions=False)


def _device(factory: Factory, client: TestClient) -> tuple[str, str]:
    org = factory.organization()
    patient = factory.patient(organization_id=org)
    nurse = factory.headers(factory.user(Role.nurse, organization_id=org))
    body = client.post(f"/api/v1/patients/{patient}/devices", headers=nurse,
                       json={"type": "patch", "serial": f"P-{uuid.uuid4().hex[:8]}"}).json()
    return body["id"], body["credential"]


def test_reading_published_on_mqtt_reaches_the_table(own_db: tuple[Database, FixedClock, Factory, TestClient]) -> None:
    url = require_mqtt()
    db, clock, factory, client = own_db
    device_id, credential = _device(factory, client)
    gateway = MqttGateway(db, clock, url)
    reports: queue.Queue[dict[str, object]] = queue.Queue()
    probe = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4()}")
    probe.on_message = lambda c, u, m: reports.put(json.loads(m.payload))
    probe.connect("127.0.0.1", 1883)
    probe.subscribe(report_topic(device_id), qos=1)
    probe.loop_start()
    gateway.start()
    try:
        at = clock.now().isoformat()
        payload = {"credential": credential, "readings": [{"type": "heart_rate", "value": 88, "at": at},
                                                          {"type": "spo2", "value": 140, "at": at}]}
        report: dict[str, object] | None = None
        for _ in range(20):  # until the gateway's subscription is live (connect is asynchronous)
            probe.publish(topic_for(device_id), json.dumps(payload), qos=1)
            try:
                report = reports.get(timeout=0.5)
                break
            except queue.Empty:
                continue
        assert report is not None, "no report from the gateway"
        assert report["stored"] in (0, 1) and report["accepted"] == 1
        rejected = report["rejected"]
        assert isinstance(rejected, list) and rejected[0]["index"] == 1
    finally:
        gateway.stop()
        probe.loop_stop()
        probe.disconnect()
    with db.unit_of_work() as s:
        count = s.scalar(select(func.count()).select_from(VitalReading)
                         .where(VitalReading.device_id == uuid.UUID(device_id)))
    assert count == 1  # published possibly more than once while subscribing: stored once
    db.dispose()


def test_wrong_device_or_bad_payload_is_refused(own_db: tuple[Database, FixedClock, Factory, TestClient]) -> None:
    db, clock, factory, client = own_db
    device_id, credential = _device(factory, client)
    other_id, _ = _device(factory, client)
    reading = {"type": "heart_rate", "value": 70, "at": clock.now().isoformat()}
    assert "error" in handle_message(db, clock, topic_for(other_id),
                                     json.dumps({"credential": credential, "readings": [reading]}).encode())
    assert "error" in handle_message(db, clock, topic_for(device_id), b"{not json")
    assert "error" in handle_message(db, clock, "carebridge/devices/x/vitals", b"{}")
    ok = handle_message(db, clock, topic_for(device_id), json.dumps({"credential": credential,
                                                                     "reading": reading}).encode())
    assert ok["stored"] == 1
    db.dispose()
