"""No API route can change or remove an audit entry."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

from carebridge.security import Role
from tests.factories import Factory

PREFIXES = ("/api/v1/audit", "/api/v1/me/access-log")


def _walk(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        nested = getattr(route, "original_router", None)  # FastAPI >= 0.16x wraps included routers
        if nested is not None:
            yield from _walk(nested.routes)


def audit_routes(app: FastAPI) -> list[APIRoute]:
    return [r for r in _walk(app.routes) if r.path.startswith(PREFIXES)]


def test_no_route_updates_or_deletes_audit_entries(app: FastAPI) -> None:
    routes = audit_routes(app)
    assert {r.path for r in routes} >= {"/api/v1/audit/entries", "/api/v1/audit/verify", "/api/v1/me/access-log"}
    writing = {"PUT", "PATCH", "DELETE"}
    writable = [(r.path, sorted(r.methods & writing)) for r in routes if r.methods & writing]
    assert writable == []


def test_the_openapi_document_agrees(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    audit_paths = {p: ops for p, ops in paths.items() if p.startswith(PREFIXES)}
    assert audit_paths and all(set(ops) <= {"get", "head", "options"} for ops in audit_paths.values())


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", ["/api/v1/audit/entries", "/api/v1/audit/verify", "/api/v1/me/access-log"])
def test_writing_methods_are_refused_as_problems(client: TestClient, factory: Factory, method: str, path: str) -> None:
    admin = factory.user(Role.admin)
    r = client.request(method, path, headers=factory.headers(admin), json={})
    assert r.status_code == 405
    assert r.headers["content-type"].startswith("application/problem+json")
