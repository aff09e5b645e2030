"""Rules in a daylight-saving zone through the API, audit entries of appointment access, holidays, the merge
handler and the waitlist sweep."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select

from carebridge.contexts.audit.models import AuditEntry
from carebridge.contexts.scheduling.merge import move_scheduling
from carebridge.contexts.scheduling.models import Appointment, SlotSeat
from carebridge.contexts.scheduling.waitlist import sweep_holds
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.security import Role
from carebridge.settings import Settings
from tests.factories import Factory
from tests.integration.scheduling.helpers import make_facility, make_practitioner, make_rule, schedule


def test_new_york_rule_keeps_wall_clock_across_the_spring_change(client: TestClient, factory: Factory,
                                                                  clock: FixedClock) -> None:
    clock.advance(days=-9)  # 2026-03-01: the week of the change is ahead
    clinic = factory.clinic()
    admin = factory.headers(clinic.users[Role.admin])
    fac = make_facility(client, admin, clinic.org, opening_hours={"time_zone": "America/New_York",
                                                                   "always_open": True})
    prac = make_practitioner(client, admin)
    rule = make_rule(client, admin, prac, fac, rrule="FREQ=DAILY", start_time="01:00", end_time="04:00",
                     slot_minutes=60, time_zone=None, starts_on="2026-02-01")
    assert rule["time_zone"] == "America/New_York"
    patient = factory.headers(clinic.users[Role.patient])
    r = client.get("/api/v1/slots", headers=patient, params={
        "practitioner_id": prac, "from": "2026-03-07T00:00:00-05:00", "to": "2026-03-10T00:00:00-04:00",
        "limit": 50})
    items = r.json()["items"]
    by_day: dict[str, list[str]] = {}
    for s in items:
        by_day.setdefault(s["local_date"], []).append(s["local_start"])
    assert by_day["2026-03-07"] == ["01:00:00", "02:00:00", "03:00:00"]
    assert by_day["2026-03-08"] == ["01:00:00", "03:00:00"]  # 02:00 does not exist that night
    assert by_day["2026-03-09"] == ["01:00:00", "02:00:00", "03:00:00"]
    starts = {s["local_date"] + " " + s["local_start"]: s["start"] for s in items}
    assert starts["2026-03-07 01:00:00"] == "2026-03-07T06:00:00Z"  # EST, UTC-5
    assert starts["2026-03-09 01:00:00"] == "2026-03-09T05:00:00Z"  # EDT, UTC-4
    booked = client.post("/api/v1/appointments", headers=patient,
                         json={"practitioner_id": prac, "start": "2026-03-08T03:00:00-04:00"})
    assert booked.status_code == 201, booked.text
    assert booked.json()["local_start"].startswith("2026-03-08T03:00:00-04:00")


def test_holiday_for_the_facility_removes_its_slots(client: TestClient, factory: Factory) -> None:
    sched = schedule(client, factory)
    r = client.post("/api/v1/availability-exceptions", headers=sched.admin, json={
        "facility_id": sched.facility_id, "starts_at": "2026-03-11T00:00:00+05:30",
        "ends_at": "2026-03-13T00:00:00+05:30", "reason": "Holi"})
    assert r.status_code == 201, r.text
    first = client.get("/api/v1/slots", headers=sched.admin, params={"facility_id": sched.facility_id,
                                                                      "next_available": "true"}).json()["items"]
    assert first[0]["local_date"] == "2026-03-13"


def test_appointment_access_is_audited_with_the_patient(client: TestClient, factory: Factory,
                                                        database: Database) -> None:
    sched = schedule(client, factory)
    patient = sched.headers(factory, Role.patient)
    appt = client.post("/api/v1/appointments", headers=patient, json={
        "practitioner_id": sched.practitioner_id, "start": "2026-03-11T03:30:00Z"}).json()["id"]
    caregiver = sched.headers(factory, Role.caregiver)  # no manage_appointments scope
    assert client.get("/api/v1/appointments", headers=caregiver,
                      params={"patient_id": str(sched.clinic.patient_id)}).status_code == 403
    client.get("/api/v1/appointments", headers=sched.headers(factory, Role.front_desk),
               params={"practitioner_id": sched.practitioner_id, "from": "2026-03-11T00:00:00Z"})
    with database.unit_of_work() as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.patient_id == sched.clinic.patient_id)))
    kinds = {(e.resource_type, e.action, e.outcome) for e in rows}
    assert ("Appointment", "create", "success") in kinds
    assert ("Appointment", "read", "success") in kinds  # the front desk's day list
    assert any(e.outcome == "denied" and e.resource_type == "Patient" for e in rows)
    assert any(e.resource_id == appt for e in rows)


def test_merge_moves_appointments_to_the_survivor(client: TestClient, factory: Factory,
                                                  database: Database, clock: FixedClock) -> None:
    sched = schedule(client, factory)
    client.post("/api/v1/appointments", headers=sched.headers(factory, Role.patient), json={
        "practitioner_id": sched.practitioner_id, "start": "2026-03-11T03:30:00Z"})
    survivor = factory.patient(given="Meera", family="Iyer")
    with database.unit_of_work() as s:
        moved = move_scheduling(s, source_id=sched.clinic.patient_id, target_id=survivor, now=clock.now())
        assert moved["appointments"] == 1
        assert s.scalar(select(Appointment.patient_id)) == survivor


def test_sweep_passes_lapsed_holds_on(client: TestClient, factory: Factory, database: Database,
                                      clock: FixedClock, settings: Settings) -> None:
    sched = schedule(client, factory)
    patient = sched.headers(factory, Role.patient)
    appt = client.post("/api/v1/appointments", headers=patient, json={
        "practitioner_id": sched.practitioner_id, "start": "2026-03-11T03:30:00Z"}).json()["id"]
    waiter = factory.user(Role.patient, patient_id=factory.patient(given="Bela"))
    client.post("/api/v1/waitlist", headers=factory.headers(waiter), json={
        "practitioner_id": sched.practitioner_id, "earliest": "2026-03-11T00:00:00Z",
        "latest": "2026-03-12T00:00:00Z"})
    client.post(f"/api/v1/appointments/{appt}/cancel", headers=patient, json={})
    with database.unit_of_work() as s:
        assert sweep_holds(s, now=clock.now(), settings=settings) == 0  # still within the hold
        later = datetime(2026, 3, 10, 10, 1, tzinfo=UTC)
        assert sweep_holds(s, now=later, settings=settings) == 1
        seats = list(s.scalars(select(SlotSeat).where(SlotSeat.practitioner_id == uuid.UUID(sched.practitioner_id))))
    assert seats == []  # nobody else waiting: the seat is free again
