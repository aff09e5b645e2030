"""Appointment, Schedule and Slot over FHIR: a rule is a Schedule, its free slots are Slots, a booking is an
Appointment searched by patient, status, practitioner and date prefixes; strangers refused."""

from __future__ import annotations

from fastapi.testclient import TestClient

from carebridge.security import Role
from tests.factories import Factory
from tests.fhir.mapper_helpers import search
from tests.integration.scheduling.helpers import schedule


def test_schedule_slots_and_appointments(client: TestClient, factory: Factory) -> None:
    s = schedule(client, factory)
    doc = s.headers(factory, Role.practitioner)
    got = client.get(f"/fhir/R4/Schedule/{s.rule_id}", headers=doc)
    assert got.status_code == 200, got.text
    assert {"reference": f"Practitioner/{s.practitioner_id}"} in got.json()["actor"]
    assert search(client, doc, f"Schedule?actor=Practitioner/{s.practitioner_id}") == [s.rule_id]

    slots = client.get(f"/fhir/R4/Slot?schedule=Schedule/{s.rule_id}&start=ge2026-03-11&start=lt2026-03-12"
                       "&_count=50", headers=doc).json()["entry"]
    assert len(slots) == 8 and all(e["resource"]["status"] == "free" for e in slots)  # 09:00-13:00 IST, 30 min
    first = slots[0]["resource"]
    assert first["start"] == "2026-03-11T03:30:00Z" and first["schedule"] == {"reference": f"Schedule/{s.rule_id}"}
    assert client.get("/fhir/R4/Slot", headers=doc).status_code == 400

    reception = s.headers(factory, Role.front_desk)
    booked = client.post("/api/v1/appointments", headers=reception, json={
        "patient_id": str(s.clinic.patient_id), "practitioner_id": s.practitioner_id, "start": first["start"],
        "reason": "follow-up"})
    assert booked.status_code == 201, booked.text
    aid = booked.json()["id"]
    appt = client.get(f"/fhir/R4/Appointment/{aid}", headers=doc).json()
    assert appt["status"] == "booked" and appt["start"] == "2026-03-11T03:30:00Z" and appt["minutesDuration"] == 30
    assert {"reference": f"Patient/{s.clinic.patient_id}", "display": appt["participant"][0]["actor"]["display"]} \
        == appt["participant"][0]["actor"]
    p = f"Appointment?patient={s.clinic.patient_id}"
    assert search(client, doc, p) == [aid]
    assert search(client, doc, f"{p}&status=booked&practitioner={s.practitioner_id}") == [aid]
    assert search(client, doc, f"{p}&status=cancelled") == []
    assert search(client, doc, f"{p}&date=ge2026-03-11") == [aid]
    assert search(client, doc, f"{p}&date=lt2026-03-11") == []
    assert search(client, doc, f"{p}&date=eq2026-03-11") == [aid]
    assert search(client, doc, f"{p}&date=ne2026-03-11") == []
    assert search(client, doc, f"{p}&location=Location/{s.facility_id}") == [aid]
    again = client.get(f"/fhir/R4/Slot?schedule={s.rule_id}&start=ge2026-03-11&start=lt2026-03-12&_count=50",
                       headers=doc).json()["entry"]
    assert len(again) == 7  # the booked slot (capacity 1) is no longer free

    stranger = factory.headers(factory.user(Role.patient, patient_id=s.clinic.other_patient_id))
    assert client.get(f"/fhir/R4/Appointment?patient={s.clinic.patient_id}", headers=stranger).status_code == 403
    assert client.get(f"/fhir/R4/Appointment/{aid}", headers=stranger).status_code == 404
