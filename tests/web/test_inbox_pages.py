"""The inbox page: a delivered message shows, can be marked read, and the preferences form saves channels,
language and quiet hours (and refuses half a quiet-hours window on the page)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from carebridge.contexts import notifications
from carebridge.contexts.notifications.channels import InAppChannel, LogChannel
from carebridge.contexts.notifications.worker import Delivery, NotificationWorker
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.security import Role
from tests.factories import Factory
from tests.web.helpers import assert_good_page, csrf_token, post_form, sign_in

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
notifications.register_template(notifications.Template(
    key="test.page", subject={"en": "Your lab report is ready"}, body={"en": "Open your record to read it."}))


def test_inbox_shows_marks_read_and_saves_preferences(client: TestClient, factory: Factory,
                                                      database: Database) -> None:
    user = factory.user(Role.patient, patient_id=factory.patient())
    with database.unit_of_work() as s:
        notifications.enqueue(s, recipient=notifications.Recipient(user_id=user.id, name="Asha"),
                              template="test.page", params={}, now=NOW)
    NotificationWorker(database, Delivery([InAppChannel(), LogChannel()]), clock=FixedClock(NOW)).run_once()
    assert sign_in(client, user.username).status_code == 303
    page = client.get("/inbox")
    assert page.status_code == 200
    assert_good_page(page.text)
    assert "Your lab report is ready" in page.text and "(new)" in page.text
    message_id = page.text.split('action="/inbox/')[1].split("/read")[0]
    assert client.post(f"/inbox/{message_id}/read", data={"csrf_token": csrf_token(page.text)},
                       follow_redirects=False).status_code == 303
    assert "(new)" not in client.get("/inbox").text

    saved = post_form(client, "/inbox", "/inbox/preferences", {"channels": "sms", "language": "hi",
                                                               "quiet_start": "22:00", "quiet_end": "06:30"})
    assert saved.status_code == 303 and "error" not in saved.headers["location"]
    prefs = client.get("/api/v1/notifications/preferences", headers=factory.headers(user)).json()
    assert prefs == {"channels": ["sms"], "language": "hi", "quiet_start": "22:00", "quiet_end": "06:30",
                     "time_zone": "Asia/Kolkata"}
    half = post_form(client, "/inbox", "/inbox/preferences", {"quiet_start": "22:00"})
    assert "error=prefs" in half.headers["location"]
    assert "quiet hours need a start and an end" in client.get(half.headers["location"]).text
    assert client.get("/api/v1/notifications/preferences",
                      headers=factory.headers(user)).json()["quiet_end"] == "06:30"  # nothing lost
