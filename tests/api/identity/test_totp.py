"""Two-factor sign-in: enrolment, login with a code, replay, disabling, and the admin requirement."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import select

from carebridge.contexts.identity import totp
from carebridge.contexts.identity.models import User
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.security import Role
from carebridge.settings import Settings
from tests.api.identity.conftest import Api, problem
from tests.factories import DEFAULT_PASSWORD, Factory

STAFF = {"username": "new.nurse", "password": "a long unusual pass phrase", "full_name": "Nita Nurse",
         "role": "nurse"}


def test_setup_returns_secret_uri_and_qr(factory: Factory, client: TestClient) -> None:
    user = factory.user(Role.patient)
    r = client.post("/api/v1/me/totp/setup", headers=factory.headers(user, mfa=False))
    assert r.status_code == 200
    body = r.json()
    assert len(body["secret"]) == 32
    assert body["otpauth_uri"].startswith("otpauth://totp/CareBridge:")
    assert f"secret={body['secret']}" in body["otpauth_uri"]
    assert body["qr_svg"].lstrip().startswith("<svg") and body["qr_svg"].rstrip().endswith("</svg>")


def test_secret_is_stored_encrypted(api: Api, factory: Factory, database: Database, settings: Settings) -> None:
    user = factory.user(Role.patient)
    secret = api.enrol_totp(factory.headers(user, mfa=False))
    with database.unit_of_work() as s:
        row = s.execute(select(User).where(User.id == user.id)).scalar_one()
        assert row.totp_enabled and row.totp_secret_enc is not None
        assert secret.encode() not in row.totp_secret_enc
        key = settings.secret_key.get_secret_value().encode() if settings.secret_key else b""
        assert totp.decrypt_secret(key, user.id, row.totp_secret_enc) == secret


def test_enrolled_user_needs_a_code_and_codes_cannot_be_replayed(
    api: Api, factory: Factory, client: TestClient, clock: FixedClock
) -> None:
    user = factory.user(Role.patient)
    secret = api.enrol_totp(factory.headers(user, mfa=False))
    clock.advance(seconds=60)
    problem(api.login(user.username), 401, "totp-required")
    assert "totp_code" in api.login(user.username).json()["detail"]
    problem(api.login(user.username, totp_code="000000" if api.code(secret) != "000000" else "111111"),
            401, "totp-required")
    code = api.code(secret)
    ok = api.login(user.username, totp_code=code)
    assert ok.status_code == 200
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {ok.json()['access_token']}"}).json()
    assert me["totp_enabled"] is True and me["session_mfa"] is True
    replay = problem(api.login(user.username, totp_code=code), 401, "totp-required")
    assert "already used" in replay["detail"]
    clock.advance(seconds=30)
    assert api.login(user.username, totp_code=api.code(secret)).status_code == 200


def test_a_code_from_the_previous_step_is_accepted_for_clock_drift(
    api: Api, factory: Factory, clock: FixedClock
) -> None:
    user = factory.user(Role.patient)
    secret = api.enrol_totp(factory.headers(user, mfa=False))
    clock.advance(seconds=120)
    assert api.login(user.username, totp_code=api.code(secret, steps_ahead=-1)).status_code == 200
    problem(api.login(user.username, totp_code=api.code(secret, steps_ahead=-3)), 401, "totp-required")


def test_confirm_with_wrong_code_leaves_totp_off(api: Api, factory: Factory, client: TestClient) -> None:
    user = factory.user(Role.patient)
    headers = factory.headers(user, mfa=False)
    secret = client.post("/api/v1/me/totp/setup", headers=headers).json()["secret"]
    wrong = "123456" if api.code(secret) != "123456" else "654321"
    body = problem(client.post("/api/v1/me/totp/confirm", headers=headers, json={"code": wrong}), 422, "validation")
    assert body["errors"][0]["field"] == "code"
    problem(client.post("/api/v1/me/totp/confirm", headers=headers, json={"code": "12ab56"}), 422, "validation")
    assert client.get("/api/v1/me", headers=headers).json()["totp_enabled"] is False
    assert api.login(user.username).status_code == 200


def test_confirm_without_setup_and_double_setup_are_conflicts(api: Api, factory: Factory, client: TestClient) -> None:
    user = factory.user(Role.patient)
    headers = factory.headers(user, mfa=False)
    problem(client.post("/api/v1/me/totp/confirm", headers=headers, json={"code": "123456"}), 409, "totp-not-set-up")
    api.enrol_totp(headers)
    problem(client.post("/api/v1/me/totp/setup", headers=headers), 409, "totp-already-enabled")


def test_disable_needs_password_and_a_fresh_code(
    api: Api, factory: Factory, client: TestClient, clock: FixedClock
) -> None:
    user = factory.user(Role.patient)
    headers = factory.headers(user, mfa=False)
    secret = api.enrol_totp(headers)
    used = api.code(secret)
    body = problem(client.post("/api/v1/me/totp/disable", headers=headers,
                               json={"password": "wrong password here", "code": used}), 422, "validation")
    assert body["errors"][0]["field"] == "password"
    body = problem(client.post("/api/v1/me/totp/disable", headers=headers,
                               json={"password": DEFAULT_PASSWORD, "code": used}), 422, "validation")
    assert "already used" in body["detail"]
    clock.advance(seconds=30)
    r = client.post("/api/v1/me/totp/disable", headers=headers,
                    json={"password": DEFAULT_PASSWORD, "code": api.code(secret)})
    assert r.status_code == 204
    assert api.login(user.username).status_code == 200


def test_admin_without_totp_signs_in_but_admin_actions_need_it(
    api: Api, factory: Factory, client: TestClient, clock: FixedClock
) -> None:
    admin = factory.user(Role.admin, organization_id=factory.organization())
    headers = api.bearer(admin.username)  # no code needed before enrolment
    me = client.get("/api/v1/me", headers=headers).json()
    assert me["totp_required"] is True and me["totp_enabled"] is False
    problem(client.post("/api/v1/users", headers=headers, json=STAFF), 403, "totp-required")
    problem(client.get("/api/v1/users", headers=headers), 403, "totp-required")
    problem(client.put(f"/api/v1/users/{admin.id}/role", headers=headers, json={"role": "nurse"}),
            403, "totp-required")
    secret = api.enrol_totp(headers)
    # confirming in this session is the second factor: admin rights open without signing in again
    assert client.get("/api/v1/me", headers=headers).json()["totp_required"] is False
    assert client.post("/api/v1/users", headers=headers, json=STAFF).status_code == 201
    # from now on signing in needs the code
    clock.advance(seconds=30)
    problem(api.login(admin.username), 401, "totp-required")
    fresh = api.bearer(admin.username, totp_code=api.code(secret))
    assert client.get("/api/v1/users", headers=fresh).status_code == 200


def test_other_password_only_sessions_of_an_admin_stay_restricted_after_enrolment(
    api: Api, factory: Factory, client: TestClient
) -> None:
    admin = factory.user(Role.admin, organization_id=factory.organization())
    elsewhere = api.bearer(admin.username)
    api.enrol_totp(factory.headers(admin, mfa=False))
    problem(client.get("/api/v1/users", headers=elsewhere), 403, "totp-required")


def test_admins_need_no_totp_when_the_server_does_not_require_it(
    api: Api, factory: Factory, client: TestClient, settings: Settings
) -> None:
    settings.require_totp_for_admins = False
    admin = factory.user(Role.admin, organization_id=factory.organization())
    headers = factory.headers(admin, mfa=False)
    assert client.get("/api/v1/me", headers=headers).json()["totp_required"] is False
    assert client.post("/api/v1/users", headers=headers, json=STAFF).status_code == 201


def test_wrong_codes_count_towards_throttling(api: Api, factory: Factory, settings: Settings) -> None:
    settings.login_max_failures_account = 2
    user = factory.user(Role.patient)
    secret = api.enrol_totp(factory.headers(user, mfa=False))
    wrong = "000000" if api.code(secret) != "000000" else "111111"
    for _ in range(settings.login_max_failures_account):
        problem(api.login(user.username, totp_code=wrong), 401, "totp-required")
    problem(api.login(user.username, totp_code=api.code(secret)), 429, "login-throttled")


def test_secret_bound_to_its_user() -> None:
    key = b"k" * 48
    blob = totp.encrypt_secret(key, uuid.UUID(int=1), "JBSWY3DPEHPK3PXP")
    assert totp.decrypt_secret(key, uuid.UUID(int=1), blob) == "JBSWY3DPEHPK3PXP"
    for user_id, secret_key, data in ((uuid.UUID(int=2), key, blob), (uuid.UUID(int=1), b"x" * 48, blob),
                                      (uuid.UUID(int=1), key, blob[:-1] + bytes([blob[-1] ^ 1])),
                                      (uuid.UUID(int=1), key, b"\x02" + blob[1:])):
        try:
            totp.decrypt_secret(secret_key, user_id, data)
        except totp.TotpSecretUnreadable:
            continue
        raise AssertionError("decrypted with the wrong user, key or a tampered blob")
