"""Scheduling through the REST API: slot search, booking by each kind of booker, cut-off, reschedule, status,
waitlist holds, queue tokens and calendar feeds. The clock stands at Tue 2026-03-10 09:30 UTC (15:00 IST);
the rule runs weekdays 09:00-13:00 IST in 30-minute slots, so the first slot is Wed 09:00 IST = 03:30 UTC.
"""

from __future__ import annotations

from typing import Any

import icalendar
import pytest
from fastapi.testclient import TestClient

from carebridge.kernel.clock import FixedClock
from carebridge.security import CaregiverScope, Role
from tests.factories import Factory
from tests.integration.scheduling.helpers import Schedule, make_practitioner, make_rule, schedule

FIRST = "2026-03-11T03:30:00Z"
SECOND = "2026-03-11T04:00:00Z"


@pytest.fixture
def sched(client: TestClient, factory: Factory) -> Schedule:
    return schedule(client, factory)


def _book(client: TestClient, headers: dict[str, str], sched: Schedule, start: str = FIRST,
          **over: Any) -> Any:
    body = {"practitioner_id": sched.practitioner_id, "start": start, "reason": "chest pain on stairs"}
    body.update(over)
    return client.post("/api/v1/appointments", json=body, headers=headers)


def _slots(client: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    r = client.get("/api/v1/slots", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


def test_slot_search_filters_and_next_available(client: TestClient, factory: Factory, sched: Schedule) -> None:
    patient = sched.headers(factory, Role.patient)
    first = _slots(client, patient, practitioner_id=sched.practitioner_id, next_available="true")
    assert [s["start"] for s in first] == ["2026-03-11T03:30:00Z"]
    assert first[0]["local_start"] == "09:00:00" and first[0]["local_date"] == "2026-03-11"
    assert first[0]["time_zone"] == "Asia/Kolkata" and first[0]["free"] == 1
    day = _slots(client, patient, practitioner_id=sched.practitioner_id, **{"from": "2026-03-11T00:00:00+05:30",
                                                                            "to": "2026-03-12T00:00:00+05:30"})
    assert len(day) == 8
    assert len(_slots(client, patient, specialty="cardiology", limit=3)) == 3
    assert _slots(client, patient, specialty="dermatology") == []
    assert _slots(client, patient, language="ta") == []
    assert len(_slots(client, patient, language="hi", limit=2)) == 2
    assert _slots(client, patient, kind="home_visit") == []
    near = _slots(client, patient, lat=18.53, lng=73.86, radius_km=5, limit=1)
    assert near and near[0]["distance_km"] is not None and near[0]["distance_km"] < 5
    assert _slots(client, patient, lat=28.6, lng=77.2, radius_km=5) == []  # Delhi: nothing near
    # pages continue where the last one ended
    r = client.get("/api/v1/slots", params={"practitioner_id": sched.practitioner_id, "limit": 3}, headers=patient)
    nxt = client.get("/api/v1/slots", params={"practitioner_id": sched.practitioner_id, "limit": 3,
                                              "cursor": r.json()["next_cursor"]}, headers=patient).json()["items"]
    assert nxt[0]["start"] == "2026-03-11T05:00:00Z"


@pytest.mark.parametrize("params", [{"specialty": "nope"}, {"from": "2026-03-11T00:00:00"}, {"lat": "10"},
                                    {"from": "2026-03-01T00:00:00Z", "to": "2026-09-01T00:00:00Z"},
                                    {"cursor": "garbage"}, {"language": "x"}, {"lat": "nan", "lng": "1"},
                                    {"from": "9999-12-31T23:00:00Z"}, {"to": "0001-01-01T00:00:00Z"}])
def test_slot_search_refuses_bad_input(client: TestClient, factory: Factory, sched: Schedule,
                                       params: dict[str, Any]) -> None:
    r = client.get("/api/v1/slots", params=params, headers=sched.headers(factory, Role.patient))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_patient_books_second_booker_gets_409_and_slot_leaves_search(client: TestClient, factory: Factory,
                                                                      sched: Schedule) -> None:
    patient = sched.headers(factory, Role.patient)
    r = _book(client, patient, sched, kind="teleconsultation")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "booked" and body["patient_id"] == str(sched.clinic.patient_id)
    assert body["local_start"].startswith("2026-03-11T09:00:00+05:30")
    assert body["meeting_link"] and body["meeting_link"].startswith("https://")
    other_user = factory.user(Role.patient, patient_id=factory.patient(given="Ravi", family="Das"))
    clash = _book(client, factory.headers(other_user), sched)
    assert clash.status_code == 409 and clash.json()["type"].endswith("slot-taken")
    starts = [s["start"] for s in _slots(client, patient, practitioner_id=sched.practitioner_id, limit=2)]
    assert starts == [SECOND, "2026-03-11T04:30:00Z"]
    mine = client.get("/api/v1/appointments", headers=patient).json()["items"]
    assert [a["id"] for a in mine] == [body["id"]]
    # another patient cannot see it
    assert client.get(f"/api/v1/appointments/{body['id']}", headers=factory.headers(other_user)).status_code == 404


def test_booking_refuses_times_that_are_not_slots(client: TestClient, factory: Factory, sched: Schedule) -> None:
    patient = sched.headers(factory, Role.patient)
    assert _book(client, patient, sched, start="2026-03-11T03:40:00Z").status_code == 422  # not on the grid
    assert _book(client, patient, sched, start="2026-03-14T03:30:00Z").status_code == 422  # Saturday
    assert _book(client, patient, sched, start="2026-03-10T03:30:00Z").status_code == 422  # past
    assert _book(client, patient, sched, kind="home_visit").status_code == 422
    assert _book(client, patient, sched, start="2026-03-11T03:30:00").status_code == 422  # naive
    assert _book(client, patient, sched, start="9999-12-31T23:59:59Z").status_code == 422  # no overflow, no 500


def test_caregiver_needs_the_manage_appointments_scope(client: TestClient, factory: Factory,
                                                       sched: Schedule) -> None:
    caregiver = sched.clinic.users[Role.caregiver]  # linked with read_record only
    refused = _book(client, factory.headers(caregiver), sched, patient_id=str(sched.clinic.patient_id))
    assert refused.status_code == 403
    helper = factory.user(Role.caregiver)
    factory.link_caregiver(helper, sched.clinic.patient_id, scopes=(CaregiverScope.manage_appointments,))
    ok = _book(client, factory.headers(helper), sched, patient_id=str(sched.clinic.patient_id))
    assert ok.status_code == 201, ok.text


def test_front_desk_books_for_own_patients_only_and_runs_the_day(client: TestClient, factory: Factory,
                                                                 sched: Schedule, clock: FixedClock) -> None:
    desk = sched.headers(factory, Role.front_desk)
    assert _book(client, desk, sched, patient_id=str(sched.clinic.other_patient_id)).status_code == 403
    r = _book(client, desk, sched, patient_id=str(sched.clinic.patient_id))
    assert r.status_code == 201, r.text
    appt = r.json()["id"]
    day = client.get("/api/v1/appointments", params={"practitioner_id": sched.practitioner_id,
                                                     "from": "2026-03-11T00:00:00Z"},
                     headers=sched.headers(factory, Role.practitioner)).json()["items"]
    assert [a["id"] for a in day] == [appt] and day[0]["patient_name"] == "Meera Iyer"
    early = client.post(f"/api/v1/appointments/{appt}/status/no_show", headers=desk)
    assert early.status_code == 409
    assert client.post(f"/api/v1/appointments/{appt}/status/completed", headers=desk).status_code == 409
    assert client.post(f"/api/v1/appointments/{appt}/status/checked_in", headers=desk).json()["status"] == \
        "checked_in"
    done = client.post(f"/api/v1/appointments/{appt}/status/completed", headers=desk)
    assert done.json()["status"] == "completed"
    patient = sched.headers(factory, Role.patient)
    assert client.post(f"/api/v1/appointments/{appt}/status/checked_in", headers=patient).status_code == 403
    # staff of another organization see nothing of it
    outsider = factory.headers(factory.user(Role.front_desk, organization_id=sched.clinic.other_org))
    assert client.get(f"/api/v1/appointments/{appt}", headers=outsider).status_code == 404


def test_cancel_within_cutoff_frees_the_slot_and_later_is_refused(client: TestClient, factory: Factory,
                                                                   sched: Schedule, clock: FixedClock) -> None:
    patient = sched.headers(factory, Role.patient)
    first = _book(client, patient, sched).json()["id"]
    second = _book(client, patient, sched, start=SECOND).json()["id"]
    r = client.post(f"/api/v1/appointments/{first}/cancel", json={"reason": "feeling better"}, headers=patient)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert _slots(client, patient, practitioner_id=sched.practitioner_id, next_available="true")[0]["start"] == FIRST
    clock.advance(hours=17, minutes=1)  # 02:31 UTC: 89 minutes before the second slot, past the 120-minute cut-off
    patient = sched.headers(factory, Role.patient)  # access tokens live 15 minutes
    late = client.post(f"/api/v1/appointments/{second}/cancel", json={}, headers=patient)
    assert late.status_code == 409 and late.json()["type"].endswith("cutoff-passed")
    desk = sched.headers(factory, Role.front_desk)
    assert client.post(f"/api/v1/appointments/{second}/cancel", json={}, headers=desk).status_code == 200


def test_reschedule_moves_the_booking_and_frees_the_old_slot(client: TestClient, factory: Factory,
                                                             sched: Schedule) -> None:
    patient = sched.headers(factory, Role.patient)
    old = _book(client, patient, sched).json()["id"]
    r = client.post(f"/api/v1/appointments/{old}/reschedule", json={"start": SECOND}, headers=patient)
    assert r.status_code == 201, r.text
    assert r.json()["rescheduled_from"] == old and r.json()["start"] == SECOND
    assert client.get(f"/api/v1/appointments/{old}", headers=patient).json()["status"] == "cancelled"
    starts = [s["start"] for s in _slots(client, patient, practitioner_id=sched.practitioner_id, limit=2)]
    assert starts == [FIRST, "2026-03-11T04:30:00Z"]


def test_group_session_capacity(client: TestClient, factory: Factory) -> None:
    sched = schedule(client, factory, capacity=2)
    bookers = [factory.headers(factory.user(Role.patient, patient_id=factory.patient(given=f"P{i}")))
               for i in range(3)]
    codes = [_book(client, h, sched).status_code for h in bookers]
    assert codes == [201, 201, 409]


def test_waitlist_offer_hold_accept_and_expiry(client: TestClient, factory: Factory, sched: Schedule,
                                               clock: FixedClock) -> None:
    a = sched.headers(factory, Role.patient)
    b_user = factory.user(Role.patient, patient_id=factory.patient(given="Bela", family="Shah"))
    c_user = factory.user(Role.patient, patient_id=factory.patient(given="Chitra", family="Nair"))
    b, c = factory.headers(b_user), factory.headers(c_user)
    appt = _book(client, a, sched).json()["id"]
    window = {"practitioner_id": sched.practitioner_id, "earliest": "2026-03-11T00:00:00Z",
              "latest": "2026-03-12T00:00:00Z"}
    b_entry = client.post("/api/v1/waitlist", json=window, headers=b).json()["id"]
    clock.advance(seconds=1)  # first come, first offered
    c_entry = client.post("/api/v1/waitlist", json=window, headers=c).json()["id"]
    assert client.post(f"/api/v1/appointments/{appt}/cancel", json={}, headers=a).status_code == 200
    offers = client.get("/api/v1/waitlist", headers=b).json()
    assert offers[0]["status"] == "offered" and offers[0]["offered_start"] == FIRST
    # the seat is held: nobody else can book it, and search does not offer it
    assert _book(client, c, sched).status_code == 409
    assert _slots(client, c, practitioner_id=sched.practitioner_id, next_available="true")[0]["start"] == SECOND
    # B lets the hold lapse: it passes to C
    clock.advance(minutes=31)
    a, b, c = sched.headers(factory, Role.patient), factory.headers(b_user), factory.headers(c_user)
    assert client.get("/api/v1/waitlist", headers=b).json()[0]["status"] == "expired"  # the lapse is applied lazily
    assert client.get("/api/v1/waitlist", headers=c).json()[0]["status"] == "offered"
    assert _book(client, a, sched).status_code == 409  # C holds it now
    assert client.post(f"/api/v1/waitlist/{b_entry}/accept", headers=b).status_code == 409
    accepted = client.post(f"/api/v1/waitlist/{c_entry}/accept", headers=c)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["start"] == FIRST and accepted.json()["patient_name"] == "Chitra Nair"
    # someone else's entry is not yours to accept
    assert client.post(f"/api/v1/waitlist/{c_entry}/accept", headers=b).status_code == 403


def test_queue_tokens_numbers_and_board(client: TestClient, factory: Factory, sched: Schedule) -> None:
    desk = sched.headers(factory, Role.front_desk)
    t1 = client.post("/api/v1/queue-tokens", json={"facility_id": sched.facility_id, "department": "opd",
                                                   "patient_id": str(sched.clinic.patient_id)}, headers=desk)
    t2 = client.post("/api/v1/queue-tokens", json={"facility_id": sched.facility_id, "department": "opd",
                                                   "display_name": "Walk-in"}, headers=desk)
    assert (t1.json()["number"], t2.json()["number"]) == (1, 2)
    assert t1.json()["display_name"] == "Meera I" and t1.json()["service_date"] == "2026-03-10"
    called = client.post(f"/api/v1/queues/{sched.facility_id}/opd/next", headers=desk).json()
    assert called["number"] == 1 and called["status"] == "called"
    board = client.get(f"/api/v1/queues/{sched.facility_id}/opd", headers=desk).json()
    assert board["now_serving"] == 1 and [t["number"] for t in board["waiting"]] == [2]
    patient = sched.headers(factory, Role.patient)
    assert client.post("/api/v1/queue-tokens", json={"facility_id": sched.facility_id, "department": "opd"},
                       headers=patient).status_code == 403


def test_calendar_feeds_parse_back_and_revoke(client: TestClient, factory: Factory, sched: Schedule) -> None:
    patient = sched.headers(factory, Role.patient)
    appt = _book(client, patient, sched, kind="teleconsultation").json()
    feed = client.post("/api/v1/calendar-feeds", params={"owner_kind": "patient"}, headers=patient)
    assert feed.status_code == 201, feed.text
    url = feed.json()["url"]
    r = client.get(url)  # no credentials: the URL is the secret
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(r.content)
    assert cal["version"] == "2.0" and cal["prodid"]
    events = [e for e in cal.walk("VEVENT")]
    assert len(events) == 1
    ev = events[0]
    assert str(ev["uid"]) == f"{appt['id']}@carebridge"
    assert ev.decoded("dtstart").isoformat() == "2026-03-11T03:30:00+00:00"
    assert str(ev["url"]) == appt["meeting_link"]
    assert "Meera" not in r.text  # no names in a feed
    prac_feed = client.post("/api/v1/calendar-feeds", params={"owner_kind": "practitioner",
                                                              "owner_id": sched.practitioner_id},
                            headers=sched.headers(factory, Role.practitioner))
    assert len(icalendar.Calendar.from_ical(client.get(prac_feed.json()["url"]).content).walk("VEVENT")) == 1
    stranger = factory.headers(factory.user(Role.patient, patient_id=factory.patient(given="Ravi")))
    assert client.delete(f"/api/v1/calendar-feeds/{feed.json()['id']}", headers=stranger).status_code == 404
    assert client.get(url).status_code == 200
    assert client.delete(f"/api/v1/calendar-feeds/{feed.json()['id']}", headers=patient).status_code == 204
    assert client.get(url).status_code == 404
    assert client.get("/api/v1/calendar-feeds/not-a-token.ics").status_code == 404


def test_rules_are_kept_by_staff_of_the_facility(client: TestClient, factory: Factory, sched: Schedule) -> None:
    prac = make_practitioner(client, sched.admin)
    body = {"practitioner_id": prac, "facility_id": sched.facility_id, "rrule": "FREQ=DAILY",
            "starts_on": "2026-03-01", "start_time": "09:00", "end_time": "10:00"}
    assert client.post("/api/v1/availability-rules", json=body,
                       headers=sched.headers(factory, Role.patient)).status_code == 403
    outsider = factory.headers(factory.user(Role.front_desk, organization_id=sched.clinic.other_org))
    assert client.post("/api/v1/availability-rules", json=body, headers=outsider).status_code == 403
    made = make_rule(client, sched.headers(factory, Role.front_desk), prac, sched.facility_id, time_zone=None)
    assert made["time_zone"] == "Asia/Kolkata"  # from the facility's hours
    for bad in ({"rrule": "FREQ=HOURLY"}, {"time_zone": "Nowhere/City"}, {"end_time": "08:00"},
                {"slot_minutes": 2}, {"breaks": [{"start": "10:00", "end": "09:00"}]}):
        r = client.post("/api/v1/availability-rules", json={**body, **bad}, headers=sched.admin)
        assert r.status_code == 422, (bad, r.text)
    leave = client.post("/api/v1/availability-exceptions", headers=sched.admin, json={
        "practitioner_id": sched.practitioner_id, "starts_at": "2026-03-11T00:00:00+05:30",
        "ends_at": "2026-03-12T00:00:00+05:30", "reason": "conference"})
    assert leave.status_code == 201, leave.text
    first = _slots(client, sched.admin, practitioner_id=sched.practitioner_id, next_available="true")
    assert first[0]["local_date"] == "2026-03-12"
