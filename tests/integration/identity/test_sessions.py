"""Service-level behaviour of sign-in sessions: web cookies, and what survives a rolled-back request."""

from __future__ import annotations

import inspect
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from carebridge.contexts import identity
from carebridge.contexts.audit.models import AuditEntry
from carebridge.contexts.identity import SESSION_COOKIE, CurrentPrincipal, service
from carebridge.contexts.identity.auth import unsign_session_id
from carebridge.contexts.identity.models import AuthSession, LoginAttempt
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.kernel.errors import Problem, TooManyRequests, Unauthorized
from carebridge.kernel.keys import ServerKeys
from carebridge.security import Principal, Role
from carebridge.settings import Settings
from tests.factories import DEFAULT_PASSWORD, Factory


def _login(database: Database, settings: Settings, keys: ServerKeys, clock: FixedClock, username: str,
           password: str = DEFAULT_PASSWORD, **kw: Any) -> service.LoginResult:
    args: dict[str, Any] = {"totp_code": None, "kind": "api", "client_address": "10.0.0.7", "user_agent": "pytest"}
    args.update(kw)
    with database.unit_of_work() as s:
        return service.login(s, username=username, password=password, settings=settings, keys=keys,
                             now=clock.now(), **args)


def test_web_login_returns_a_signed_cookie_and_no_tokens(
    factory: Factory, database: Database, settings: Settings, app: FastAPI, clock: FixedClock
) -> None:
    user = factory.user(Role.front_desk, organization_id=factory.organization())
    result = _login(database, settings, app.state.keys, clock, user.username, kind="web")
    assert result.access_token is None and result.refresh_token is None and result.cookie_value
    assert result.expires_in == settings.web_session_ttl_hours * 3600
    assert unsign_session_id(app.state.keys.token_secret, result.cookie_value) == result.session_id
    forged = result.cookie_value.split(".")[0] + "." + "0" * 32
    assert unsign_session_id(app.state.keys.token_secret, forged) is None
    with database.unit_of_work() as s:
        row = s.get(AuthSession, result.session_id)
        assert row is not None and row.kind == "web" and row.client_address == "10.0.0.7"
        assert row.expires_at == clock.now() + timedelta(hours=settings.web_session_ttl_hours)


def test_failed_login_is_counted_even_though_its_transaction_rolls_back(
    factory: Factory, database: Database, settings: Settings, app: FastAPI, clock: FixedClock
) -> None:
    user = factory.user(Role.patient)
    with pytest.raises(Unauthorized):
        _login(database, settings, app.state.keys, clock, user.username, "definitely wrong")
    with database.unit_of_work() as s:
        attempts = s.execute(select(LoginAttempt).where(LoginAttempt.username == user.username)).scalars().all()
        assert [(a.client_address, a.at) for a in attempts] == [("10.0.0.7", clock.now())]
        audit = s.execute(select(AuditEntry).where(AuditEntry.action == "login",
                                                   AuditEntry.resource_id == str(user.id))).scalars().all()
        assert [a.outcome for a in audit] == ["failure"]


def test_throttle_answer_carries_the_wait(
    factory: Factory, database: Database, settings: Settings, app: FastAPI, clock: FixedClock
) -> None:
    settings.login_max_failures_account = 2
    user = factory.user(Role.patient)
    for _ in range(2):
        with pytest.raises(Unauthorized):
            _login(database, settings, app.state.keys, clock, user.username, "definitely wrong")
        clock.advance(seconds=10)
    with pytest.raises(TooManyRequests) as caught:
        _login(database, settings, app.state.keys, clock, user.username)
    assert caught.value.headers["Retry-After"] == str(settings.login_lockout_seconds - 10)
    assert caught.value.extra["retry_after"] == settings.login_lockout_seconds - 10


