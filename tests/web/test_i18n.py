"""The catalogues cover every page string, Hindi is complete, and the language choice sticks."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from carebridge.security import Role
from carebridge.web.catalogue import extract_messages, python_files, template_files
from carebridge.web.i18n import LANGUAGES, choose_language, from_accept_language, read_catalog
from tests.factories import Factory
from tests.web.helpers import assert_good_page, csrf_token, post_form, sign_in

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def used_messages() -> dict[str, str]:
    return {text: f"{path}:{line}" for text, (path, line) in extract_messages().items()}


def test_the_extractor_finds_strings_in_templates_and_python() -> None:
    used = used_messages()
    assert len(template_files()) >= 10 and len(python_files()) >= 5
    assert any(p.name == "web.py" and p.parent.name == "identity" for p in python_files())
    assert "Skip to main content" in used  # base.html
    assert "Who looked at my record" in used  # audit template and nav
    assert "The username or password is wrong." in used  # identity/web.py, N_()


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_every_page_string_is_in_the_catalogue(lang: str) -> None:
    catalog = read_catalog(lang)
    ids = {m.id for m in catalog if m.id}
    missing = {text: where for text, where in used_messages().items() if text not in ids}
    assert not missing, f"add to locales/{lang}: {missing}"


def test_hindi_is_complete_and_keeps_placeholders() -> None:
    english = {m.id for m in read_catalog("en") if m.id}
    hindi = {m.id: m for m in read_catalog("hi") if m.id}
    assert set(hindi) == english, "both catalogues hold the same messages"
    for msgid, message in hindi.items():
        string = message.string
        assert isinstance(string, str) and string.strip(), f"empty Hindi msgstr for {msgid!r}"
        assert not message.fuzzy, msgid
        assert sorted(PLACEHOLDER.findall(str(msgid))) == sorted(PLACEHOLDER.findall(string)), msgid
        assert re.search(r"[\u0900-\u097F]", string), f"Hindi msgstr without Devanagari: {msgid!r}"


def test_no_stale_messages_linger_in_the_catalogue() -> None:
    used = used_messages()
    stale = [m.id for m in read_catalog("en") if m.id and m.id not in used]
    assert not stale, f"remove from both catalogues: {stale}"


@pytest.mark.parametrize(("header", "expected"), [
    ("hi-IN,hi;q=0.9,en;q=0.8", "hi"),
    ("en-GB,en;q=0.9,hi;q=0.5", "en"),
    ("fr-FR, hi;q=0.4", "hi"),
    ("hi;q=0, en;q=0.1", "en"),
    ("fr, de", None),
    ("", None),
    ("x" * 600, None),
    ("hi;q=abc", None),
])
def test_accept_language(header: str, expected: str | None) -> None:
    assert from_accept_language(header) == expected


def test_choice_order_account_then_cookie_then_browser_then_server() -> None:
    assert choose_language(user_language="hi", cookie="en", accept_language="en", default="en") == "hi"
    assert choose_language(user_language=None, cookie="hi", accept_language="en", default="en") == "hi"
    assert choose_language(user_language=None, cookie="xx", accept_language="hi", default="en") == "hi"
    assert choose_language(user_language=None, cookie=None, accept_language=None, default="hi") == "hi"


def test_browser_language_is_used_until_the_visitor_chooses(client: TestClient) -> None:
    page = client.get("/", headers={"Accept-Language": "hi-IN,hi;q=0.9"})
    assert_good_page(page.text, lang="hi")
    assert "CareBridge में आपका स्वागत है" in page.text


def test_anonymous_language_switch_sticks_in_a_cookie(client: TestClient) -> None:
    response = post_form(client, "/login", "/language", {"lang": "hi", "next": "/login"})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("cb_lang="))
    assert "cb_lang=hi" in cookie and "HttpOnly" in cookie and "Max-Age=31536000" in cookie
    page = client.get("/login")
    assert_good_page(page.text, lang="hi")
    assert "<h1>साइन इन करें</h1>" in page.text
    assert page.headers["content-language"] == "hi"
    assert_good_page(client.get("/register").text, lang="hi")  # and on the next page too
    back = post_form(client, "/", "/language", {"lang": "en", "next": "/"})
    assert back.status_code == 303
    assert_good_page(client.get("/").text, lang="en")


def test_unknown_language_or_foreign_next_changes_nothing_dangerous(client: TestClient) -> None:
    response = post_form(client, "/", "/language", {"lang": "xx", "next": "https://evil.example/"})
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert "cb_lang" not in response.headers.get("set-cookie", "")


def test_signed_in_language_is_saved_on_the_account(app: object, client: TestClient, factory: Factory) -> None:
    user = factory.user(Role.patient, patient_id=factory.patient())
    sign_in(client, user.username)
    response = post_form(client, "/profile", "/language", {"lang": "hi", "next": "/profile"})
    assert response.status_code == 303
    assert_good_page(client.get("/profile").text, lang="hi")
    # a fresh browser with no language cookie: the account's choice follows the user
    client.cookies.clear()
    assert_good_page(client.get("/login").text, lang="en")
    sign_in(client, user.username)
    dashboard = client.get("/dashboard")
    assert_good_page(dashboard.text, lang="hi")
    assert "नमस्ते" in dashboard.text
    # and signing out leaves the browser in that language
    post_form(client, "/dashboard", "/logout", {})
    assert_good_page(client.get("/").text, lang="hi")


def test_language_switch_from_a_form_answer_returns_to_a_page_that_exists(client: TestClient,
                                                                           factory: Factory) -> None:
    user = factory.user(Role.patient, patient_id=factory.patient())
    sign_in(client, user.username)
    answer = post_form(client, "/profile", "/profile/password", {"current_password": "wrong wrong wrong"})
    assert 'name="next" value="/profile"' in answer.text
    switched = client.post("/language", data={"csrf_token": csrf_token(answer.text), "lang": "hi",
                                              "next": "/profile"}, follow_redirects=False)
    assert switched.headers["location"] == "/profile"


def test_error_pages_are_translated(client: TestClient) -> None:
    client.cookies.set("cb_lang", "hi")
    page = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert_good_page(page.text, lang="hi")
    assert "पेज नहीं मिला" in page.text
