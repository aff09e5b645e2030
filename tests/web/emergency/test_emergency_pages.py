"""The SOS pages without JavaScript: the dashboard button raises an SOS from the last known place and shows the
nearest emergency care with call and directions links; staff acknowledge and close; the card page shows a QR."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from carebridge.contexts.facilities.schemas import FacilityCreate
from carebridge.contexts.facilities.service import upsert_many
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.security import Role
from tests.factories import Factory
from tests.integration.facilities.helpers import payload
from tests.web.helpers import assert_good_page, csrf_token, post_form, sign_in


@pytest.fixture
def people(factory: Factory, database: Database, clock: FixedClock) -> dict[str, str]:
    with database.unit_of_work() as s:
        upsert_many(s, [FacilityCreate.model_validate(payload(
            name="Sassoon General Hospital", emergency=True, location={"lat": 18.5286, "lng": 73.8740},
            contact={"phone": "+91 20 2612 8000"}))], now=clock.now())
    org = factory.organization()
    pid = factory.patient(organization_id=org, given="Meera", family="Iyer", latitude=18.5204, longitude=73.8567)
    return {"patient": factory.user(Role.patient, patient_id=pid).username,
            "nurse": factory.user(Role.nurse, organization_id=org).username}


def test_sos_from_the_dashboard_then_staff_acknowledge_and_close(client: TestClient, people: dict[str, str]) -> None:
    sign_in(client, people["patient"])
    dashboard = client.get("/dashboard")
    assert "SOS: I need help now" in dashboard.text
    raised = client.post("/sos", data={"csrf_token": csrf_token(dashboard.text)}, follow_redirects=True)
    assert raised.status_code == 200
    assert_good_page(raised.text)
    assert "Sassoon General Hospital" in raised.text and re.search(r"\d+\.\d km", raised.text)
    assert 'href="tel:+912026128000"' in raised.text
    assert 'href="geo:18.52860,73.87400"' in raised.text and "openstreetmap.org/directions" in raised.text
    client.cookies.clear()

    sign_in(client, people["nurse"])
    listing = client.get("/sos/open")
    assert_good_page(listing.text)
    assert "Meera Iyer" in listing.text
    action = re.findall(r'action="(/sos/[0-9a-f-]+/acknowledge)"', listing.text)[0]
    assert post_form(client, "/sos/open", action, {"note": "ambulance sent"}).status_code == 303
    page = client.get("/sos/open").text
    assert "/acknowledge" not in page
    close = re.findall(r'action="(/sos/[0-9a-f-]+/close)"', page)[0]
    assert post_form(client, "/sos/open", close, {"note": "admitted"}).status_code == 303
    assert "No open SOS." in client.get("/sos/open").text


def test_an_unknown_place_asks_again(client: TestClient, people: dict[str, str]) -> None:
    sign_in(client, people["patient"])
    response = post_form(client, "/sos", "/sos", {"place": "Nowhereville Xyz"})
    assert response.status_code == 422 and "We do not know where you are" in response.text


def test_the_card_page_shows_a_qr_code_and_the_card_text(client: TestClient, people: dict[str, str]) -> None:
    sign_in(client, people["patient"])
    page = client.get("/emergency-card")
    assert page.status_code == 200
    assert_good_page(page.text)
    assert 'src="data:image/svg+xml;base64,' in page.text and "CAREBRIDGE EMERGENCY CARD v1" in page.text