def test_reuse_revocation_survives_the_rolled_back_request(
    factory: Factory, database: Database, settings: Settings, app: FastAPI, clock: FixedClock
) -> None:
    user = factory.user(Role.patient)
    keys = app.state.keys
    first = _login(database, settings, keys, clock, user.username)
    assert first.refresh_token
    with database.unit_of_work() as s:
        service.refresh(s, refresh_token=first.refresh_token, settings=settings, keys=keys, now=clock.now())
    with pytest.raises(Problem) as caught, database.unit_of_work() as s:
        service.refresh(s, refresh_token=first.refresh_token, settings=settings, keys=keys, now=clock.now())
    assert caught.value.slug == "refresh-token-reused"
    with database.unit_of_work() as s:
        row = s.get(AuthSession, first.session_id)
        assert row is not None and row.revoked_at == clock.now() and row.revoked_reason == "refresh-token-reuse"


def _principal_probe(app: FastAPI) -> None:
    def probe(principal: CurrentPrincipal) -> dict[str, Any]:
        return {"role": principal.role.value, "mfa": principal.mfa, "needs_totp": principal.needs_totp,
                "caregiver_of": {str(k): sorted(v) for k, v in principal.caregiver_of.items()}}

    app.add_api_route("/_probe/principal", probe, methods=["GET"])


def test_caregiver_principal_follows_links_and_revocations(factory: Factory, app: FastAPI, client: TestClient) -> None:
    _principal_probe(app)
    patient_id = factory.patient()
    patient = factory.user(Role.patient, patient_id=patient_id)
    carer = factory.user(Role.caregiver)
    headers = factory.headers(carer)
    assert client.get("/_probe/principal", headers=headers).json()["caregiver_of"] == {}
    link = client.post("/api/v1/me/caregivers", headers=factory.headers(patient),
                       json={"caregiver_username": carer.username, "scopes": ["read_record", "manage_medications"]})
    assert client.get("/_probe/principal", headers=headers).json()["caregiver_of"] == {
        str(patient_id): ["manage_medications", "read_record"]}
    client.delete(f"/api/v1/me/caregivers/{link.json()['id']}", headers=factory.headers(patient))
    assert client.get("/_probe/principal", headers=headers).json()["caregiver_of"] == {}


def test_web_cookie_authenticates_and_dies_with_logout(
    factory: Factory, app: FastAPI, client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    _principal_probe(app)
    user = factory.user(Role.nurse, organization_id=factory.organization())
    result = _login(database, settings, app.state.keys, clock, user.username, kind="web")
    assert result.cookie_value
    client.cookies.set(SESSION_COOKIE, result.cookie_value)
    assert client.get("/_probe/principal").json()["role"] == "nurse"
    with database.unit_of_work() as s:
        me = Principal(user_id=user.id, role=Role.nurse, username=user.username, session_id=result.session_id)
        service.logout(s, me, now=clock.now())
    assert client.get("/_probe/principal").status_code == 401
    client.cookies.set(SESSION_COOKIE, result.cookie_value[:-2] + "00")
    assert client.get("/_probe/principal").status_code == 401


def test_admin_principal_needs_totp_until_the_session_is_two_factor(
    factory: Factory, app: FastAPI, client: TestClient, settings: Settings
) -> None:
    _principal_probe(app)
    admin = factory.user(Role.admin, organization_id=factory.organization())
    assert client.get("/_probe/principal", headers=factory.headers(admin, mfa=False)).json()["needs_totp"] is True
    assert client.get("/_probe/principal", headers=factory.headers(admin, mfa=True)).json()["needs_totp"] is False
    settings.require_totp_for_admins = False
    assert client.get("/_probe/principal", headers=factory.headers(admin, mfa=False)).json()["needs_totp"] is False


def test_the_service_contract_is_keyword_only() -> None:
    for name in ("login", "refresh", "register"):
        params = list(inspect.signature(getattr(identity, name)).parameters.values())
        assert params[0].name == "session"
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[1:]), name
    for name in ("logout", "change_password", "totp_begin", "totp_confirm", "totp_disable", "set_language",
                 "get_me", "create_staff", "change_role", "deactivate_user", "link_caregiver", "list_caregivers",
                 "revoke_caregiver"):
        params = list(inspect.signature(getattr(identity, name)).parameters.values())
        assert [p.name for p in params[:2]] == ["session", "principal"], name
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[2:]), name
    assert {f for f in service.LoginResult.__dataclass_fields__} >= {
        "user_id", "role", "session_id", "access_token", "refresh_token", "expires_in", "cookie_value"}
