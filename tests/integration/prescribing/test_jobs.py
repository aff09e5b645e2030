"""Prescribing's scheduled jobs on the FixedClock: a signed prescription nobody dispensed expires after its
validity (leaving the pharmacy queue, its reminders withdrawn, audited once), and a long course keeps a week of
dose reminders queued until its last dose, one reminder per dose. Also the `carebridge prescribing jobs` command."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from carebridge.cli import app as cli_app
from carebridge.contexts.audit.models import AuditEntry
from carebridge.contexts.identity.models import User
from carebridge.contexts.notifications.models import Notification
from carebridge.contexts.patients.models import Patient
from carebridge.contexts.prescribing import jobs
from carebridge.contexts.prescribing.models import Prescription
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.kernel.events import OutboxEvent
from carebridge.kernel.migrate import upgrade
from carebridge.security import Role
from carebridge.settings import get_settings
from tests.factories import Clinic, Factory


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


def _signed(client: TestClient, factory: Factory, clinic: Clinic, *, days: int, times: int = 1) -> str:
    doc = factory.headers(clinic.users[Role.practitioner])
    r = client.post("/api/v1/prescriptions", headers=doc, json={"patient_id": str(clinic.patient_id), "items": [
        {"medication": "paracetamol", "dose": 500, "times_per_day": times, "duration_days": days}]})
    assert r.status_code == 201, r.text
    rx_id: str = r.json()["id"]
    assert client.post(f"/api/v1/prescriptions/{rx_id}/sign", headers=doc).status_code == 200
    return rx_id


def _reminders(database: Database, rx_id: str) -> list[Notification]:
    with database.unit_of_work() as s:
        rows = list(s.scalars(select(Notification).where(Notification.dedupe_key.like(f"rx:{rx_id}:%"))
                              .order_by(Notification.next_attempt_at)))
        s.expunge_all()
    return rows


def test_expiry_job_expires_an_undispensed_prescription_once(
        client: TestClient, factory: Factory, clinic: Clinic, database: Database, clock: FixedClock,
        app: FastAPI) -> None:
    rx_id = _signed(client, factory, clinic, days=10)
    secret = app.state.keys.token_secret
    assert jobs.run_once(database, clock, secret=secret).expired == 0  # within its validity
    assert all(n.status == "pending" for n in _reminders(database, rx_id))
    clock.advance(days=30)
    run = jobs.run_once(database, clock, secret=secret)
    assert (run.expired, run.failed) == (1, 0)
    assert jobs.run_once(database, clock, secret=secret).expired == 0  # nothing left to expire
    with database.unit_of_work() as s:
        rx = s.get_one(Prescription, uuid.UUID(rx_id))
        assert (rx.status, rx.closed_at, rx.reminders_until) == ("expired", clock.now(), None)
        audited = s.scalars(select(AuditEntry).where(AuditEntry.resource_id == str(rx.id),
                                                     AuditEntry.action == "expire")).all()
        assert [(a.user_id, a.detail["via"]) for a in audited] == [(None, "job")]
        events = s.scalars(select(OutboxEvent).where(OutboxEvent.type == "prescription.expired")).all()
        assert [e.payload["prescription_id"] for e in events] == [rx_id]
    assert {n.status for n in _reminders(database, rx_id)} == {"cancelled"}
    pharmacist = factory.headers(clinic.users[Role.pharmacist])
    assert client.get("/api/v1/pharmacy/queue", headers=pharmacist).json() == []
    doc = factory.headers(clinic.users[Role.practitioner])
    assert client.get(f"/api/v1/prescriptions/{rx_id}", headers=doc).json()["status"] == "expired"


def test_a_dispensed_prescription_does_not_expire(
        client: TestClient, factory: Factory, clinic: Clinic, database: Database, clock: FixedClock,
        app: FastAPI) -> None:
    rx_id = _signed(client, factory, clinic, days=10)
    rx = client.get(f"/api/v1/prescriptions/{rx_id}", headers=factory.headers(clinic.users[Role.practitioner]))
    item = rx.json()["items"][0]["id"]
    r = client.post(f"/api/v1/prescriptions/{rx_id}/dispense", headers=factory.headers(clinic.users[Role.pharmacist]),
                    json={"lines": [{"item_id": item, "quantity": 10}]})
    assert r.status_code == 201, r.text
    clock.advance(days=40)
    assert jobs.run_once(database, clock, secret=app.state.keys.token_secret).expired == 0


def test_reminder_job_keeps_a_week_queued_until_the_last_dose(
        client: TestClient, factory: Factory, clinic: Clinic, database: Database, clock: FixedClock,
        app: FastAPI) -> None:
    rx_id = _signed(client, factory, clinic, days=30)
    secret = app.state.keys.token_secret
    first_week = _reminders(database, rx_id)
    assert len(first_week) == 7
    assert max(n.next_attempt_at for n in first_week) <= clock.now() + timedelta(days=7)
    assert jobs.run_once(database, clock, secret=secret).reminders == 0  # a full week is already queued
    clock.advance(days=2)
    run = jobs.run_once(database, clock, secret=secret)
    assert (run.topped_up, run.reminders) == (1, 2)
    queued = _reminders(database, rx_id)
    assert len(queued) == 9 and max(n.next_attempt_at for n in queued) <= clock.now() + timedelta(days=7)
    assert jobs.run_once(database, clock, secret=secret).topped_up == 0  # the same day again: nothing to do
    for _ in range(40):
        clock.advance(days=1)
        jobs.run_once(database, clock, secret=secret)
    every = _reminders(database, rx_id)
    due = [n.next_attempt_at for n in every]
    assert len(every) == 30 and len(set(due)) == 30  # one reminder per dose of the course, no repeats
    assert all("/medications/doses/" in n.params["link"] for n in every)
    with database.unit_of_work() as s:
        assert s.get_one(Prescription, uuid.UUID(rx_id)).reminders_until is None  # course fully queued


def test_a_cancelled_course_gets_no_more_reminders(
        client: TestClient, factory: Factory, clinic: Clinic, database: Database, clock: FixedClock,
        app: FastAPI) -> None:
    rx_id = _signed(client, factory, clinic, days=30)
    doc = factory.headers(clinic.users[Role.practitioner])
    r = client.post(f"/api/v1/prescriptions/{rx_id}/cancel", headers=doc, json={"reason": "changed plan"})
    assert r.status_code == 200, r.text
    clock.advance(days=3)
    assert jobs.run_once(database, clock, secret=app.state.keys.token_secret).reminders == 0
    assert len(_reminders(database, rx_id)) == 7


def _seed_expired(db: Database) -> uuid.UUID:
    pid, uid, rx = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    at = datetime(2026, 1, 1, tzinfo=UTC)
    with db.unit_of_work() as s:
        s.add(Patient(id=pid, given_name="Cli", family_name="Patient", given_name_norm="cli",
                      family_name_norm="patient", name_search="cli patient", birth_date=date(1980, 1, 1),
                      created_at=at, updated_at=at))
        s.add(User(id=uid, username="clidoc", email="clidoc@example.test", full_name="Cli Doctor", password_hash="x",
                   role=Role.practitioner.value, created_at=at, updated_at=at, password_changed_at=at))
        s.flush()
        s.add(Prescription(id=rx, patient_id=pid, prescriber_id=uid, status="signed", created_at=at, updated_at=at,
                           signed_at=at, expires_at=at + timedelta(days=30)))
    return rx


def test_jobs_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    monkeypatch.setenv("CAREBRIDGE_DATABASE_URL", url)
    monkeypatch.setenv("CAREBRIDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CAREBRIDGE_ENV", "test")
    get_settings.cache_clear()
    db = Database(url)
    rx = _seed_expired(db)  # expired long before the system clock's today
    try:
        result = CliRunner().invoke(cli_app, ["prescribing", "jobs"])
        again = CliRunner().invoke(cli_app, ["prescribing", "jobs"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "expired 1 prescription(s)" in result.output and "0 failed" in result.output
    assert "expired 0 prescription(s)" in again.output
    with db.unit_of_work() as s:
        assert s.get_one(Prescription, rx).status == "expired"
    db.dispose()
