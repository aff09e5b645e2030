"""Helpers for the identity API tests: sign in through the real endpoint, read TOTP codes off the clock."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from carebridge.contexts.identity import totp
from carebridge.kernel.clock import FixedClock
from tests.factories import DEFAULT_PASSWORD


class Api:
    def __init__(self, client: TestClient, clock: FixedClock) -> None:
        self.client = client
        self.clock = clock

    def login(self, username: str, password: str = DEFAULT_PASSWORD, **extra: Any) -> Any:
        return self.client.post("/api/v1/auth/login", json={"username": username, "password": password, **extra})

    def tokens(self, username: str, password: str = DEFAULT_PASSWORD, **extra: Any) -> dict[str, Any]:
        r = self.login(username, password, **extra)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def bearer(self, username: str, password: str = DEFAULT_PASSWORD, **extra: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens(username, password, **extra)['access_token']}"}

    def code(self, secret: str, *, steps_ahead: int = 0) -> str:
        return totp.code_at(secret, totp.step_of(self.clock.now()) + steps_ahead)

    def enrol_totp(self, headers: dict[str, str]) -> str:
        r = self.client.post("/api/v1/me/totp/setup", headers=headers)
        assert r.status_code == 200, r.text
        secret: str = r.json()["secret"]
        r = self.client.post("/api/v1/me/totp/confirm", headers=headers, json={"code": self.code(secret)})
        assert r.status_code == 204, r.text
        return secret


@pytest.fixture
def api(client: TestClient, clock: FixedClock) -> Api:
    return Api(client, clock)


def problem(r: Any, status: int, slug: str) -> dict[str, Any]:
    """Assert a problem+json answer and return its body."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["type"].endswith("/" + slug), body
    assert body["detail"]
    return body
