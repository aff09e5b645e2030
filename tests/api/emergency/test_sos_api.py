"""SOS through the API: the nearest emergency-capable facility with distance and phone, who may raise it, the
status trail raised -> acknowledged -> closed, open SOS for staff, validation and the rate limit."""

from __future__ import annotations

import math
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts.audit.models import AuditEntry
from carebridge.contexts.facilities.schemas import FacilityCreate
from carebridge.contexts.facilities.service import upsert_many
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.kernel.events import OutboxEvent
from carebridge.security import Role
from tests.factories import Clinic, Factory
from tests.integration.facilities.helpers import payload

HERE = (18.5204, 73.8567)  # central Pune
# name -> (lat, lng, emergency, phone)
PLACES = {
    "Corner Clinic": (18.5210, 73.8570, False, "+91 20 1111 1111"),  # nearest of all, but no emergency care
    "Sassoon General Hospital": (18.5286, 73.8740, True, "+91 20 2612 8000"),
    "Ruby Hall Clinic": (18.5335, 73.8777, True, "+91 20 6645 5100"),
    "Lonavala Rural Hospital": (18.7500, 73.4000, True, "+91 21 1427 3000"),
}


def haversine(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance on a 6371.0088 km sphere, written here independently of engines.geo."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lng2 - lng1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


@pytest.fixture
def clinic(factory: Factory, database: Database, clock: FixedClock) -> Clinic:
    with database.unit_of_work() as s:
        upsert_many(s, [FacilityCreate.model_validate(payload(
            name=name, emergency=emergency, location={"lat": lat, "lng": lng}, contact={"phone": phone}))
            for name, (lat, lng, emergency, phone) in PLACES.items()], now=clock.now())
    return factory.clinic()


def raise_sos(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    body.setdefault("location", {"lat": HERE[0], "lng": HERE[1]})
    return client.post("/api/v1/sos", json=body, headers=headers)


def test_a_patient_gets_the_nearest_emergency_facility_with_distance_and_phone(
        client: TestClient, factory: Factory, clinic: Clinic) -> None:
    response = raise_sos(client, factory.headers(clinic.users[Role.patient]), message="chest pain")
    assert response.status_code == 201, response.text
    sos = response.json()
    names = [f["name"] for f in sos["facilities"]]
    assert names[:3] == ["Sassoon General Hospital", "Ruby Hall Clinic", "Lonavala Rural Hospital"]
    assert "Corner Clinic" not in names
    for f in sos["facilities"]:
        lat, lng, _, phone = PLACES[f["name"]]
        assert f["distance_km"] == pytest.approx(haversine(*HERE, lat, lng), abs=0.02)
        assert f["phone"] == phone
    assert sos["status"] == "raised" and sos["location_source"] == "current"
    assert sos["patient_id"] == str(clinic.patient_id) and sos["patient_name"] == "Meera Iyer"
    assert [(t["status"], t["note"]) for t in sos["trail"]] == [("raised", "chest pain")]
    assert sos["trail"][0]["at"].startswith("2026-03-10T09:30")


def test_raising_emits_an_event_and_leaves_an_audit_entry(client: TestClient, factory: Factory, clinic: Clinic,
                                                          session: Session) -> None:
    sos = raise_sos(client, factory.headers(clinic.users[Role.patient])).json()
    events = session.scalars(select(OutboxEvent).where(OutboxEvent.type == "emergency.sos_raised")).all()
    assert [e.payload["sos_id"] for e in events] == [sos["id"]]
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.resource_id == sos["id"])).all()
    assert "sos_raise" in actions


def test_a_patient_cannot_raise_an_sos_for_a_stranger(client: TestClient, factory: Factory, clinic: Clinic) -> None:
    response = raise_sos(client, factory.headers(clinic.users[Role.patient]), patient_id=str(clinic.other_patient_id))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_linked_caregiver_can_and_an_unlinked_one_cannot(client: TestClient, factory: Factory,
                                                           clinic: Clinic) -> None:
    linked = raise_sos(client, factory.headers(clinic.users[Role.caregiver]), patient_id=str(clinic.patient_id))
    assert linked.status_code == 201, linked.text
    assert linked.json()["trail"][0]["by_role"] == "caregiver"
    stranger = factory.user(Role.caregiver)
    assert raise_sos(client, factory.headers(stranger), patient_id=str(clinic.patient_id)).status_code == 403
    missing = raise_sos(client, factory.headers(clinic.users[Role.caregiver]))
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "patient_id"


