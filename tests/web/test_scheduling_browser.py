"""A real browser against a real server, JavaScript off: a patient books, the practitioner sees it on their day,
the patient cancels, and the patient waiting for that practitioner is offered the freed slot and takes it.

The server runs on the system clock, so the schedule is laid out from today's date (a daily 09:00-10:00 UTC
rule) and the slot booked is three days ahead.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import time as wall
from datetime import timedelta

import pytest

from carebridge.contexts.facilities.models import Facility
from carebridge.contexts.practitioners.models import Practitioner
from carebridge.contexts.scheduling.models import AvailabilityRule
from carebridge.security import Role
from tests.integration.scheduling.helpers import running_server
from tests.web.seeded import seeded_data_dir
from tests.web.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, PHONE, _require_chromium, sign_in_page

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@dataclass
class World:
    base: str
    day: str
    patient: str
    waiter: str
    doctor: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    _require_chromium()
    data_dir = tmp_path_factory.mktemp("sched-browser")
    seeded = seeded_data_dir(data_dir)
    env, database, factory, now = seeded.env, seeded.database, seeded.factory, seeded.now
    org = factory.organization("Lotus Clinic")
    patient = factory.user(Role.patient, patient_id=factory.patient(given="Meera", family="Iyer"))
    waiter = factory.user(Role.patient, patient_id=factory.patient(given="Bela", family="Shah"))
    doctor = factory.user(Role.practitioner, organization_id=org)
    with database.unit_of_work() as s:
        fac = Facility(id=uuid.uuid4(), name="Lotus Clinic OPD", type="hospital", organization_id=org, lat=18.5,
                       lng=73.8, cell=0, created_at=now, updated_at=now)
        prac = Practitioner(id=uuid.uuid4(), given_name="Kavya", family_name="Rao", specialties=["cardiology"],
                            created_at=now, updated_at=now)
        s.add_all([fac, prac])
        s.flush()
        s.add(AvailabilityRule(id=uuid.uuid4(), practitioner_id=prac.id, facility_id=fac.id, time_zone="UTC",
                               rrule="FREQ=DAILY", starts_on=(now - timedelta(days=1)).date(), start_time=wall(9),
                               end_time=wall(10), slot_minutes=30, capacity=1, breaks=[], kinds=["in_person"],
                               specialties=["cardiology"], languages=[], created_at=now, updated_at=now,
                               practitioner_name="Kavya Rao", facility_name="Lotus Clinic OPD"))
    database.dispose()
    with running_server(env, data_dir / "server.log") as base:
        yield World(base=base, day=(now + timedelta(days=3)).date().isoformat(), patient=patient.username,
                    waiter=waiter.username, doctor=doctor.username)


def test_book_see_cancel_and_offer_to_the_waitlist(world: World) -> None:
    from playwright.sync_api import Page, expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def sign_in(page: Page, username: str) -> None:
        sign_in_page(page, world.base, username)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            def fresh() -> Page:
                ctx = browser.new_context(viewport=PHONE, java_script_enabled=False, locale="en-GB")
                return ctx.new_page()

            # the patient finds the 09:00 slot three days ahead and books it
            a = fresh()
            sign_in(a, world.patient)
            a.get_by_role("link", name="My appointments").first.click()
            a.get_by_role("link", name="Book an appointment").click()
            a.get_by_label("From").fill(world.day)
            a.get_by_role("button", name="Find slots").click()
            first = a.locator("ul.slots > li").first
            expect(first).to_contain_text(f"{world.day} 09:00")
            first.get_by_label("Reason for the visit").fill("palpitations")
            a.screenshot(path=str(ARTIFACTS / "scheduling-book-phone.png"), full_page=True)
            first.get_by_role("button", name="Book this slot").click()
            expect(a).to_have_url(world.base + "/appointments")
            expect(a.locator("table")).to_contain_text(f"{world.day} 09:00")

            # another patient finds it taken and joins the waitlist
            b = fresh()
            sign_in(b, world.waiter)
            b.goto(f"{world.base}/book?on={world.day}")
            expect(b.locator("ul.slots > li").first).to_contain_text(f"{world.day} 09:30")
            b.locator("ul.slots > li").first.get_by_role("button", name="Join the waitlist for an earlier slot").click()
            expect(b).to_have_url(world.base + "/appointments")

            # the practitioner sees the booking on their day
            d = fresh()
            sign_in(d, world.doctor)
            d.get_by_role("link", name="Practitioner's schedule").first.click()
            expect(d.get_by_label("Practitioner")).to_contain_text("Kavya Rao")
            d.get_by_label("Date").fill(world.day)
            d.get_by_role("button", name="Show").click()
            expect(d.locator("table")).to_contain_text("Meera Iyer")
            expect(d.locator("table")).to_contain_text("palpitations")
            d.screenshot(path=str(ARTIFACTS / "scheduling-day-phone.png"), full_page=True)

            # the patient cancels; the waiting patient is offered the slot and takes it
            a.get_by_role("button", name="Cancel appointment").click()
            expect(a.get_by_text("You have no upcoming appointments.")).to_be_visible()
            b.goto(world.base + "/appointments")
            expect(b.get_by_text("A slot has opened up for you")).to_be_visible()
            b.screenshot(path=str(ARTIFACTS / "scheduling-offer-phone.png"), full_page=True)
            b.get_by_role("button", name="Accept this slot").click()
            expect(b.locator("table")).to_contain_text(f"{world.day} 09:00")
            d.reload()
            expect(d.locator("table")).to_contain_text("Bela Shah")
        finally:
            browser.close()
