"""An event committed behind one API process reaches a live client connected to another, through NATS JetStream:
two uvicorn processes on one PostgreSQL database, a Server-Sent Events stream open on the second, a patient
registered through the first."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.kernel.migrate import upgrade
from carebridge.main import create_app
from carebridge.security import Role
from carebridge.settings import Settings
from tests.conftest import TEST_SECRET
from tests.factories import Factory
from tests.servers import fresh_database_url, running_server
from tests.services import require_nats

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.nats]


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[str, str, Factory]]:
    nats_url = require_nats()
    url = fresh_database_url(tmp_path, "events_e2e")
    upgrade(url)
    data_dir = tmp_path / "data"
    settings = Settings(env="test", data_dir=data_dir, database_url=url, secret_key=TEST_SECRET,
                        log_level="WARNING")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREBRIDGE_")}
    env.update(CAREBRIDGE_ENV="test", CAREBRIDGE_DATA_DIR=str(data_dir), CAREBRIDGE_DATABASE_URL=url,
               CAREBRIDGE_SECRET_KEY=TEST_SECRET, CAREBRIDGE_LOG_LEVEL="WARNING", CAREBRIDGE_EVENT_BUS="nats",
               CAREBRIDGE_NATS_URL=nats_url, CAREBRIDGE_REQUIRE_TOTP_FOR_ADMINS="false")
    database = Database(url)
    now = datetime.now(UTC)
    app = create_app(settings, database=database, clock=FixedClock(now))  # same keys: signs the tokens
    factory = Factory(app=app, database=database, clock=FixedClock(now))
    try:
        # B runs no relay: whatever its clients hear has come from A's relay through NATS
        env_b = {**env, "CAREBRIDGE_EVENT_RELAY": "false"}
        with running_server(env, tmp_path / "a.log") as a, running_server(env_b, tmp_path / "b.log") as b:
            yield a, b, factory
    finally:
        database.dispose()


def test_an_event_committed_on_one_process_streams_from_the_other(two_servers: tuple[str, str, Factory]) -> None:
    server_a, server_b, factory = two_servers
    admin = factory.user(Role.admin, organization_id=factory.organization())
    headers = factory.headers(admin)
    connected = threading.Event()
    seen: list[dict[str, object]] = []
    family = f"Stream{uuid.uuid4().hex[:6]}"

    def listen() -> None:
        with httpx.Client(base_url=server_b, timeout=httpx.Timeout(30, read=30), headers=headers) as client, \
                client.stream("GET", "/api/v1/admin/events/stream", params={"type": "patient."}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            event: dict[str, object] = {}
            for line in response.iter_lines():
                if line.startswith(": connected"):
                    connected.set()
                elif line.startswith("id: "):
                    event = {"id": line[4:]}
                elif line.startswith("event: "):
                    event["type"] = line[7:]
                elif line.startswith("data: "):
                    event["data"] = json.loads(line[6:])
                    seen.append(event)
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert connected.wait(20), "the stream on server B did not open"
    created = httpx.post(f"{server_a}/api/v1/patients", headers=headers, timeout=30, json={
        "given_name": "Leela", "family_name": family, "birth_date": "1979-02-03", "sex": "female"})
    assert created.status_code == 201, created.text
    listener.join(timeout=20)
    assert len(seen) == 1, "server B's client never heard of the patient created on server A"
    assert seen[0]["type"] == "patient.created"
    data = seen[0]["data"]
    assert isinstance(data, dict) and data["payload"]["patient_id"] == created.json()["id"]
