"""People get friendly error pages; the JSON API and machine clients keep problem+json."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.web.helpers import assert_good_page, csrf_token

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_unknown_page_in_a_browser_is_a_friendly_404(client: TestClient) -> None:
    response = client.get("/no-such-page", headers=BROWSER)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert_good_page(response.text)
    assert "Page not found" in response.text
    assert "Traceback" not in response.text
    assert response.headers["content-security-policy"].startswith("default-src 'none'")


def test_api_paths_keep_problem_json_even_for_browsers(client: TestClient) -> None:
    response = client.get("/api/v1/no-such-thing", headers=BROWSER)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/not-found")


def test_machine_clients_keep_problem_json_outside_the_api(client: TestClient) -> None:
    response = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_api_authentication_errors_stay_json(client: TestClient) -> None:
    response = client.get("/api/v1/me", headers=BROWSER)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_wrong_method_on_a_page_is_a_friendly_405(client: TestClient) -> None:
    response = client.get("/logout")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert_good_page(response.text)
    assert "That action is not available here" in response.text


def test_oversized_form_field_is_a_friendly_422(client: TestClient) -> None:
    page = client.get("/login")
    response = client.post("/login", data={"csrf_token": csrf_token(page.text), "username": "x" * 5000,
                                           "password": "y"})
    assert response.status_code == 422
    assert_good_page(response.text)
    assert "Some details were not accepted" in response.text


def test_unexpected_failure_on_a_page_is_a_friendly_500(app: FastAPI, client: TestClient) -> None:
    def explode() -> None:
        raise RuntimeError("synthetic failure for the test")

    app.add_api_route("/explode", explode, methods=["GET"])
    page = client.get("/explode", headers=BROWSER)
    assert page.status_code == 500
    assert_good_page(page.text)
    assert "Something went wrong on our side" in page.text
    assert "synthetic failure" not in page.text
    api = client.get("/explode", headers={"Accept": "application/json"})
    assert api.status_code == 500
    assert api.headers["content-type"] == "application/problem+json"
    assert api.json()["type"].endswith("/internal")


def test_error_pages_link_home_and_to_the_right_next_step(client: TestClient) -> None:
    anonymous = client.get("/no-such-page", headers=BROWSER)
    assert 'href="/login"' in anonymous.text and 'href="/dashboard"' not in anonymous.text
    client.cookies.set("cb_session", "anything")
    signed = client.get("/no-such-page", headers=BROWSER)
    assert 'href="/dashboard"' in signed.text
