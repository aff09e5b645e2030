"""The notifications outbox and its worker against a real database: queued in the caller's transaction, delivered
to the in-app inbox and to a real SMTP server (aiosmtpd) in the recipient's language, retried with growing backoff
until it fails for good, deferred by quiet hours, withdrawn by `cancel_pending`; reminders from a real booking."""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from carebridge.contexts import notifications
from carebridge.contexts.notifications.channels import (
    InAppChannel,
    LogChannel,
    RecordingSms,
    SmsChannel,
    SmtpChannel,
)
from carebridge.contexts.notifications.models import DeliveryAttempt, InboxMessage, Notification
from carebridge.contexts.notifications.worker import Backoff, Delivery, NotificationWorker
from carebridge.contexts.scheduling import notify as scheduling_notify
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.security import Role
from tests.factories import Factory
from tests.integration.scheduling.helpers import schedule

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)  # 15:00 in Kolkata
notifications.register_template(notifications.Template(
    key="test.hello", subject={"en": "Hello {name}", "hi": "नमस्ते {name}"},
    body={"en": "Your result is ready.", "hi": "आपका परिणाम तैयार है।"}))
notifications.register_template(notifications.Template(
    key="test.sos", subject={"en": "SOS from {name}"}, body={"en": "Call now."}, urgent=True))


def _worker(database: Database, clock: FixedClock, *channels: Any, attempts: int = 3) -> NotificationWorker:
    delivery = Delivery([InAppChannel(), LogChannel(), *channels], max_attempts=attempts,
                        backoff=Backoff(base_seconds=60, jitter=0.0))
    return NotificationWorker(database, delivery, clock=clock)


def _row(database: Database, nid: uuid.UUID) -> Notification:
    with database.unit_of_work() as s:
        row = s.get(Notification, nid)
        assert row is not None
        s.expunge(row)
        return row


def test_queued_with_the_transaction_and_never_twice(database: Database, factory: Factory) -> None:
    user = factory.user(Role.patient, patient_id=factory.patient())
    who = notifications.Recipient(user_id=user.id, name="Asha")
    with contextlib.suppress(RuntimeError), database.unit_of_work() as s:
        notifications.enqueue(s, recipient=who, template="test.hello", params={"name": "Asha"}, now=NOW,
                              dedupe_key="k-rolled-back")
        raise RuntimeError("the change that caused it failed")
    with database.unit_of_work() as s:
        assert s.scalar(select(Notification).where(Notification.dedupe_key == "k-rolled-back")) is None
        first = notifications.enqueue(s, recipient=who, template="test.hello", params={}, now=NOW, dedupe_key="k1")
        again = notifications.enqueue(s, recipient=who, template="test.hello", params={}, now=NOW, dedupe_key="k1")
        assert first == again
        assert len(list(s.scalars(select(Notification).where(Notification.dedupe_key == "k1")))) == 1
        with pytest.raises(ValueError, match="no template"):
            notifications.enqueue(s, recipient=who, template="nope", params={}, now=NOW)
        with pytest.raises(ValueError, match="needs an account"):
            notifications.enqueue(s, recipient=notifications.Recipient(user_id=None, name="x"),
                                  template="test.hello", params={}, now=NOW)


def test_worker_fills_the_inbox_which_the_api_shows_only_to_its_owner(database: Database, factory: Factory,
                                                                      client: TestClient) -> None:
    user = factory.user(Role.patient, patient_id=factory.patient())
    other = factory.user(Role.patient, patient_id=factory.patient())
    with database.unit_of_work() as s:
        nid = notifications.enqueue(s, recipient=notifications.Recipient(user_id=user.id, name="Asha"),
                                    template="test.hello", params={"name": "Asha"}, now=NOW)
    assert _worker(database, FixedClock(NOW)).run_once() == 1
    row = _row(database, nid)
    assert (row.status, row.channels, row.sent_at) == ("sent", ["in_app", "log"], NOW)
    inbox = client.get("/api/v1/notifications/inbox", headers=factory.headers(user)).json()
    assert inbox["unread"] == 1 and inbox["items"][0]["subject"] == "Hello Asha"
    message_id = inbox["items"][0]["id"]
    assert client.post(f"/api/v1/notifications/inbox/{message_id}/read",
                       headers=factory.headers(other)).status_code == 404
    assert client.get("/api/v1/notifications/inbox", headers=factory.headers(other)).json()["items"] == []
    read = client.post(f"/api/v1/notifications/inbox/{message_id}/read", headers=factory.headers(user))
    assert read.status_code == 200 and read.json()["read_at"] is not None
    assert client.get("/api/v1/notifications/inbox", params={"unread": "true"},
                      headers=factory.headers(user)).json()["unread"] == 0
    assert _worker(database, FixedClock(NOW)).run_once() == 0  # nothing is delivered twice


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, list[bytes]]]:
    from aiosmtpd.controller import Controller

    received: list[bytes] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope.content)
            return "250 OK"

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


