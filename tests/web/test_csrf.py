"""Every form post needs this visitor's CSRF token; without it the answer is a friendly 403 page."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from carebridge.security import Role
from carebridge.web.app import PAGE_MODULES
from carebridge.web.pages import home
from carebridge.web.render import WEB_TAG
from tests.factories import DEFAULT_PASSWORD, Factory
from tests.web.helpers import assert_good_page, csrf_token, sign_in

PAGE_ROUTERS = [home.router, *(m.router for m in PAGE_MODULES)]
POST_PATHS = sorted({r.path for router in PAGE_ROUTERS for r in router.routes
                     if isinstance(r, APIRoute) and "POST" in (r.methods or set())})


def _api_paths(app: FastAPI) -> set[str]:
    schema = app.openapi()
    return set(schema["paths"])


def test_every_form_handler_is_a_guarded_page_route() -> None:
    assert {"/login", "/logout", "/register", "/language", "/profile/password", "/profile/totp",
            "/profile/totp/confirm", "/profile/totp/disable"} <= set(POST_PATHS)
    for router in PAGE_ROUTERS:
        assert any(getattr(dep.dependency, "__name__", "") == "csrf_guard" for dep in router.dependencies)
        for route in router.routes:
            assert isinstance(route, APIRoute) and WEB_TAG in route.tags


def test_no_page_route_leaks_into_the_api_document(app: FastAPI) -> None:
    assert not set(POST_PATHS) & _api_paths(app)
    assert "/dashboard" not in _api_paths(app)


@pytest.mark.parametrize("path", POST_PATHS)
def test_post_without_token_is_refused_anonymous(client: TestClient, path: str) -> None:
    client.get("/")  # receives the anonymous CSRF cookie, but sends no token
    response = client.post(path, data={"username": "x", "password": "y", "lang": "hi"}, follow_redirects=False)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert_good_page(response.text)
    assert "This form has expired" in response.text
    assert "cb_session" not in response.headers.get("set-cookie", "")


@pytest.mark.parametrize("path", POST_PATHS)
def test_post_without_or_with_a_wrong_token_is_refused_signed_in(client: TestClient, factory: Factory,
                                                                 path: str) -> None:
    user = factory.user(Role.patient, patient_id=factory.patient())
    sign_in(client, user.username)
    for data in ({}, {"csrf_token": "0" * 40}, {"csrf_token": ""}):
        response = client.post(path, data={**data, "current_password": DEFAULT_PASSWORD, "lang": "hi"},
                               follow_redirects=False)
        assert response.status_code == 403, (path, data)
        assert "This form has expired" in response.text
    assert client.get("/dashboard").status_code == 200  # still signed in: nothing was done


def test_json_and_cross_site_bodies_are_refused(client: TestClient) -> None:
    page = client.get("/login")
    token = csrf_token(page.text)
    response = client.post("/login", json={"csrf_token": token, "username": "x", "password": "y"})
    assert response.status_code == 403


def test_anonymous_token_is_bound_to_this_browsers_cookie(app: FastAPI, client: TestClient,
                                                          factory: Factory) -> None:
    user = factory.user(Role.patient, patient_id=factory.patient())
    attacker = TestClient(app)
    stolen = csrf_token(attacker.get("/login").text)  # a token minted for the attacker's own cookie
    client.get("/login")
    response = client.post("/login", data={"csrf_token": stolen, "username": user.username,
                                           "password": DEFAULT_PASSWORD}, follow_redirects=False)
    assert response.status_code == 403
    assert "cb_session" not in response.headers.get("set-cookie", "")


def test_signed_in_token_is_bound_to_the_session(app: FastAPI, client: TestClient, factory: Factory) -> None:
    user = factory.user(Role.patient, patient_id=factory.patient())
    other = TestClient(app)
    sign_in(other, user.username)
    others_token = csrf_token(other.get("/profile").text)
    sign_in(client, user.username)  # the same account, another sign-in
    response = client.post("/language", data={"csrf_token": others_token, "lang": "hi"}, follow_redirects=False)
    assert response.status_code == 403


def test_the_anonymous_csrf_cookie_is_http_only_and_lax(client: TestClient) -> None:
    response = client.get("/")
    header = next(h for h in response.headers.get_list("set-cookie") if h.startswith("cb_csrf="))
    lowered = header.lower()
    assert "httponly" in lowered and "samesite=lax" in lowered and "path=/" in lowered
    # a returning visitor keeps theirs
    assert "cb_csrf=" not in client.get("/").headers.get("set-cookie", "")
