"""Self-registration: patients get their own record, caregivers do not; the password policy holds."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from carebridge.contexts.audit.models import AuditEntry
from carebridge.contexts.patients.models import Patient
from carebridge.kernel.db import Database
from carebridge.settings import Settings
from tests.api.identity.conftest import Api, problem

GOOD_PASSWORD = "marigold tea at seven"


def _register(client: TestClient, **overrides: Any) -> Any:
    body = {"username": "asha.verma", "password": GOOD_PASSWORD, "full_name": "Asha Verma",
            "email": "Asha@Example.com", "phone": "+91 98200 12345", "birth_date": "1988-04-02", "sex": "female",
            "language": "hi"}
    body.update(overrides)
    return client.post("/api/v1/auth/register", json=body)


def test_patient_registration_creates_the_patient_record(client: TestClient, api: Api, database: Database) -> None:
    r = _register(client)
    assert r.status_code == 201, r.text
    user = r.json()
    assert user["role"] == "patient" and user["username"] == "asha.verma" and user["email"] == "asha@example.com"
    assert user["patient_id"] and user["organization_id"] is None and user["language"] == "hi"
    with database.unit_of_work() as s:
        patient = s.get(Patient, uuid.UUID(user["patient_id"]))
        assert patient is not None
        assert (patient.given_name, patient.family_name) == ("Asha", "Verma")
        assert str(patient.birth_date) == "1988-04-02" and patient.sex == "female"
        assert patient.phone == "+91 98200 12345" and patient.preferred_languages == ["hi"]
        actions = s.execute(select(AuditEntry.resource_type, AuditEntry.action)
                            .where(AuditEntry.patient_id == patient.id)).all()
        assert {("Patient", "create"), ("User", "create")} <= set(actions)
    # the new patient signs in and learns their own patient id
    me = api.client.get("/api/v1/me", headers=api.bearer("asha.verma", GOOD_PASSWORD)).json()
    assert me["patient_id"] == user["patient_id"] and me["role"] == "patient"
    assert "caregiver:link" in me["permissions"] and me["totp_required"] is False


def test_caregiver_registration_has_no_patient_record(client: TestClient) -> None:
    r = _register(client, username="ravi.care", email=None, role="caregiver", full_name="Ravi Kumar")
    assert r.status_code == 201, r.text
    assert r.json()["role"] == "caregiver" and r.json()["patient_id"] is None


def test_staff_roles_cannot_self_register(client: TestClient) -> None:
    body = problem(_register(client, role="admin"), 422, "validation")
    assert body["errors"][0]["field"] == "role"


def test_password_policy(client: TestClient) -> None:
    short = problem(_register(client, password="short one"), 422, "validation")
    assert short["errors"][0]["field"] == "password" and "12 characters" in short["detail"]
    common = problem(_register(client, password="password1234"), 422, "validation")
    assert "too common" in common["detail"]
    own_name = problem(_register(client, password="asha.verma-is-great"), 422, "validation")
    assert "username" in own_name["detail"]
    problem(_register(client, password="x" * 129), 422, "validation")


def test_duplicate_username_or_email_is_a_conflict(client: TestClient) -> None:
    assert _register(client).status_code == 201
    body = problem(_register(client, username="ASHA.VERMA", email=None), 409, "conflict")
    assert body["errors"][0]["field"] == "username"
    body = problem(_register(client, username="another.asha", email="asha@example.COM"), 409, "conflict")
    assert body["errors"][0]["field"] == "email"


def test_invalid_fields_are_reported_with_their_paths(client: TestClient) -> None:
    body = problem(_register(client, username="no spaces allowed", email="not-an-email", language="fr",
                             unexpected=1), 422, "validation")
    assert {e["field"] for e in body["errors"]} >= {"username", "email", "language", "unexpected"}
    problem(_register(client, full_name="x" * 201), 422, "validation")


def test_registration_can_be_turned_off(client: TestClient, settings: Settings) -> None:
    settings.self_registration = False
    problem(_register(client), 403, "registration-closed")
