"""The symptom checker pages without a browser: an emergency complaint is told to call and shown only emergency
care, nearest first; a routine one gets the specialty's clinics with open/closed and a booking link; a town name
stands in for coordinates; bad input comes back on the form; a patient saves the answer to the record."""

from __future__ import annotations

import math
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carebridge.security import Role
from tests.factories import Clinic, Factory
from tests.integration.facilities.helpers import ALWAYS, WEEKDAY_HOURS, payload
from tests.web.helpers import assert_good_page, csrf_token, sign_in

HOME = (18.5204, 73.8567)  # central Pune


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Haversine on a 6371 km sphere, written here independently of the engine's geo code."""
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


@pytest.fixture
def registry(client: TestClient, factory: Factory, clinic: Clinic) -> dict[str, dict[str, Any]]:
    admin = factory.headers(clinic.users[Role.admin])
    made = {}
    for key, over in {
        "near_er": {"name": "Sassoon General Hospital", "emergency": True, "opening_hours": ALWAYS,
                    "location": {"lat": 18.5286, "lng": 73.8740}, "specialties": ["emergency_medicine"]},
        "far_er": {"name": "Hadapsar Trauma Centre", "emergency": True, "opening_hours": ALWAYS,
                   "location": {"lat": 18.5089, "lng": 73.9260}, "specialties": ["emergency_medicine"]},
        "derm": {"name": "Deccan Skin Clinic", "type": "private_clinic", "emergency": False,
                 "opening_hours": WEEKDAY_HOURS, "specialties": ["dermatology"],
                 "location": {"lat": 18.5158, "lng": 73.8418}},
    }.items():
        body = payload(organization_id=str(clinic.org), address={"city": "Pune", "country": "IN"}, **over)
        response = client.post("/api/v1/facilities", json=body, headers=admin)
        assert response.status_code == 201, response.text
        made[key] = response.json()
    return made


def _ask(client: TestClient, **form: str) -> Any:
    page = client.get("/find-care")
    assert page.status_code == 200
    return client.post("/find-care", data={"csrf_token": csrf_token(page.text), **form})


def test_chest_pain_is_an_emergency_with_the_nearest_emergency_department_first(
        client: TestClient, registry: dict[str, dict[str, Any]]) -> None:
    r = _ask(client, symptoms="crushing chest pain spreading to my left arm, sweating", age="58", sex="male",
             lat=str(HOME[0]), lng=str(HOME[1]))
    assert r.status_code == 200, r.text
    assert_good_page(r.text)
    assert "Emergency: get help now" in r.text and 'href="tel:112"' in r.text
    assert "urgency-emergency" in r.text
    near, far = registry["near_er"], registry["far_er"]
    assert r.text.index(near["name"]) < r.text.index(far["name"])  # nearest first
    assert "Deccan Skin Clinic" not in r.text  # emergency-only search
    expected = _km(HOME, (near["location"]["lat"], near["location"]["lng"]))
    assert f"{expected:.1f} km" in r.text
    assert "geo:18.52860,73.87400" in r.text and "openstreetmap.org/directions" in r.text
    assert "Book an appointment" not in r.text  # an emergency is not booked


def test_a_rash_finds_the_dermatologist_by_town_name_with_open_now_and_booking(
        client: TestClient, registry: dict[str, dict[str, Any]]) -> None:
    # the clock stands at Tue 2026-03-10 15:00 in Kolkata: a weekday clinic 09:00-17:00 is open
    r = _ask(client, symptoms="itchy red rash on my arms for two weeks, no fever", age="30", place="pune")
    assert r.status_code == 200, r.text
    assert "Deccan Skin Clinic" in r.text
    assert "Open now" in r.text
    assert "/book?specialty=dermatology" in r.text
    assert "urgency-emergency" not in r.text


def test_bad_input_comes_back_on_the_form_with_what_was_typed(client: TestClient,
                                                              registry: dict[str, dict[str, Any]]) -> None:
    r = _ask(client, symptoms="", place="Atlantis")
    assert r.status_code == 422
    assert_good_page(r.text)
    assert "Tell us what is wrong" in r.text and "We could not find that place" in r.text
    assert 'value="Atlantis"' in r.text
    bad_age = _ask(client, symptoms="headache", age="old", place="Pune")
    assert bad_age.status_code == 422 and "Give the age in years" in bad_age.text
    out_of_range = _ask(client, symptoms="headache", lat="95", lng="73.8")
    assert out_of_range.status_code == 422


def test_signed_in_patient_saves_the_answer_to_their_record(client: TestClient, factory: Factory, clinic: Clinic,
                                                            registry: dict[str, dict[str, Any]]) -> None:
    patient = clinic.users[Role.patient]
    assert sign_in(client, patient.username).status_code == 303
    r = _ask(client, symptoms="fever and body ache since yesterday", place="Pune")
    assert r.status_code == 200 and "Save to my record" in r.text
    action = r.text.split('action="/find-care/')[1].split('"')[0]
    saved = client.post(f"/find-care/{action}", data={"csrf_token": csrf_token(r.text)}, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == "/find-care?saved=1"
    request_id = action.removesuffix("/save")
    read = client.get(f"/api/v1/care-requests/{request_id}", headers=factory.headers(patient))
    assert read.status_code == 200 and read.json()["saved"] is True


def test_find_care_page_in_hindi(client: TestClient) -> None:
    page = client.get("/find-care", headers={"Accept-Language": "hi"})
    assert page.status_code == 200
    assert_good_page(page.text, lang="hi")
    assert "अपने लक्षण जाँचें" in page.text
