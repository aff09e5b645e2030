"""An alert raised behind one API process reaches the live clients of another: two uvicorn processes on one
PostgreSQL database and NATS JetStream, the ward's SSE stream open on the second, readings scoring NEWS2 5
posted to the first."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from carebridge.contexts.monitoring.models import Device
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.kernel.migrate import upgrade
from carebridge.main import create_app
from carebridge.security import Role
from carebridge.settings import Settings
from tests.api.monitoring.conftest import MEDIUM_5
from tests.conftest import TEST_SECRET
from tests.factories import Factory
from tests.servers import fresh_database_url, running_server
from tests.services import require_nats

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.nats]


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    nurse: dict[str, str]
    patient_id: uuid.UUID
    credential: str


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    nats_url = require_nats()
    url = fresh_database_url(tmp_path, "monitoring_e2e")
    upgrade(url)
    data_dir = tmp_path / "data"
    settings = Settings(env="test", data_dir=data_dir, database_url=url, secret_key=TEST_SECRET,
                        log_level="WARNING")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREBRIDGE_")}
    env.update(CAREBRIDGE_ENV="test", CAREBRIDGE_DATA_DIR=str(data_dir), CAREBRIDGE_DATABASE_URL=url,
               CAREBRIDGE_SECRET_KEY=TEST_SECRET, CAREBRIDGE_LOG_LEVEL="WARNING", CAREBRIDGE_EVENT_BUS="nats",
               CAREBRIDGE_NATS_URL=nats_url)
    database = Database(url)
    now = datetime.now(UTC)
    factory = Factory(app=create_app(settings, database=database, clock=FixedClock(now)), database=database,
                      clock=FixedClock(now))
    org = factory.organization()
    patient_id = factory.patient(organization_id=org, given="Meera", family="Iyer")
    nurse = factory.headers(factory.user(Role.nurse, organization_id=org))
    device_id, secret = uuid.uuid4(), uuid.uuid4().hex
    with database.unit_of_work() as s:
        s.add(Device(id=device_id, patient_id=patient_id, type="patch", serial="E2E-1", spo2_scale=1,
                     created_at=now, secret_hash=hashlib.sha256(secret.encode()).hexdigest()))
    try:
        # B runs no relay: whatever its clients hear came from A's relay through NATS
        with running_server(env, tmp_path / "a.log") as a, \
                running_server({**env, "CAREBRIDGE_EVENT_RELAY": "false"}, tmp_path / "b.log") as b:
            yield Pair(a, b, nurse, patient_id, f"cbd_{device_id.hex}_{secret}")
    finally:
        database.dispose()


def test_an_alert_raised_on_one_process_reaches_the_ward_stream_of_the_other(pair: Pair) -> None:
    connected = threading.Event()
    seen: list[dict[str, object]] = []

    def listen() -> None:
        with httpx.Client(base_url=pair.b, timeout=httpx.Timeout(30, read=30), headers=pair.nurse) as client, \
                client.stream("GET", "/api/v1/monitoring/stream", params={"patient": str(pair.patient_id)}) \
                as response:
            assert response.status_code == 200
            kind = ""
            for line in response.iter_lines():
                if line.startswith(": connected"):
                    connected.set()
                elif line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    seen.append({"type": kind, "data": json.loads(line[6:])})
                    if kind == "monitoring.alert_raised":
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert connected.wait(20), "the stream on server B did not open"
    at = datetime.now(UTC).isoformat()
    posted = httpx.post(f"{pair.a}/api/v1/vitals", headers={"X-Device-Key": pair.credential}, timeout=30,
                        json={"readings": [{"type": t, "value": v, "at": at} for t, v in MEDIUM_5.items()]})
    assert posted.status_code == 200, posted.text
    assert posted.json()["stored"] == len(MEDIUM_5)
    listener.join(timeout=20)
    alerts = [e for e in seen if e["type"] == "monitoring.alert_raised"]
    assert alerts, f"server B's client never heard of the alert raised on server A (saw {seen})"
    data = alerts[0]["data"]
    assert isinstance(data, dict)
    assert data["payload"]["patient_id"] == str(pair.patient_id)
    assert data["payload"]["kind"] == "news2" and data["payload"]["score"] == 5
