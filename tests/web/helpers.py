"""Reading pages the way the tests need: the CSRF token, the document's landmarks, its form labels."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import httpx
from fastapi.testclient import TestClient

from tests.factories import DEFAULT_PASSWORD

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


@dataclass
class PageShape:
    tags: dict[str, int] = field(default_factory=dict)
    html_lang: str | None = None
    input_ids: list[str] = field(default_factory=list)
    label_fors: set[str] = field(default_factory=set)
    unlabelled_inputs: list[str] = field(default_factory=list)


class _ShapeParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.shape = PageShape()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.shape.tags[tag] = self.shape.tags.get(tag, 0) + 1
        if tag == "html":
            self.shape.html_lang = a.get("lang")
        if tag == "label" and a.get("for"):
            self.shape.label_fors.add(a["for"] or "")
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            if a.get("id"):
                self.shape.input_ids.append(a["id"] or "")
            elif not a.get("aria-label"):
                self.shape.unlabelled_inputs.append(str(a.get("name")))


def page_shape(html: str) -> PageShape:
    parser = _ShapeParser()
    parser.feed(html)
    return parser.shape


def assert_good_page(html: str, *, lang: str = "en") -> PageShape:
    """Every page: one <main>, one <h1>, no script, its language declared, a label for every input."""
    shape = page_shape(html)
    assert shape.tags.get("main") == 1, "exactly one <main>"
    assert shape.tags.get("h1") == 1, "exactly one <h1>"
    assert shape.tags.get("script", 0) == 0, "no <script> on any page"
    assert shape.html_lang == lang
    assert shape.tags.get("header") == 1 and shape.tags.get("footer") == 1 and shape.tags.get("nav", 0) >= 1
    assert 'class="skip-link" href="#main"' in html
    assert not shape.unlabelled_inputs, f"inputs without a label: {shape.unlabelled_inputs}"
    missing = [i for i in shape.input_ids if i not in shape.label_fors]
    assert not missing, f"inputs without a <label for>: {missing}"
    return shape


def sign_in(client: TestClient, username: str, password: str = DEFAULT_PASSWORD, *, totp_code: str | None = None,
            next: str | None = None) -> httpx.Response:
    """Sign in through the form, as a browser does; answers the POST's response (a 303 on success)."""
    form = client.get("/login")
    data = {"csrf_token": csrf_token(form.text), "username": username, "password": password}
    if totp_code is not None:
        data["totp_code"] = totp_code
    if next is not None:
        data["next"] = next
    response: httpx.Response = client.post("/login", data=data, follow_redirects=False)
    return response


def post_form(client: TestClient, page_path: str, action: str, data: dict[str, str]) -> httpx.Response:
    """GET the page that holds the form, then POST the form with that page's CSRF token."""
    page = client.get(page_path)
    response: httpx.Response = client.post(action, data={"csrf_token": csrf_token(page.text), **data},
                                           follow_redirects=False)
    return response