def test_email_in_the_recipients_language_reaches_a_real_smtp_server(
        database: Database, factory: Factory, client: TestClient, smtp_server: tuple[int, list[bytes]]) -> None:
    port, received = smtp_server
    user = factory.user(Role.patient, patient_id=factory.patient())
    prefs = client.put("/api/v1/notifications/preferences", headers=factory.headers(user),
                       json={"channels": ["email"], "language": "hi"})
    assert prefs.status_code == 200, prefs.text
    with database.unit_of_work() as s:
        nid = notifications.enqueue(s, recipient=notifications.Recipient(user_id=user.id, name="आशा",
                                                                         email="asha@example.test"),
                                    template="test.hello", params={"name": "आशा"}, now=NOW)
    smtp = SmtpChannel(host="127.0.0.1", port=port, sender="CareBridge <no-reply@example.test>")
    assert _worker(database, FixedClock(NOW), smtp).run_once() == 1
    assert _row(database, nid).channels == ["email", "log"]  # the preference left the inbox out
    mail = message_from_bytes(received[0])
    assert mail["To"] == "asha@example.test"
    assert str(make_header(decode_header(mail["Subject"]))) == "नमस्ते आशा"
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes) and "आपका परिणाम तैयार है।" in payload.decode("utf-8")


def test_a_failing_channel_backs_off_then_fails_with_every_attempt_recorded(database: Database) -> None:
    sms = RecordingSms(fail_with="gateway said 503")
    with database.unit_of_work() as s:
        nid = notifications.enqueue(s, recipient=notifications.Recipient(user_id=None, name="Ravi", phone="+9198"),
                                    template="test.hello", params={"name": "Ravi"}, now=NOW)
    clock = FixedClock(NOW)
    worker = _worker(database, clock, SmsChannel(sms), attempts=3)
    waits = []
    for _ in range(3):
        assert worker.run_once() == 1
        row = _row(database, nid)
        if row.status == "pending":
            waits.append(row.next_attempt_at - clock.now())
            assert worker.run_once() == 0  # not due before its backoff
            clock.advance(seconds=(row.next_attempt_at - clock.now()).total_seconds())
    assert waits == [timedelta(seconds=60), timedelta(seconds=120)]  # doubling, jitter off
    row = _row(database, nid)
    assert (row.status, row.attempts) == ("failed", 3)
    assert "gateway said 503" in (row.last_error or "")
    with database.unit_of_work() as s:
        tries = list(s.scalars(select(DeliveryAttempt).where(DeliveryAttempt.notification_id == nid,
                                                             DeliveryAttempt.channel == "sms")))
    assert len(tries) == 3 and not any(t.ok for t in tries)


def test_quiet_hours_defer_to_their_end_but_not_an_urgent_message(database: Database, factory: Factory,
                                                                  client: TestClient) -> None:
    user = factory.user(Role.caregiver)
    r = client.put("/api/v1/notifications/preferences", headers=factory.headers(user),
                   json={"quiet_start": "14:00", "quiet_end": "07:30", "time_zone": "Asia/Kolkata"})
    assert r.status_code == 200
    with database.unit_of_work() as s:
        later = notifications.enqueue(s, recipient=notifications.Recipient(user_id=user.id, name="C"),
                                      template="test.hello", params={}, now=NOW)
        now = notifications.enqueue(s, recipient=notifications.Recipient(user_id=user.id, name="C"),
                                    template="test.sos", params={"name": "Meera"}, now=NOW)
    _worker(database, FixedClock(NOW)).run_once()
    assert _row(database, now).status == "sent"
    deferred = _row(database, later)
    # 15:00 IST is inside 14:00-07:30: held until 07:30 IST tomorrow = 02:00 UTC on 11 March
    assert deferred.status == "pending" and deferred.attempts == 0
    assert deferred.next_attempt_at == datetime(2026, 3, 11, 2, 0, tzinfo=UTC)


def test_preferences_refuse_bad_input_with_field_paths(client: TestClient, factory: Factory) -> None:
    headers = factory.headers(factory.user(Role.nurse, organization_id=factory.organization()))
    for body, field in (({"channels": ["pigeon"]}, "channels"), ({"quiet_start": "25:00", "quiet_end": "06:00"},
                        "quiet_start"), ({"time_zone": "Mars/Olympus"}, "time_zone"),
                        ({"quiet_start": "22:00"}, "")):
        r = client.put("/api/v1/notifications/preferences", headers=headers, json=body)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
        assert field in r.text
    assert client.get("/api/v1/notifications", headers=headers).status_code == 403  # operators only


def test_booking_queues_reminders_and_cancelling_withdraws_them(client: TestClient, factory: Factory,
                                                                database: Database) -> None:
    sched = schedule(client, factory)
    patient = factory.headers(sched.clinic.users[Role.patient])
    appt = client.post("/api/v1/appointments", headers=patient, json={
        "practitioner_id": sched.practitioner_id, "start": "2026-03-12T09:30:00+05:30"}).json()
    with database.unit_of_work() as s:
        rows = list(s.scalars(select(Notification).where(Notification.template == scheduling_notify.REMINDER)
                              .order_by(Notification.next_attempt_at)))
    # the slot starts 04:00 UTC on 12 March: 24 h and 2 h before
    assert [r.next_attempt_at for r in rows] == [datetime(2026, 3, 11, 4, 0, tzinfo=UTC),
                                                 datetime(2026, 3, 12, 2, 0, tzinfo=UTC)]
    assert all(r.status == "pending" for r in rows)
    r = client.post(f"/api/v1/appointments/{appt['id']}/cancel", headers=patient, json={"reason": "better"})
    assert r.status_code == 200, r.text
    with database.unit_of_work() as s:
        assert {x.status for x in s.scalars(select(Notification).where(
            Notification.template == scheduling_notify.REMINDER))} == {"cancelled"}
    # and the worker, at the reminder's hour, sends nothing
    assert _worker(database, FixedClock(datetime(2026, 3, 11, 4, 0, tzinfo=UTC))).run_once() == 0
    with database.unit_of_work() as s:
        assert s.scalars(select(InboxMessage)).first() is None
