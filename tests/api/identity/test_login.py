"""Signing in: answers, throttling per account and per address, and the lock running out."""

from __future__ import annotations

from fastapi.testclient import TestClient

from carebridge.kernel.clock import FixedClock
from carebridge.security import Role
from carebridge.settings import Settings
from tests.api.identity.conftest import Api, problem
from tests.factories import Factory


def test_login_returns_tokens_that_identify_the_user(api: Api, factory: Factory, client: TestClient) -> None:
    org = factory.organization()
    nurse = factory.user(Role.nurse, organization_id=org)
    body = api.tokens(nurse.username)
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["refresh_token"] and body["access_token"]
    assert body["user"]["username"] == nurse.username and body["user"]["role"] == "nurse"
    assert "password_hash" not in body["user"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["id"] == str(nurse.id) and me.json()["organization_id"] == str(org)


def test_username_is_case_insensitive(api: Api, factory: Factory) -> None:
    user = factory.user(Role.caregiver)
    assert api.login(user.username.upper()).status_code == 200


def test_wrong_password_and_unknown_user_get_the_same_answer(api: Api, factory: Factory) -> None:
    user = factory.user(Role.patient)
    wrong = problem(api.login(user.username, "not the right password"), 401, "invalid-credentials")
    unknown = problem(api.login("nobody-here", "not the right password"), 401, "invalid-credentials")
    assert wrong["detail"] == unknown["detail"]


def test_malformed_login_is_a_validation_problem_with_field_path(client: TestClient) -> None:
    r = client.post("/api/v1/auth/login", json={"username": "x" * 65})
    body = problem(r, 422, "validation")
    assert {e["field"] for e in body["errors"]} == {"username", "password"}


def test_account_is_throttled_after_failures_and_the_lock_expires(
    api: Api, factory: Factory, clock: FixedClock, settings: Settings
) -> None:
    settings.login_max_failures_account = 3
    user = factory.user(Role.nurse, organization_id=factory.organization())
    for _ in range(settings.login_max_failures_account):
        problem(api.login(user.username, "wrong password 123"), 401, "invalid-credentials")
    # even the right password waits now
    r = api.login(user.username)
    body = problem(r, 429, "login-throttled")
    assert body["retry_after"] == settings.login_lockout_seconds
    assert r.headers["Retry-After"] == str(settings.login_lockout_seconds)
    assert f"try again in {settings.login_lockout_seconds} s" in body["detail"]
    clock.advance(seconds=100)
    assert problem(api.login(user.username), 429, "login-throttled")["retry_after"] == settings.login_lockout_seconds - 100
    clock.advance(seconds=settings.login_lockout_seconds - 100)
    assert api.login(user.username).status_code == 200


def test_success_forgives_earlier_account_failures(api: Api, factory: Factory, settings: Settings) -> None:
    settings.login_max_failures_account = 3
    user = factory.user(Role.patient)
    for _ in range(settings.login_max_failures_account - 1):
        api.login(user.username, "wrong password 123")
    assert api.login(user.username).status_code == 200
    for _ in range(settings.login_max_failures_account - 1):
        api.login(user.username, "wrong password 123")
    assert api.login(user.username).status_code == 200


def test_other_accounts_are_not_locked_by_one_accounts_failures(api: Api, factory: Factory, settings: Settings) -> None:
    settings.login_max_failures_account = 2
    victim, other = factory.user(Role.patient), factory.user(Role.patient)
    for _ in range(settings.login_max_failures_account):
        api.login(victim.username, "wrong password 123")
    assert api.login(victim.username).status_code == 429
    assert api.login(other.username).status_code == 200


def test_address_is_throttled_across_accounts(
    api: Api, factory: Factory, clock: FixedClock, settings: Settings
) -> None:
    settings.login_max_failures_address = 3
    users = [factory.user(Role.patient) for _ in range(2)]
    for name in ("guess-a", "guess-b", "guess-c"):
        problem(api.login(name, "wrong password 123"), 401, "invalid-credentials")
    # a fresh account from the same address must wait too
    body = problem(api.login(users[0].username), 429, "login-throttled")
    assert "network address" in body["detail"]
    clock.advance(seconds=settings.login_lockout_seconds)
    assert api.login(users[0].username).status_code == 200
    # one more failure after the lock: the address is still over the limit inside the window
    api.login("guess-e", "wrong password 123")
    assert api.login(users[1].username).status_code == 429
    clock.advance(seconds=settings.login_window_seconds)
    assert api.login(users[1].username).status_code == 200


def test_deactivated_account_cannot_sign_in(api: Api, factory: Factory, client: TestClient) -> None:
    org = factory.organization()
    admin = factory.user(Role.admin, organization_id=org)
    nurse = factory.user(Role.nurse, organization_id=org)
    r = client.post(f"/api/v1/users/{nurse.id}/deactivate", headers=factory.headers(admin))
    assert r.status_code == 200 and r.json()["is_active"] is False
    problem(api.login(nurse.username), 401, "account-inactive")
