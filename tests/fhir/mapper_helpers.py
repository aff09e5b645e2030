"""Shared by the tests/fhir/test_mappers_*.py files: a clinic, staff headers, POST/GET helpers."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

FHIR = "application/fhir+json"


def ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def post(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(f"/fhir/R4/{body['resourceType']}", json=body, headers=headers)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def search(client: TestClient, headers: dict[str, str], path: str) -> list[str]:
    r = client.get(f"/fhir/R4/{path}", headers=headers)
    assert r.status_code == 200, r.text
    return ids(r.json())
