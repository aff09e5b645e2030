"""Hostile or malformed input is a 4xx problem, never a 500 (NUL bytes would break PostgreSQL queries)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carebridge.security import Role
from tests.factories import Factory

NUL = "ab\x00cd"


@pytest.mark.parametrize("body", [
    {"username": NUL, "password": "whatever at all"},
    {"username": "ok-name", "password": NUL},
    {"username": "ok-name", "password": "p" * 129},
    {"username": "ok-name", "password": "long enough pass", "totp_code": "12\x0056"},
    {"username": ["list"], "password": 5},
    "just a string",
])
def test_login_never_fails_with_500(client: TestClient, body: Any) -> None:
    r = client.post("/api/v1/auth/login", json=body)
    assert r.status_code in (401, 422), r.text
    assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("field,value", [("username", "ab\x00cd"), ("full_name", NUL), ("email", "a\x00@b.com"),
                                         ("phone", "+91\x00123456"), ("birth_date", "1800-01-01"),
                                         ("birth_date", "2999-01-01")])
def test_registration_never_fails_with_500(client: TestClient, field: str, value: str) -> None:
    body = {"username": "valid.name", "password": "marigold tea at seven", "full_name": "Valid Name", field: value}
    r = client.post("/api/v1/auth/register", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field


def test_refresh_and_caregiver_inputs_never_fail_with_500(factory: Factory, client: TestClient) -> None:
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": NUL}).status_code == 401
    patient = factory.user(Role.patient, patient_id=factory.patient())
    r = client.post("/api/v1/me/caregivers", headers=factory.headers(patient),
                    json={"caregiver_username": NUL, "scopes": ["read_record"]})
    assert r.status_code == 422


@pytest.mark.parametrize("keys", [["ab\x00"], [5], ["x", "y"], [None]])
def test_forged_cursors_are_refused(factory: Factory, client: TestClient, keys: list[Any]) -> None:
    admin = factory.user(Role.admin, organization_id=factory.organization())
    cursor = base64.urlsafe_b64encode(json.dumps(keys).encode()).decode().rstrip("=")
    r = client.get("/api/v1/users", headers=factory.headers(admin), params={"cursor": cursor})
    assert r.status_code == 422, r.text
