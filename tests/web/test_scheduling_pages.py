"""Scheduling pages without a browser: book through the form, see it in my appointments and on the practitioner's
day, cancel, the waitlisted patient's offer, the queue and its public board, the availability editor, Hindi."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from carebridge.security import CaregiverScope, Role
from tests.factories import Factory
from tests.integration.scheduling.helpers import schedule
from tests.web.helpers import assert_good_page, post_form, sign_in

FIRST = "2026-03-11T03:30:00+00:00"


def test_patient_books_practitioner_sees_cancel_offers_to_waitlist(client: TestClient, factory: Factory) -> None:
    sched = schedule(client, factory)
    waiter = factory.user(Role.patient, patient_id=factory.patient(given="Bela", family="Shah"))
    patient = sched.clinic.users[Role.patient]
    assert sign_in(client, patient.username).status_code == 303
    page = client.get("/book", params={"specialty": "cardiology", "on": "2026-03-11"})
    assert page.status_code == 200
    assert_good_page(page.text)
    assert "09:00" in page.text and "Asia/Kolkata" in page.text
    r = post_form(client, "/book", "/book", {"practitioner_id": sched.practitioner_id, "start": FIRST,
                                             "kind": "in_person", "reason": "follow-up"})
    assert r.status_code == 303 and r.headers["location"] == "/appointments"
    mine = client.get("/appointments")
    assert_good_page(mine.text)
    assert "2026-03-11 09:00" in mine.text and "Cancel appointment" in mine.text
    client.cookies.clear()

    assert sign_in(client, waiter.username).status_code == 303
    taken = post_form(client, "/book", "/book", {"practitioner_id": sched.practitioner_id, "start": FIRST})
    assert taken.headers["location"] == "/book?error=slot-taken"
    assert "Someone else has just taken that slot" in client.get(taken.headers["location"]).text
    joined = post_form(client, "/book", "/book/waitlist", {"practitioner_id": sched.practitioner_id,
                                                           "on": "2026-03-11"})
    assert joined.status_code == 303
    client.cookies.clear()

    assert sign_in(client, sched.clinic.users[Role.practitioner].username).status_code == 303
    day = client.get("/schedule", params={"practitioner_id": sched.practitioner_id, "on": "2026-03-11"})
    assert_good_page(day.text)
    assert "Meera Iyer" in day.text and "follow-up" in day.text
    week = client.get("/schedule", params={"practitioner_id": sched.practitioner_id, "on": "2026-03-12",
                                           "view": "week"})
    assert "Meera Iyer" in week.text
    client.cookies.clear()

    assert sign_in(client, patient.username).status_code == 303
    appt_id = client.get("/api/v1/appointments", headers=factory.headers(patient)).json()["items"][0]["id"]
    assert post_form(client, "/appointments", f"/appointments/{appt_id}/cancel", {}).status_code == 303
    assert "You have no upcoming appointments." in client.get("/appointments").text
    client.cookies.clear()

    assert sign_in(client, waiter.username).status_code == 303
    offer = client.get("/appointments")
    assert "A slot has opened up for you" in offer.text
    entry = client.get("/api/v1/waitlist", headers=factory.headers(waiter)).json()[0]["id"]
    assert post_form(client, "/appointments", f"/waitlist/{entry}/accept", {}).status_code == 303
    assert "2026-03-11 09:00" in client.get("/appointments").text


def test_caregiver_pages_name_the_patient(client: TestClient, factory: Factory) -> None:
    sched = schedule(client, factory)
    helper = factory.user(Role.caregiver)
    factory.link_caregiver(helper, sched.clinic.patient_id, scopes=(CaregiverScope.manage_appointments,))
    assert sign_in(client, helper.username).status_code == 303
    assert client.get("/appointments", follow_redirects=False).status_code == 303  # which patient?
    pid = str(sched.clinic.patient_id)
    page = client.get("/book", params={"patient_id": pid, "on": "2026-03-11"})
    assert_good_page(page.text)
    r = post_form(client, f"/book?patient_id={pid}", "/book", {"practitioner_id": sched.practitioner_id,
                                                               "start": FIRST, "patient_id": pid})
    assert r.headers["location"] == f"/appointments?patient_id={pid}"
    assert "2026-03-11 09:00" in client.get(r.headers["location"]).text


def test_front_desk_queue_board_and_availability_editor_in_hindi(client: TestClient, factory: Factory) -> None:
    sched = schedule(client, factory)
    desk = sched.clinic.users[Role.front_desk]
    assert sign_in(client, desk.username).status_code == 303
    q = f"/queue?facility_id={sched.facility_id}&department=opd"
    assert_good_page(client.get(q).text)
    for name in ("Tara Kumari", "Ravi Menon"):
        post_form(client, q, "/queue/token", {"facility_id": sched.facility_id, "department": "opd",
                                              "display_name": name})
    post_form(client, q, "/queue/next", {"facility_id": sched.facility_id, "department": "opd"})
    page = client.get(q).text
    assert "Ravi Menon" in page
    board = client.get(f"/queue/board?facility_id={sched.facility_id}&department=opd")
    assert board.headers["refresh"] == "15"
    assert_good_page(board.text)
    assert "Now serving: 1" in board.text and "Ravi Menon" not in board.text  # numbers only on the public board

    editor = client.get("/availability")
    assert_good_page(editor.text)
    assert "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR" in editor.text
    r = post_form(client, "/availability", "/availability", {
        "practitioner_id": sched.practitioner_id, "facility_id": sched.facility_id, "days": "SA",
        "start_time": "10:00", "end_time": "12:00", "slot_minutes": "20", "capacity": "3", "kind": "home_visit"})
    assert r.headers["location"] == "/availability"
    assert "FREQ=WEEKLY;BYDAY=SA" in client.get("/availability").text
    bad = post_form(client, "/availability", "/availability", {"practitioner_id": "x", "facility_id": "y"})
    assert bad.headers["location"] == "/availability?error=1"
    hindi = client.get("/queue", headers={"Accept-Language": "hi"}, cookies={"cb_lang": "hi"})
    assert "वॉक-इन कतार" in hindi.text or "Walk-in queue" in hindi.text


def test_patients_cannot_open_staff_pages(client: TestClient, factory: Factory) -> None:
    sched = schedule(client, factory)
    assert sign_in(client, sched.clinic.users[Role.patient].username).status_code == 303
    for path in ("/schedule", "/queue", "/availability"):
        assert client.get(path).status_code == 403
    for odd in ("9999-12-31", "0001-01-01", "garbage"):  # odd dates fall back to today, never a 500
        assert client.get("/book", params={"on": odd}).status_code == 200
    assert client.get("/queue/board", params={"facility_id": str(uuid.uuid4())}).status_code == 422