def test_staff_do_not_raise_sos(client: TestClient, factory: Factory, clinic: Clinic) -> None:
    nurse = factory.headers(clinic.users[Role.nurse])
    assert raise_sos(client, nurse, patient_id=str(clinic.patient_id)).status_code == 403


def test_without_a_location_the_last_known_one_is_used(client: TestClient, factory: Factory, clinic: Clinic) -> None:
    headers = factory.headers(clinic.users[Role.patient])
    first = client.post("/api/v1/sos", json={}, headers=headers)
    assert first.status_code == 422 and first.json()["errors"][0]["field"] == "location"
    raise_sos(client, headers)
    again = client.post("/api/v1/sos", json={}, headers=headers).json()
    assert again["location_source"] == "last_known"
    assert (again["location"]["lat"], again["location"]["lng"]) == HERE
    assert again["facilities"][0]["name"] == "Sassoon General Hospital"


@pytest.mark.parametrize("body", [
    {"location": {"lat": 91, "lng": 0}}, {"location": {"lat": "north", "lng": 0}},
    {"location": {"lat": 10, "lng": 0}, "message": "x" * 501}, {"location": {"lat": 10, "lng": 0}, "extra": 1},
    {"location": {"lat": 10, "lng": 0}, "message": "bad\x00byte"}, {"patient_id": "not-a-uuid"},
])
def test_invalid_input_is_a_problem_with_the_field(client: TestClient, factory: Factory, clinic: Clinic,
                                                   body: dict[str, Any]) -> None:
    response = client.post("/api/v1/sos", json=body, headers=factory.headers(clinic.users[Role.patient]))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"]


def test_the_lifecycle_raised_acknowledged_closed_and_no_way_back(client: TestClient, factory: Factory,
                                                                  clinic: Clinic, clock: FixedClock) -> None:
    sos = raise_sos(client, factory.headers(clinic.users[Role.patient])).json()
    nurse = factory.headers(clinic.users[Role.nurse])
    url = f"/api/v1/sos/{sos['id']}/transitions"
    clock.advance(seconds=90)
    acked = client.post(url, json={"action": "acknowledge", "note": "ambulance sent"}, headers=nurse)
    assert acked.status_code == 200, acked.text
    clock.advance(seconds=600)
    closed = client.post(url, json={"action": "close", "note": "admitted"}, headers=nurse).json()
    assert closed["status"] == "closed"
    assert [(t["status"], t["note"], t["at"][11:16]) for t in closed["trail"]] == [
        ("raised", None, "09:30"), ("acknowledged", "ambulance sent", "09:31"), ("closed", "admitted", "09:41")]
    again = client.post(url, json={"action": "acknowledge"}, headers=nurse)
    assert again.status_code == 409 and again.json()["status"] == "closed"
    assert again.headers["content-type"].startswith("application/problem+json")
    cancel = client.post(url, json={"action": "cancel"}, headers=factory.headers(clinic.users[Role.patient]))
    assert cancel.status_code == 409


def test_who_may_acknowledge_and_cancel(client: TestClient, factory: Factory, clinic: Clinic) -> None:
    sos = raise_sos(client, factory.headers(clinic.users[Role.patient])).json()
    url = f"/api/v1/sos/{sos['id']}/transitions"
    elsewhere = factory.user(Role.nurse, organization_id=clinic.other_org)
    assert client.post(url, json={"action": "acknowledge"}, headers=factory.headers(elsewhere)).status_code == 403
    patient = factory.headers(clinic.users[Role.patient])
    assert client.post(url, json={"action": "acknowledge"}, headers=patient).status_code == 403
    assert client.post(url, json={"action": "cancel"},
                       headers=factory.headers(clinic.users[Role.nurse])).status_code == 403
    cancelled = client.post(url, json={"action": "cancel", "note": "false alarm"}, headers=patient)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert client.post(url, json={"action": "fly"}, headers=patient).status_code == 422
    assert client.post(f"/api/v1/sos/{uuid.uuid4()}/transitions", json={"action": "cancel"},
                       headers=patient).status_code == 404


