"""The caller's own account: who am I, name and language, password change."""

from __future__ import annotations

from fastapi.testclient import TestClient

from carebridge.security import Role
from carebridge.settings import Settings
from tests.api.identity.conftest import Api, problem
from tests.factories import DEFAULT_PASSWORD, Factory

NEW_PASSWORD = "a quieter river stone"


def test_me_describes_staff_with_their_organization(api: Api, factory: Factory, client: TestClient) -> None:
    org = factory.organization("Lotus Clinic")
    pharmacist = factory.user(Role.pharmacist, organization_id=org)
    me = client.get("/api/v1/me", headers=factory.headers(pharmacist, mfa=False)).json()
    assert me["role"] == "pharmacist" and me["organization_name"] == "Lotus Clinic"
    assert me["patient_id"] is None and me["totp_enabled"] is False and me["session_mfa"] is False
    assert "patient:read" in me["permissions"] and "user:manage" not in me["permissions"]


def test_update_name_and_language(api: Api, factory: Factory, client: TestClient) -> None:
    user = factory.user(Role.patient)
    headers = factory.headers(user)
    r = client.patch("/api/v1/me", headers=headers, json={"full_name": "  Meera Iyer ", "language": "hi"})
    assert r.status_code == 200
    assert r.json()["full_name"] == "Meera Iyer" and r.json()["language"] == "hi"
    assert client.get("/api/v1/me", headers=headers).json()["language"] == "hi"
    body = problem(client.patch("/api/v1/me", headers=headers, json={"language": "fr"}), 422, "validation")
    assert body["errors"][0]["field"] == "language"
    problem(client.patch("/api/v1/me", headers=headers, json={"role": "admin"}), 422, "validation")


def test_change_password_ends_other_sessions(api: Api, factory: Factory, client: TestClient) -> None:
    user = factory.user(Role.nurse, organization_id=factory.organization())
    mine, other = factory.headers(user), factory.headers(user)
    r = client.post("/api/v1/me/password", headers=mine,
                    json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD})
    assert r.status_code == 204, r.text
    assert client.get("/api/v1/me", headers=mine).status_code == 200
    problem(client.get("/api/v1/me", headers=other), 401, "unauthorized")
    problem(api.login(user.username), 401, "invalid-credentials")
    assert api.login(user.username, NEW_PASSWORD).status_code == 200


def test_change_password_checks_current_and_policy(api: Api, factory: Factory, client: TestClient) -> None:
    user = factory.user(Role.patient)
    headers = factory.headers(user)
    body = problem(client.post("/api/v1/me/password", headers=headers,
                               json={"current_password": "wrong password!!", "new_password": NEW_PASSWORD}),
                   422, "validation")
    assert body["errors"][0]["field"] == "current_password"
    body = problem(client.post("/api/v1/me/password", headers=headers,
                               json={"current_password": DEFAULT_PASSWORD, "new_password": "qwertyuiop12"}),
                   422, "validation")
    assert body["errors"][0]["field"] == "new_password"
    problem(client.post("/api/v1/me/password", headers=headers,
                        json={"current_password": DEFAULT_PASSWORD, "new_password": DEFAULT_PASSWORD}),
            422, "validation")
    assert api.login(user.username).status_code == 200


def test_password_guessing_through_change_password_is_throttled(
    factory: Factory, client: TestClient, settings: Settings
) -> None:
    settings.login_max_failures_account = 2
    user = factory.user(Role.patient)
    headers = factory.headers(user)
    for _ in range(2):
        client.post("/api/v1/me/password", headers=headers,
                    json={"current_password": "wrong password!!", "new_password": NEW_PASSWORD})
    r = client.post("/api/v1/me/password", headers=headers,
                    json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD})
    problem(r, 429, "login-throttled")
