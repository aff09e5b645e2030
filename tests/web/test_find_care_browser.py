"""A real browser against a real server, JavaScript off: a patient checks a rash from the navigation, gives a
town rather than coordinates, reads the urgency and the nearest dermatology clinic with phone and directions,
and follows "Book an appointment" into the booking page; then chest pain is an emergency with a call button
and only the emergency department listed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from carebridge.contexts.facilities.schemas import FacilityCreate
from carebridge.contexts.facilities.service import upsert_many
from carebridge.security import Role
from tests.factories import DEFAULT_PASSWORD
from tests.integration.facilities.helpers import ALWAYS, payload
from tests.servers import running_server
from tests.web.seeded import seeded_data_dir
from tests.web.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, PHONE, _require_chromium

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@dataclass
class World:
    base: str
    patient: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    _require_chromium()
    data_dir = tmp_path_factory.mktemp("care-browser")
    seeded = seeded_data_dir(data_dir)
    env, database, factory, now = seeded.env, seeded.database, seeded.factory, seeded.now
    patient = factory.user(Role.patient, patient_id=factory.patient(given="Meera", family="Iyer"))
    address = {"city": "Pune", "country": "IN"}
    with database.unit_of_work() as s:
        upsert_many(s, [
            FacilityCreate.model_validate(payload(
                name="Deccan Skin Clinic", type="private_clinic", specialties=["dermatology"], opening_hours=ALWAYS,
                address={**address, "line": "FC Road"}, location={"lat": 18.5158, "lng": 73.8418},
                contact={"phone": "+91 20 2565 0000"})),
            FacilityCreate.model_validate(payload(
                name="Sassoon General Hospital", emergency=True, specialties=["emergency_medicine"],
                opening_hours=ALWAYS, address=address, location={"lat": 18.5286, "lng": 73.8740})),
        ], now=now)
    database.dispose()
    with running_server(env, data_dir / "server.log") as base:
        yield World(base=base, patient=patient.username)


def test_check_a_rash_then_book_and_chest_pain_calls(world: World) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_context(viewport=PHONE, java_script_enabled=False, locale="en-GB").new_page()
            page.goto(world.base + "/login")
            page.get_by_label("Username", exact=True).fill(world.patient)
            page.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page).to_have_url(world.base + "/dashboard")

            page.get_by_role("link", name="Check symptoms").first.click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Check your symptoms")
            page.get_by_label("What is wrong?").fill("itchy red rash on both arms for two weeks, no fever")
            page.get_by_label("Age in years").fill("30")
            page.get_by_label("Town or city").fill("Pune")
            page.get_by_role("button", name="Check", exact=True).click()

            expect(page.get_by_role("heading", level=1)).to_have_text("How urgent it looks")
            listing = page.locator("ul.facility-list > li").first
            expect(listing).to_contain_text("Deccan Skin Clinic")
            expect(listing).to_contain_text("km")
            expect(listing.get_by_role("link", name="Call +91 20 2565 0000")).to_have_attribute(
                "href", "tel:+912025650000")
            expect(listing.get_by_role("link", name="Directions")).to_have_attribute(
                "href", re.compile(r"^https://www\.openstreetmap\.org/directions\?"))
            page.screenshot(path=str(ARTIFACTS / "find-care-result-phone.png"), full_page=True)
            listing.get_by_role("link", name="Book an appointment").click()
            expect(page).to_have_url(world.base + "/book?specialty=dermatology")
            expect(page.get_by_role("heading", level=1)).to_be_visible()

            page.goto(world.base + "/find-care")
            page.get_by_label("What is wrong?").fill("severe chest pain spreading to my left arm and sweating")
            page.get_by_label("Town or city").fill("pune")
            page.get_by_role("button", name="Check", exact=True).click()
            expect(page.locator(".urgency h2")).to_have_text("Emergency: get help now")
            expect(page.get_by_role("link", name="Call 112 now")).to_have_attribute("href", "tel:112")
            expect(page.locator("ul.facility-list > li")).to_have_count(1)
            expect(page.locator("ul.facility-list")).to_contain_text("Sassoon General Hospital")
            page.screenshot(path=str(ARTIFACTS / "find-care-emergency-phone.png"), full_page=True)
        finally:
            browser.close()
