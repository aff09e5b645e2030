"""Refresh rotation, reuse detection and logout: a revoked sign-in stops working at once."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from carebridge.contexts.identity.models import AuthSession
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.security import Role
from tests.api.identity.conftest import Api, problem
from tests.factories import Factory


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_refresh_rotates_the_pair(api: Api, factory: Factory, client: TestClient) -> None:
    user = factory.user(Role.patient)
    first = api.tokens(user.username)
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["user"]["id"] == str(user.id)
    assert client.get("/api/v1/me", headers=_auth(second["access_token"])).status_code == 200
    third = client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert third.status_code == 200


def test_reused_refresh_token_revokes_the_whole_family(
    api: Api, factory: Factory, client: TestClient, database: Database
) -> None:
    user = factory.user(Role.patient)
    first = api.tokens(user.username)
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    # an attacker replays the first refresh token
    problem(client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}),
            401, "refresh-token-reused")
    # the legitimate holder's newer tokens died with it
    problem(client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}),
            401, "invalid-refresh-token")
    problem(client.get("/api/v1/me", headers=_auth(second["access_token"])), 401, "unauthorized")
    with database.unit_of_work() as s:
        row = s.execute(select(AuthSession).where(AuthSession.user_id == user.id)).scalar_one()
        assert row.revoked_reason == "refresh-token-reuse"
    # other sign-ins of the same user are untouched
    assert api.login(user.username).status_code == 200


def test_unknown_refresh_token_is_401(client: TestClient) -> None:
    problem(client.post("/api/v1/auth/refresh", json={"refresh_token": "made-up"}), 401, "invalid-refresh-token")
    problem(client.post("/api/v1/auth/refresh", json={"refresh_token": ""}), 422, "validation")


def test_logout_revokes_access_and_refresh_tokens_at_once(api: Api, factory: Factory, client: TestClient) -> None:
    user = factory.user(Role.caregiver)
    kept = api.tokens(user.username)
    ended = api.tokens(user.username)
    assert client.post("/api/v1/auth/logout", headers=_auth(ended["access_token"])).status_code == 204
    problem(client.get("/api/v1/me", headers=_auth(ended["access_token"])), 401, "unauthorized")
    problem(client.post("/api/v1/auth/refresh", json={"refresh_token": ended["refresh_token"]}),
            401, "invalid-refresh-token")
    assert client.get("/api/v1/me", headers=_auth(kept["access_token"])).status_code == 200


def test_access_token_expires_and_refresh_still_works(
    api: Api, factory: Factory, client: TestClient, clock: FixedClock
) -> None:
    user = factory.user(Role.patient)
    pair = api.tokens(user.username)
    clock.advance(seconds=pair["expires_in"] + 1)
    problem(client.get("/api/v1/me", headers=_auth(pair["access_token"])), 401, "unauthorized")
    fresh = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert fresh.status_code == 200
    assert client.get("/api/v1/me", headers=_auth(fresh.json()["access_token"])).status_code == 200


def test_refresh_token_family_ends_with_its_lifetime(
    api: Api, factory: Factory, client: TestClient, clock: FixedClock
) -> None:
    user = factory.user(Role.patient)
    pair = api.tokens(user.username)
    clock.advance(days=31)
    problem(client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}),
            401, "invalid-refresh-token")


def test_bad_authorization_headers_are_401(client: TestClient) -> None:
    problem(client.get("/api/v1/me"), 401, "unauthorized")
    problem(client.get("/api/v1/me", headers={"Authorization": "Basic abc"}), 401, "unauthorized")
    problem(client.get("/api/v1/me", headers=_auth("not-a-jwt")), 401, "unauthorized")
