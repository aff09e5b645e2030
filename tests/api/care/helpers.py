"""Facilities around Bengaluru and integration keys, made through the real API as an admin would."""

from __future__ import annotations

import itertools
from typing import Any

from fastapi.testclient import TestClient

from carebridge.security import Role
from tests.factories import Factory

_n = itertools.count(1)
CENTRE = (12.97, 77.59)


def admin_headers(factory: Factory) -> dict[str, str]:
    return factory.headers(factory.user(Role.admin))


def facility(client: TestClient, admin: dict[str, str], *, lat: float, lng: float, **over: Any) -> dict[str, Any]:
    n = next(_n)
    body: dict[str, Any] = {
        "name": f"Care Test Facility {n}", "external_id": f"care-test:{n}", "type": "hospital", "ownership": "public",
        "emergency": False, "specialties": ["general_practice"], "contact": {"phone": "+91 80 2222 3333"},
        "address": {"line": f"{n} MG Road", "city": "Bengaluru", "state": "Karnataka", "postal_code": "560001",
                    "country": "IN"},
        "location": {"lat": lat, "lng": lng},
    }
    body.update(over)
    response = client.post("/api/v1/facilities", json=body, headers=admin)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def issue_key(client: TestClient, admin: dict[str, str], **over: Any) -> dict[str, Any]:
    response = client.post("/api/v1/api-keys", json={"app_name": "Patient App", **over}, headers=admin)
    assert response.status_code == 201, response.text
    issued: dict[str, Any] = response.json()
    return issued
