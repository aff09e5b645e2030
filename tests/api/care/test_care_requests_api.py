"""POST /api/v1/care-requests: triage, the facilities the urgency calls for, next steps, limits, saving."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from carebridge.security import Role
from tests.api.care.helpers import admin_headers, facility
from tests.factories import Clinic, Factory

HERE = {"lat": 12.97, "lng": 77.59}


@pytest.fixture
def admin(factory: Factory) -> dict[str, str]:
    return admin_headers(factory)


def test_chest_pain_is_an_emergency_and_finds_only_emergency_facilities(client: TestClient,
                                                                        admin: dict[str, str]) -> None:
    facility(client, admin, lat=12.971, lng=77.59, name="Corner Clinic", emergency=False)  # nearest, no ED
    ed = facility(client, admin, lat=12.99, lng=77.60, name="City Hospital ED", emergency=True)
    far_ed = facility(client, admin, lat=13.10, lng=77.59, name="North General", emergency=True,
                      specialties=["cardiology"])
    response = client.post("/api/v1/care-requests", json={"symptoms": "crushing chest pain and sweating",
                                                           "location": HERE, "age": 58})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["triage"]["level"] == "emergency"
    assert body["search"]["emergency_only"] is True
    assert [f["name"] for f in body["facilities"]] == [ed["name"], far_ed["name"]]
    assert all(f["emergency"] for f in body["facilities"])
    kinds = [s["kind"] for s in body["next_steps"]]
    assert kinds[0] == "call_emergency" and body["next_steps"][0]["href"] == "tel:112"
    assert "book" not in kinds and "directions" in kinds


def test_non_urgent_links_to_the_slot_search_for_the_specialty(client: TestClient, admin: dict[str, str]) -> None:
    derm = facility(client, admin, lat=12.98, lng=77.59, specialties=["dermatology"])
    facility(client, admin, lat=12.971, lng=77.59, specialties=["general_practice"])
    body = client.post("/api/v1/care-requests", json={"symptoms": "itchy rash on my arm for 2 weeks",
                                                       "location": HERE}).json()
    assert body["triage"]["level"] == "non_urgent" and body["triage"]["specialty"] == "dermatology"
    assert [f["id"] for f in body["facilities"]] == [derm["id"]]
    book = next(s for s in body["next_steps"] if s["kind"] == "book")
    assert book["href"].startswith("/api/v1/slots?specialty=dermatology&lat=12.97000&lng=77.59000")
    slots = client.get(book["href"])  # the link is a real route: slot search wants a signed-in caller
    assert slots.status_code in (200, 401)


def test_without_the_specialty_in_reach_the_nearest_of_any_are_shown(client: TestClient,
                                                                     admin: dict[str, str]) -> None:
    gp = facility(client, admin, lat=12.975, lng=77.59, specialties=["general_practice"])
    body = client.post("/api/v1/care-requests", json={"symptoms": "knee pain for a month after running",
                                                       "location": HERE}).json()
    assert body["search"]["specialty_matched"] is False
    assert [f["id"] for f in body["facilities"]] == [gp["id"]]


def test_anonymous_requests_are_rate_limited_per_address(app: FastAPI, client: TestClient) -> None:
    app.state.settings = app.state.settings.model_copy(update={"care_anonymous_limit": 2})
    body = {"symptoms": "fever and runny nose since yesterday", "location": HERE}
    assert client.post("/api/v1/care-requests", json=body).status_code == 201
    assert client.post("/api/v1/care-requests", json=body).status_code == 201
    third = client.post("/api/v1/care-requests", json=body)
    assert third.status_code == 429
    assert third.headers["content-type"].startswith("application/problem+json")
    assert 0 < int(third.headers["Retry-After"]) <= 3600


def test_signed_in_patients_are_not_limited_and_can_save(client: TestClient, factory: Factory, app: FastAPI) -> None:
    app.state.settings = app.state.settings.model_copy(update={"care_anonymous_limit": 1})
    clinic: Clinic = factory.clinic()
    patient = factory.headers(clinic.users[Role.patient])
    body = {"symptoms": "fever and runny nose since yesterday", "location": HERE}
    made = [client.post("/api/v1/care-requests", json=body, headers=patient) for _ in range(3)]
    assert [r.status_code for r in made] == [201, 201, 201]
    created = made[0].json()
    assert created["patient_id"] == str(clinic.patient_id) and created["expires_at"] is not None
    rid = created["id"]
    assert client.get(f"/api/v1/care-requests/{rid}", headers=patient).status_code == 200
    stranger = factory.headers(factory.user(Role.patient, patient_id=clinic.other_patient_id))
    assert client.get(f"/api/v1/care-requests/{rid}", headers=stranger).status_code == 403
    assert client.post(f"/api/v1/care-requests/{rid}/save", headers=stranger).status_code == 403
    saved = client.post(f"/api/v1/care-requests/{rid}/save", headers=patient)
    assert saved.status_code == 200
    assert saved.json()["saved"] is True and saved.json()["expires_at"] is None
    caregiver = factory.headers(clinic.users[Role.caregiver])
    assert client.get(f"/api/v1/care-requests/{rid}", headers=caregiver).status_code == 200


def test_anonymous_requests_cannot_name_a_patient_or_be_read_back(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    body = {"symptoms": "fever", "location": HERE, "patient_id": str(clinic.patient_id)}
    assert client.post("/api/v1/care-requests", json=body).status_code == 401
    made = client.post("/api/v1/care-requests", json={"symptoms": "fever", "location": HERE}).json()
    patient = factory.headers(clinic.users[Role.patient])
    assert client.get(f"/api/v1/care-requests/{made['id']}", headers=patient).status_code == 404
    assert client.get(f"/api/v1/care-requests/{uuid.uuid4()}", headers=patient).status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"location": HERE}, "symptoms"),
    ({"symptoms": "   ", "location": HERE}, "symptoms"),
    ({"symptoms": "fever", "location": {"lat": 12.97, "lng": 181}}, "location.lng"),
    ({"symptoms": "fever", "location": {"lat": -90.5, "lng": 77}}, "location.lat"),
    ({"symptoms": "x" * 2001, "location": HERE}, "symptoms"),
    ({"symptoms": "fever", "location": HERE, "limit": 0}, "limit"),
    ({"symptoms": "fever"}, "location"),
])
def test_bad_bodies_are_problems_with_field_paths(client: TestClient, body: dict[str, object], field: str) -> None:
    response = client.post("/api/v1/care-requests", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in response.json()["errors"]]
