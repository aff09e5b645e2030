"""A real browser against a real server, JavaScript off: a patient presses SOS on the dashboard and sees the
nearest emergency facility with a call link and directions."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from carebridge.contexts.facilities.schemas import FacilityCreate
from carebridge.contexts.facilities.service import upsert_many
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.main import create_app
from carebridge.security import Role
from carebridge.settings import Settings
from tests.conftest import TEST_SECRET
from tests.factories import DEFAULT_PASSWORD, Factory
from tests.integration.facilities.helpers import payload
from tests.servers import running_server
from tests.web.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, PHONE, _require_chromium

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    _require_chromium()
    data_dir = tmp_path_factory.mktemp("sos-browser")
    url = f"sqlite:///{data_dir / 'carebridge.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREBRIDGE_")}
    env.update(CAREBRIDGE_DATA_DIR=str(data_dir), CAREBRIDGE_ENV="test", CAREBRIDGE_LOG_LEVEL="WARNING",
               CAREBRIDGE_SECRET_KEY=TEST_SECRET)
    subprocess.run([sys.executable, "-m", "carebridge.cli", "migrate"], env=env, check=True, timeout=180,
                   capture_output=True)
    now = datetime.now(UTC)
    database = Database(url)
    settings = Settings(env="test", data_dir=data_dir, database_url=url, secret_key=TEST_SECRET, log_level="WARNING")
    factory = Factory(app=create_app(settings, database=database, clock=FixedClock(now)), database=database,
                      clock=FixedClock(now))
    pid = factory.patient(given="Meera", family="Iyer", latitude=18.5204, longitude=73.8567)
    patient = factory.user(Role.patient, patient_id=pid)
    with database.unit_of_work() as s:
        upsert_many(s, [
            FacilityCreate.model_validate(payload(name="Corner Clinic", location={"lat": 18.5210, "lng": 73.8570})),
            FacilityCreate.model_validate(payload(name="Sassoon General Hospital", emergency=True,
                                                  location={"lat": 18.5286, "lng": 73.8740},
                                                  contact={"phone": "+91 20 2612 8000"})),
            FacilityCreate.model_validate(payload(name="Far Hospital", emergency=True,
                                                  location={"lat": 18.75, "lng": 73.40})),
        ], now=now)
    database.dispose()
    with running_server(env, data_dir / "server.log") as base:
        yield base, patient.username


def test_press_sos_on_the_dashboard_and_see_the_nearest_emergency_facility(world: tuple[str, str]) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, username = world
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_context(viewport=PHONE, java_script_enabled=False, locale="en-GB").new_page()
            page.goto(base + "/login")
            page.get_by_label("Username", exact=True).fill(username)
            page.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page).to_have_url(base + "/dashboard")
            page.get_by_role("button", name="SOS: I need help now").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("SOS sent")
            first = page.locator("ul.facility-list > li").first
            expect(first).to_contain_text("Sassoon General Hospital")
            expect(first).to_contain_text(re.compile(r"\d+\.\d km"))
            expect(first.get_by_role("link", name="Call +91 20 2612 8000")).to_have_attribute(
                "href", "tel:+912026128000")
            expect(first.get_by_role("link", name="Directions")).to_have_attribute(
                "href", re.compile(r"^https://www\.openstreetmap\.org/directions\?"))
            expect(page.locator("ul.facility-list")).not_to_contain_text("Corner Clinic")
            page.screenshot(path=str(ARTIFACTS / "sos-result-phone.png"), full_page=True)
        finally:
            browser.close()