def test_staff_list_the_open_sos_of_their_organization_only(client: TestClient, factory: Factory,
                                                            clinic: Clinic) -> None:
    mine = raise_sos(client, factory.headers(clinic.users[Role.patient])).json()
    other_user = factory.user(Role.patient, patient_id=clinic.other_patient_id)
    theirs = raise_sos(client, factory.headers(other_user)).json()
    nurse = factory.headers(clinic.users[Role.nurse])
    assert [s["id"] for s in client.get("/api/v1/sos", headers=nurse).json()["items"]] == [mine["id"]]
    elsewhere = factory.headers(factory.user(Role.nurse, organization_id=clinic.other_org))
    assert [s["id"] for s in client.get("/api/v1/sos", headers=elsewhere).json()["items"]] == [theirs["id"]]
    client.post(f"/api/v1/sos/{mine['id']}/transitions", json={"action": "close"}, headers=nurse)
    assert client.get("/api/v1/sos", headers=nurse).json()["items"] == []
    assert client.get("/api/v1/sos", headers=factory.headers(clinic.users[Role.patient])).status_code == 403


def test_reading_one_sos_follows_the_policy(client: TestClient, factory: Factory, clinic: Clinic) -> None:
    sos = raise_sos(client, factory.headers(clinic.users[Role.patient])).json()
    url = f"/api/v1/sos/{sos['id']}"
    for user in (clinic.users[Role.patient], clinic.users[Role.caregiver], clinic.users[Role.practitioner]):
        assert client.get(url, headers=factory.headers(user)).status_code == 200
    stranger = factory.user(Role.patient, patient_id=clinic.other_patient_id)
    assert client.get(url, headers=factory.headers(stranger)).status_code == 403
    listing = client.get(f"/api/v1/patients/{clinic.patient_id}/sos",
                         headers=factory.headers(clinic.users[Role.caregiver]))
    assert [s["id"] for s in listing.json()["items"]] == [sos["id"]]


def test_raising_is_rate_limited_per_account(client: TestClient, factory: Factory, clinic: Clinic,
                                            clock: FixedClock) -> None:
    headers = factory.headers(clinic.users[Role.patient])
    for _ in range(5):
        assert raise_sos(client, headers).status_code == 201
    refused = raise_sos(client, headers)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) == 600
    clock.advance(seconds=601)
    assert raise_sos(client, headers).status_code == 201


def test_no_emergency_facility_within_reach_is_an_empty_list_not_an_error(client: TestClient, factory: Factory,
                                                                         clinic: Clinic) -> None:
    response = raise_sos(client, factory.headers(clinic.users[Role.patient]), location={"lat": -40.0, "lng": -120.0})
    assert response.status_code == 201 and response.json()["facilities"] == []


def test_each_contact_and_caregiver_gets_one_urgent_alert(client: TestClient, factory: Factory, clinic: Clinic,
                                                          database: Database, clock: FixedClock) -> None:
    from carebridge.contexts.notifications.channels import InAppChannel, LogChannel, RecordingSms, SmsChannel
    from carebridge.contexts.notifications.models import InboxMessage, Notification
    from carebridge.contexts.notifications.worker import Delivery, NotificationWorker
    from carebridge.contexts.patients.models import EmergencyContact

    with database.unit_of_work() as s:
        s.add(EmergencyContact(id=uuid.uuid4(), patient_id=clinic.patient_id, name="Ravi Iyer",
                               relationship_="brother", phone="+91 98200 22222", email=None))
    sos = raise_sos(client, factory.headers(clinic.users[Role.patient]), message="fell down the stairs").json()
    assert sos["notified"] == 2
    with database.unit_of_work() as s:
        alerts = list(s.scalars(select(Notification).where(Notification.dedupe_key.like(f"sos:{sos['id']}:%"))))
    assert sorted(a.dedupe_key.split(":")[2] for a in alerts if a.dedupe_key) == ["caregiver", "contact"]
    assert all(a.urgent for a in alerts)
    sms = RecordingSms()
    NotificationWorker(database, Delivery([InAppChannel(), LogChannel(), SmsChannel(sms)]), clock=clock).run_once()
    assert [phone for phone, _ in sms.sent] == ["+91 98200 22222"]
    assert "Meera Iyer" in sms.sent[0][1] and "Sassoon General Hospital" in sms.sent[0][1]
    with database.unit_of_work() as s:
        inbox = list(s.scalars(select(InboxMessage).where(
            InboxMessage.user_id == clinic.users[Role.caregiver].id)))
    assert len(inbox) == 1 and inbox[0].subject == "SOS: Meera Iyer needs help now"
