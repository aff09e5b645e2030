"""Signing in and out, registering, and the profile's password and two-step forms, through the pages."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie

import pyotp
from fastapi.testclient import TestClient

from carebridge.contexts.identity.models import User
from carebridge.kernel.clock import FixedClock
from carebridge.security import Role
from tests.factories import DEFAULT_PASSWORD, Factory
from tests.web.helpers import assert_good_page, csrf_token, post_form, sign_in

NEW_PASSWORD = "lantern orchard tidewater 47"


def _set_cookie(response_headers: list[str], name: str) -> SimpleCookie:
    for header in response_headers:
        if header.startswith(f"{name}="):
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            return jar
    raise AssertionError(f"no Set-Cookie for {name}")


def _patient(factory: Factory) -> User:
    return factory.user(Role.patient, patient_id=factory.patient())


def test_sign_in_sets_an_http_only_lax_session_cookie_and_goes_to_the_dashboard(client: TestClient,
                                                                                 factory: Factory) -> None:
    user = _patient(factory)
    response = sign_in(client, user.username)
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard"
    cookie = _set_cookie(response.headers.get_list("set-cookie"), "cb_session")["cb_session"]
    assert cookie["httponly"] is True
    assert cookie["samesite"].lower() == "lax"
    assert cookie["path"] == "/"
    assert not cookie["secure"]  # plain http here; see the https test
    assert int(cookie["max-age"]) == 12 * 3600
    assert client.get("/dashboard").status_code == 200


def test_session_cookie_is_secure_behind_an_https_proxy(client: TestClient, factory: Factory) -> None:
    user = _patient(factory)
    form = client.get("/login")
    response = client.post("/login", data={"csrf_token": csrf_token(form.text), "username": user.username,
                                           "password": DEFAULT_PASSWORD},
                           headers={"X-Forwarded-Proto": "https"}, follow_redirects=False)
    assert response.status_code == 303
    assert _set_cookie(response.headers.get_list("set-cookie"), "cb_session")["cb_session"]["secure"] is True


def test_wrong_password_shows_the_form_again_with_a_message_and_no_session(client: TestClient,
                                                                           factory: Factory) -> None:
    user = _patient(factory)
    response = sign_in(client, user.username, "not the password at all")
    assert response.status_code == 401
    assert_good_page(response.text)
    assert "The username or password is wrong." in response.text
    assert f'value="{user.username}"' in response.text  # the username is kept, the password is not
    assert "not the password at all" not in response.text
    assert "cb_session" not in response.headers.get("set-cookie", "")


def test_empty_sign_in_form_asks_for_both_fields(client: TestClient) -> None:
    response = post_form(client, "/login", "/login", {"username": "", "password": ""})
    assert response.status_code == 422
    assert "Enter your username and password." in response.text


def test_sign_in_returns_to_a_local_next_page_only(client: TestClient, factory: Factory) -> None:
    user = _patient(factory)
    assert sign_in(client, user.username, next="/profile").headers["location"] == "/profile"
    client.cookies.clear()
    assert sign_in(client, user.username, next="//evil.example/x").headers["location"] == "/dashboard"
    client.cookies.clear()
    assert sign_in(client, user.username, next="https://evil.example/").headers["location"] == "/dashboard"


def test_sign_out_ends_the_session_and_clears_the_cookie(client: TestClient, factory: Factory) -> None:
    user = _patient(factory)
    sign_in(client, user.username)
    old_cookie = client.cookies.get("cb_session")
    assert old_cookie
    response = post_form(client, "/dashboard", "/logout", {})
    assert response.status_code == 303
    assert response.headers["location"] == "/?done=signed-out"
    cleared = _set_cookie(response.headers.get_list("set-cookie"), "cb_session")["cb_session"]
    assert cleared.value in ("", '""') and int(cleared["max-age"]) == 0
    assert client.cookies.get("cb_session") is None
    home = client.get("/?done=signed-out")
    assert "You have signed out." in home.text
    # the old cookie, replayed, no longer signs anyone in
    client.cookies.set("cb_session", old_cookie)
    replay = client.get("/dashboard", follow_redirects=False)
    assert replay.status_code == 303 and replay.headers["location"].startswith("/login")


def test_sign_out_after_the_session_ended_still_clears_the_cookie(client: TestClient, factory: Factory,
                                                                  clock: FixedClock) -> None:
    user = _patient(factory)
    sign_in(client, user.username)
    dashboard = client.get("/dashboard")
    clock.advance(hours=13)  # past the web session's lifetime
    response = client.post("/logout", data={"csrf_token": csrf_token(dashboard.text)}, follow_redirects=False)
    assert response.status_code == 303
    assert client.cookies.get("cb_session") is None


def test_a_form_sent_after_the_session_ended_leads_back_to_its_page(client: TestClient, factory: Factory,
                                                                    clock: FixedClock) -> None:
    user = _patient(factory)
    sign_in(client, user.username)
    profile = client.get("/profile")
    clock.advance(hours=13)
    response = client.post("/profile/password", data={"csrf_token": csrf_token(profile.text),
                                                      "current_password": DEFAULT_PASSWORD},
                           follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fprofile"


def test_register_a_patient_then_sign_in(client: TestClient) -> None:
    form = client.get("/register")
    assert_good_page(form.text)
    response = client.post("/register", data={
        "csrf_token": csrf_token(form.text), "role": "patient", "full_name": "Kavya Nair", "username": "kavya.nair",
        "password": NEW_PASSWORD, "password_again": NEW_PASSWORD, "email": "kavya@example.com",
        "phone": "+91 98450 12345", "birth_date": "1992-07-14", "sex": "female",
    }, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/login?done=registered"
    login_page = client.get("/login?done=registered")
    assert "Your account is ready. Sign in to continue." in login_page.text
    assert sign_in(client, "kavya.nair", NEW_PASSWORD).status_code == 303
    dashboard = client.get("/dashboard")
    assert "Hello, Kavya Nair" in dashboard.text
    assert "Record number" in dashboard.text


def test_register_a_caregiver(client: TestClient) -> None:
    response = post_form(client, "/register", "/register", {
        "role": "caregiver", "full_name": "Ravi Nair", "username": "ravi.nair", "password": NEW_PASSWORD,
        "password_again": NEW_PASSWORD,
    })
    assert response.status_code == 303
    sign_in(client, "ravi.nair", NEW_PASSWORD)
    assert "People you care for" in client.get("/dashboard").text


def test_registration_errors_are_shown_beside_their_fields(client: TestClient, factory: Factory) -> None:
    taken = _patient(factory)
    response = post_form(client, "/register", "/register", {
        "role": "patient", "full_name": "", "username": "A", "password": "short", "password_again": "other",
        "email": "not-an-email", "phone": "call me", "birth_date": "yesterday",
    })
    assert response.status_code == 422
    assert_good_page(response.text)
    text = response.text
    assert "There is a problem" in text
    for field in ("full_name", "username", "password_again", "email", "phone", "birth_date"):
        assert f'id="f-{field}-error"' in text, field
        assert f'href="#f-{field}"' in text, field
    assert 'aria-invalid="true"' in text
    assert 'value="not-an-email"' in text  # what was typed is kept …
    assert "short" not in re.findall(r'value="([^"]*)"', text)  # … except passwords
    # the service's own checks: a weak password and a taken username
    weak = post_form(client, "/register", "/register", {
        "role": "patient", "full_name": "Kavya Nair", "username": "kavya2", "password": "password1234",
        "password_again": "password1234",
    })
    assert weak.status_code == 422
    assert "This password is too common" in weak.text
    dup = post_form(client, "/register", "/register", {
        "role": "patient", "full_name": "Kavya Nair", "username": taken.username, "password": NEW_PASSWORD,
        "password_again": NEW_PASSWORD,
    })
    assert dup.status_code == 409
    assert "This username is taken. Choose another." in dup.text


def test_registration_closed_says_so(client: TestClient) -> None:
    client.app.state.settings.self_registration = False  # type: ignore[attr-defined]
    page = client.get("/register")
    assert "does not allow self-registration" in page.text
    assert 'action="/register"' not in page.text
    response = post_form(client, "/login", "/register", {
        "role": "patient", "full_name": "Kavya Nair", "username": "kavya3", "password": NEW_PASSWORD,
        "password_again": NEW_PASSWORD,
    })
    assert response.status_code == 403
    assert "does not allow self-registration" in response.text


def test_change_password(client: TestClient, factory: Factory) -> None:
    user = _patient(factory)
    sign_in(client, user.username)
    wrong = post_form(client, "/profile", "/profile/password", {
        "current_password": "not it at all", "new_password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert wrong.status_code == 422
    assert_good_page(wrong.text)
    assert "The password is wrong." in wrong.text
    mismatch = post_form(client, "/profile", "/profile/password", {
        "current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD, "password_again": "different"})
    assert "Type the same password again." in mismatch.text
    ok = post_form(client, "/profile", "/profile/password", {
        "current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert ok.status_code == 303 and ok.headers["location"] == "/profile?done=password"
    assert "Your password has been changed." in client.get("/profile?done=password").text
    client.cookies.clear()
    assert sign_in(client, user.username, DEFAULT_PASSWORD).status_code == 401
    assert sign_in(client, user.username, NEW_PASSWORD).status_code == 303


def _enable_totp(client: TestClient, clock: FixedClock) -> str:
    setup = post_form(client, "/profile", "/profile/totp", {})
    assert setup.status_code == 200
    assert_good_page(setup.text)
    assert '<div class="qr" role="img" aria-label="QR code for your authenticator app"><svg ' in setup.text
    match = re.search(r'<p class="secret"><code>([A-Z2-7 ]+)</code>', setup.text)
    assert match
    secret = match.group(1).replace(" ", "")
    wrong = client.post("/profile/totp/confirm", data={"csrf_token": csrf_token(setup.text), "code": "000000"},
                        follow_redirects=False)
    assert wrong.status_code == 422
    assert "The code does not match" in wrong.text
    code = pyotp.TOTP(secret).at(clock.now())
    done = client.post("/profile/totp/confirm", data={"csrf_token": csrf_token(setup.text), "code": code},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/profile?done=totp-on"
    return secret


def test_two_step_sign_in_setup_and_the_code_field_on_sign_in(client: TestClient, factory: Factory,
                                                              clock: FixedClock) -> None:
    user = _patient(factory)
    sign_in(client, user.username)
    secret = _enable_totp(client, clock)
    profile = client.get("/profile?done=totp-on")
    assert "Two-step sign-in is now on." in profile.text
    assert "Two-step sign-in is on." in profile.text
    post_form(client, "/profile", "/logout", {})
    clock.advance(seconds=30)
    first = sign_in(client, user.username)
    assert first.status_code == 401
    assert_good_page(first.text)
    assert 'id="f-totp_code"' in first.text and 'autocomplete="one-time-code"' in first.text
    assert "cb_session" not in first.headers.get("set-cookie", "")
    bad = client.post("/login", data={"csrf_token": csrf_token(first.text), "username": user.username,
                                      "password": DEFAULT_PASSWORD, "totp_code": "123456", "show_totp": "1"},
                      follow_redirects=False)
    assert bad.status_code == 401 and "That code did not work." in bad.text
    good = client.post("/login", data={"csrf_token": csrf_token(first.text), "username": user.username,
                                       "password": DEFAULT_PASSWORD,
                                       "totp_code": pyotp.TOTP(secret).at(clock.now()), "show_totp": "1"},
                       follow_redirects=False)
    assert good.status_code == 303
    # and off again: password plus a fresh code
    clock.advance(seconds=30)
    off = post_form(client, "/profile", "/profile/totp/disable", {
        "password": DEFAULT_PASSWORD, "code": pyotp.TOTP(secret).at(clock.now())})
    assert off.status_code == 303 and off.headers["location"] == "/profile?done=totp-off"


def test_admin_with_two_step_sign_in_reaches_the_users_page(client: TestClient, factory: Factory,
                                                            clock: FixedClock) -> None:
    clinic = factory.clinic()
    admin = clinic.users[Role.admin]
    sign_in(client, admin.username)
    assert client.get("/admin/users").status_code == 403
    secret = _enable_totp(client, clock)
    post_form(client, "/profile", "/logout", {})
    clock.advance(seconds=30)
    assert sign_in(client, admin.username, totp_code=pyotp.TOTP(secret).at(clock.now())).status_code == 303
    users = client.get("/admin/users")
    assert users.status_code == 200
    assert_good_page(users.text)
    assert clinic.users[Role.nurse].username in users.text
    assert "Turn on two-step sign-in" not in client.get("/dashboard").text
