"""The pages render for each kind of visitor, with the landmarks and headers every page must carry."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from carebridge.security import Role
from tests.factories import Factory
from tests.web.helpers import assert_good_page, sign_in


def test_home_explains_and_offers_sign_in_and_registration(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert_good_page(response.text)
    assert "Welcome to CareBridge" in response.text
    assert 'href="/login"' in response.text and 'href="/register"' in response.text


def test_every_page_carries_security_and_privacy_headers(client: TestClient) -> None:
    response = client.get("/login")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "form-action 'self'" in csp
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["content-language"] == "en"


@pytest.mark.parametrize("path", ["/", "/login", "/register"])
def test_anonymous_pages_are_well_formed(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert_good_page(response.text)


@pytest.mark.parametrize("path", ["/dashboard", "/profile", "/access-log", "/admin/users"])
def test_signed_in_pages_send_anonymous_visitors_to_sign_in(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/login")
    if path != "/dashboard":
        assert f"next=%2F{path.strip('/').replace('/', '%2F')}" in location


def test_patient_dashboard_summarises_the_record_and_links_the_access_log(client: TestClient, factory: Factory) -> None:
    patient_id = factory.patient(given="Meera", family="Iyer")
    user = factory.user(Role.patient, patient_id=patient_id)
    assert sign_in(client, user.username).status_code == 303
    response = client.get("/dashboard")
    assert response.status_code == 200
    assert_good_page(response.text)
    assert f"Hello, {user.full_name}" in response.text
    assert str(patient_id) in response.text
    assert 'href="/access-log"' in response.text
    assert 'href="/profile"' in response.text
    assert 'href="/admin/users"' not in response.text


def test_caregiver_dashboard_lists_the_people_they_care_for(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    caregiver = clinic.users[Role.caregiver]
    sign_in(client, caregiver.username)
    response = client.get("/dashboard")
    assert_good_page(response.text)
    assert "People you care for" in response.text
    # the linked patient, by the name on their account (or their record's, if they have no account)
    assert clinic.users[Role.patient].full_name in response.text or "Meera Iyer" in response.text
    assert 'href="/access-log"' not in response.text


def test_staff_dashboard_shows_their_organization_and_no_patient_only_links(client: TestClient,
                                                                            factory: Factory) -> None:
    clinic = factory.clinic()
    sign_in(client, clinic.users[Role.nurse].username)
    response = client.get("/dashboard")
    assert_good_page(response.text)
    assert "Nurse" in response.text
    assert "Sunrise Clinic" in response.text
    assert 'href="/access-log"' not in response.text
    assert 'href="/admin/users"' not in response.text


def test_admin_without_two_step_sign_in_is_told_to_set_it_up(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    sign_in(client, clinic.users[Role.admin].username)
    dashboard = client.get("/dashboard")
    assert_good_page(dashboard.text)
    assert 'href="/admin/users"' in dashboard.text
    assert "Turn on two-step sign-in" in dashboard.text
    users = client.get("/admin/users")
    assert users.status_code == 403
    assert_good_page(users.text)
    assert 'href="/profile#two-step"' in users.text


def test_users_page_is_refused_to_non_admins(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    sign_in(client, clinic.users[Role.practitioner].username)
    response = client.get("/admin/users")
    assert response.status_code == 403
    assert_good_page(response.text)
    assert "You cannot open this page" in response.text


def test_profile_shows_account_password_two_step_and_language(client: TestClient, factory: Factory) -> None:
    user = factory.user(Role.patient, patient_id=factory.patient())
    sign_in(client, user.username)
    response = client.get("/profile")
    assert response.status_code == 200
    assert_good_page(response.text)
    for action in ('action="/profile/password"', 'action="/profile/totp"', 'action="/language"'):
        assert action in response.text
    assert user.username in response.text


def test_navigation_marks_the_current_page(client: TestClient) -> None:
    response = client.get("/login")
    assert '<a href="/login" aria-current="page">' in response.text


def test_signed_in_visitors_skip_the_sign_in_and_registration_forms(client: TestClient, factory: Factory) -> None:
    user = factory.user(Role.patient, patient_id=factory.patient())
    sign_in(client, user.username)
    for path in ("/login", "/register"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/dashboard"


def test_stylesheet_is_small_and_served(client: TestClient) -> None:
    home = client.get("/")
    href = home.text.split('rel="stylesheet" href="', 1)[1].split('"', 1)[0]
    css = client.get(href)
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert len(css.content) < 15 * 1024
    assert "immutable" in css.headers["cache-control"]  # versioned URL: fetched once on a slow network
    assert "immutable" not in client.get("/static/css/site.css").headers.get("cache-control", "")


def test_pages_are_small(client: TestClient) -> None:
    for path in ("/", "/login", "/register"):
        assert len(client.get(path).content) < 16 * 1024, path
