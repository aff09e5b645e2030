"""A real browser (JavaScript on), a real server with its MQTT gateway, the real Mosquitto broker: readings a
device publishes over MQTT arrive, and the open ward view shows the patient's alert without a reload (its
script listens to the SSE stream and re-fetches the table)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from carebridge.contexts.monitoring.gateway import topic_for
from carebridge.contexts.monitoring.models import Device
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.main import create_app
from carebridge.security import Role
from carebridge.settings import Settings
from tests.api.monitoring.conftest import MEDIUM_5
from tests.conftest import TEST_SECRET
from tests.factories import DEFAULT_PASSWORD, Factory
from tests.servers import running_server
from tests.services import MQTT_URL, require_mqtt
from tests.web.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, DESKTOP, _require_chromium

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.mqtt]


@dataclass(frozen=True)
class Ward:
    base: str
    nurse: str
    patient_id: uuid.UUID
    device_id: uuid.UUID
    credential: str


@pytest.fixture(scope="module")
def ward(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ward]:
    _require_chromium()
    require_mqtt()
    data_dir = tmp_path_factory.mktemp("ward-browser")
    url = f"sqlite:///{data_dir / 'carebridge.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREBRIDGE_")}
    env.update(CAREBRIDGE_DATA_DIR=str(data_dir), CAREBRIDGE_ENV="test", CAREBRIDGE_LOG_LEVEL="WARNING",
               CAREBRIDGE_SECRET_KEY=TEST_SECRET, CAREBRIDGE_MQTT_URL=MQTT_URL)
    subprocess.run([sys.executable, "-m", "carebridge.cli", "migrate"], env=env, check=True, timeout=180,
                   capture_output=True)
    now = datetime.now(UTC)
    database = Database(url)
    settings = Settings(env="test", data_dir=data_dir, database_url=url, secret_key=TEST_SECRET, log_level="WARNING")
    factory = Factory(app=create_app(settings, database=database, clock=FixedClock(now)), database=database,
                      clock=FixedClock(now))
    org = factory.organization()
    pid = factory.patient(organization_id=org, given="Meera", family="Iyer")
    nurse = factory.user(Role.nurse, organization_id=org)
    device_id, secret = uuid.uuid4(), uuid.uuid4().hex
    with database.unit_of_work() as s:
        s.add(Device(id=device_id, patient_id=pid, type="patch", serial="W-1", spo2_scale=1, created_at=now,
                     secret_hash=hashlib.sha256(secret.encode()).hexdigest()))
    database.dispose()
    with running_server(env, data_dir / "server.log") as base:
        yield Ward(base, nurse.username, pid, device_id, f"cbd_{device_id.hex}_{secret}")


def test_readings_arrive_over_mqtt_and_the_ward_view_shows_the_alert_without_a_reload(ward: Ward) -> None:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    device = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"ward-test-{uuid.uuid4()}")
    device.connect("127.0.0.1", 1883)
    device.loop_start()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_context(viewport=DESKTOP, locale="en-GB").new_page()
            page.goto(ward.base + "/login")
            page.get_by_label("Username", exact=True).fill(ward.nurse)
            page.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page).to_have_url(ward.base + "/dashboard")
            page.get_by_role("link", name="Ward view").click()
            expect(page).to_have_url(ward.base + "/monitoring/ward")
            row = page.locator("#ward tbody tr").filter(has_text="Meera Iyer")
            expect(row.locator("strong.news2")).to_have_text("–")
            page.evaluate("window.__noReload = true")  # gone if the page were loaded again
            score = row.locator("strong.news2.band-amber")
            for attempt in range(6):  # the stream connects asynchronously: publish again until the table moves
                at = datetime.now(UTC).isoformat()
                payload = {"credential": ward.credential,
                           "readings": [{"type": t, "value": v, "at": at} for t, v in MEDIUM_5.items()]}
                device.publish(topic_for(ward.device_id), json.dumps(payload), qos=1).wait_for_publish(5)
                try:
                    expect(score).to_have_text("5", timeout=5000)
                    break
                except (AssertionError, PlaywrightError):
                    if attempt == 5:
                        raise
            expect(row).to_have_class("band-amber")
            expect(row.locator("td").nth(3)).to_have_text("1")  # one open alert
            assert page.evaluate("window.__noReload") is True
            page.screenshot(path=str(ARTIFACTS / "ward-live-alert.png"), full_page=True)
        finally:
            browser.close()
            device.loop_stop()
            device.disconnect()
