"""Helpers shared by the FHIR core tests (history, generic store, transactions, result parameters)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

FHIR = "application/fhir+json"


def headers(factory: Any, user: Any) -> dict[str, str]:
    return {**factory.headers(user), "Content-Type": FHIR}


def basic(patient_id: Any | None = None, text: str = "note", **extra: Any) -> dict[str, Any]:
    """A `Basic` (no CareBridge home) about a patient, or about no one."""
    body: dict[str, Any] = {"resourceType": "Basic", "code": {"text": text}, **extra}
    if patient_id is not None:
        body["subject"] = {"reference": f"Patient/{patient_id}"}
    return body


def outcome(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR)
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    if code:
        assert body["issue"][0]["code"] == code, body
    return body


def ids(bundle: dict[str, Any], mode: str | None = "match") -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])
            if mode is None or e.get("search", {}).get("mode") == mode]


def post(client: TestClient, path: str, body: dict[str, Any], hdrs: dict[str, str]) -> dict[str, Any]:
    r = client.post(f"/fhir/R4/{path}", json=body, headers=hdrs)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out
