"""Reminders and waitlist offers go through the notifications outbox: what scheduling asks it to send, when,
under which dedupe key, and that a cancelled or moved appointment's pending reminders are withdrawn.

The notifications context is replaced by a recording stand-in here, so the test pins scheduling's side of the
contract (`enqueue(..., not_before=, dedupe_key=)`, `cancel_pending(dedupe_prefix=)`) on its own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carebridge.contexts.scheduling import notify
from carebridge.security import Role
from tests.factories import Factory
from tests.integration.scheduling.helpers import schedule


@dataclass
class Recipient:
    user_id: uuid.UUID | None = None
    name: str = ""
    email: str | None = None
    phone: str | None = None


@dataclass
class Outbox:
    sent: list[dict[str, Any]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    Recipient: type = Recipient

    def enqueue(self, session: Any, **kw: Any) -> uuid.UUID:
        self.sent.append(kw)
        return uuid.uuid4()

    def cancel_pending(self, session: Any, *, dedupe_prefix: str, now: datetime) -> int:
        gone = [m for m in self.sent if m["dedupe_key"].startswith(dedupe_prefix) and m.get("not_before")]
        self.cancelled.extend(m["dedupe_key"] for m in gone)
        return len(gone)


@pytest.fixture
def outbox(monkeypatch: pytest.MonkeyPatch) -> Outbox:
    box = Outbox()
    monkeypatch.setattr(notify, "notifications", box)
    return box


def test_booking_enqueues_24h_and_2h_reminders_and_cancel_withdraws_them(client: TestClient, factory: Factory,
                                                                          outbox: Outbox) -> None:
    sched = schedule(client, factory)
    patient_user = sched.clinic.users[Role.patient]
    patient = factory.headers(patient_user)
    appt = client.post("/api/v1/appointments", headers=patient, json={
        "practitioner_id": sched.practitioner_id, "start": "2026-03-11T09:30:00+05:30",
        "kind": "teleconsultation"}).json()
    reminders = [m for m in outbox.sent if m["template"] == notify.REMINDER]
    # the clock is 2026-03-10 09:30 UTC; the slot starts 04:00 UTC next day: 24 h before is past, 2 h is not
    assert [m["not_before"].isoformat() for m in reminders] == ["2026-03-11T02:00:00+00:00"]
    first = reminders[0]
    assert first["recipient"].user_id == patient_user.id
    assert first["params"]["when"] == "2026-03-11 09:30" and first["params"]["zone"] == "Asia/Kolkata"
    assert appt["meeting_link"] in first["params"]["link"]
    assert first["params"]["practitioner"].startswith("Kavya Rao")
    assert first["dedupe_key"].startswith(f"appointment:{appt['id']}:reminder:120:")
    later = client.post("/api/v1/appointments", headers=patient, json={
        "practitioner_id": sched.practitioner_id, "start": "2026-03-13T09:00:00+05:30"}).json()
    keys = [m["dedupe_key"] for m in outbox.sent if later["id"] in m["dedupe_key"]]
    assert [k.split(":")[3] for k in keys] == ["1440", "120"]
    client.post(f"/api/v1/appointments/{appt['id']}/cancel", headers=patient, json={})
    assert outbox.cancelled == [first["dedupe_key"]]


def test_reschedule_supersedes_and_waitlist_offer_is_sent(client: TestClient, factory: Factory,
                                                          outbox: Outbox) -> None:
    sched = schedule(client, factory)
    patient = sched.headers(factory, Role.patient)
    appt = client.post("/api/v1/appointments", headers=patient, json={
        "practitioner_id": sched.practitioner_id, "start": "2026-03-12T03:30:00Z"}).json()
    waiter = factory.user(Role.patient, patient_id=factory.patient(given="Bela"))
    client.post("/api/v1/waitlist", headers=factory.headers(waiter), json={
        "practitioner_id": sched.practitioner_id, "earliest": "2026-03-12T00:00:00Z",
        "latest": "2026-03-13T00:00:00Z"})
    moved = client.post(f"/api/v1/appointments/{appt['id']}/reschedule", headers=patient,
                        json={"start": "2026-03-13T03:30:00Z"}).json()
    assert {k.split(":")[1] for k in outbox.cancelled} == {appt["id"]}
    assert any(m["dedupe_key"].startswith(f"appointment:{moved['id']}:reminder:") for m in outbox.sent)
    offers = [m for m in outbox.sent if m["template"] == notify.OFFER]
    assert len(offers) == 1 and offers[0]["recipient"].user_id == waiter.id
    assert offers[0]["params"]["when"] == "2026-03-12 09:00" and offers[0]["params"]["zone"] == "Asia/Kolkata"


def test_staff_booking_notifies_the_record_contacts(client: TestClient, factory: Factory, outbox: Outbox) -> None:
    sched = schedule(client, factory)
    client.post("/api/v1/appointments", headers=sched.headers(factory, Role.front_desk), json={
        "practitioner_id": sched.practitioner_id, "start": "2026-03-13T03:30:00Z",
        "patient_id": str(sched.clinic.patient_id)})
    recipients = {(m["recipient"].user_id, m["recipient"].phone) for m in outbox.sent}
    assert recipients == {(None, "+91 98200 11111")}
