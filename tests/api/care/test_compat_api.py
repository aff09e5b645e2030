"""The compatibility surface (`/diagnose`, `/geo`) replayed with exactly the bodies patient apps send."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from carebridge.security import Role
from tests.api.care.helpers import admin_headers, facility, issue_key
from tests.factories import Factory

DIAGNOSE_BODY = {"query": "fever and runny nose since yesterday", "query_id": {"query_id": "q-1"}}
GEO_BODY = {"location": {"lat": 12.97, "lng": 77.59}, "cust_id": {"cust_id": "c-1"}, "query_id": {"query_id": "q-1"}}
FACILITY_KEYS = {"name", "address", "geolocation", "contact", "facility_type", "ownership", "specialties", "stars",
                 "reviews", "rank", "estimated_time"}
ADDRESS_KEYS = {"name", "street", "city", "state", "zip", "country"}


@pytest.fixture
def admin(factory: Factory) -> dict[str, str]:
    return admin_headers(factory)


@pytest.fixture
def key(client: TestClient, admin: dict[str, str]) -> str:
    issued: str = issue_key(client, admin)["key"]
    return issued


def test_replayed_bodies_answer_ranked_facilities_in_the_old_shape(client: TestClient, admin: dict[str, str],
                                                                   key: str) -> None:
    far = facility(client, admin, lat=13.03, lng=77.59, name="Far Clinic")  # ~6.7 km north
    near = facility(client, admin, lat=12.975, lng=77.59, name="Near Clinic")  # ~0.6 km
    middle = facility(client, admin, lat=12.97, lng=77.62, name="Middle Clinic")  # ~3.3 km east
    facility(client, admin, lat=12.971, lng=77.591, name="Skin Only", specialties=["dermatology"])
    auth = {"Authorization": f"Bearer {key}"}

    stored = client.post("/diagnose", json=DIAGNOSE_BODY, headers=auth)
    assert stored.status_code == 201, stored.text
    assert stored.json()["query_id"] == {"query_id": "q-1"}
    assert stored.json()["triage"]["level"] == "self_care"

    answer = client.post("/geo", json=GEO_BODY, headers={"X-API-Key": key})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["query_id"] == {"query_id": "q-1"} and body["cust_id"] == {"cust_id": "c-1"}
    assert body["triage"]["specialty"] == "general_practice"
    found = body["facilities"]
    assert [f["name"] for f in found] == [near["name"], middle["name"], far["name"]]  # no dermatology-only one
    assert [f["rank"] for f in found] == [1, 2, 3]
    first: dict[str, Any] = found[0]
    assert set(first) == FACILITY_KEYS
    assert set(first["address"]) == ADDRESS_KEYS
    assert first["address"] == {"name": "Near Clinic", "street": near["address"]["line"], "city": "Bengaluru",
                                "state": "Karnataka", "zip": "560001", "country": "IN"}
    assert first["geolocation"] == {"lat": 12.975, "lng": 77.59}
    assert first["contact"] == "+91 80 2222 3333"
    assert first["facility_type"] == "hospital" and first["ownership"] == "public"
    assert first["specialties"] == ["general_practice"]
    assert first["stars"] is None and first["reviews"] is None
    # 0.556 km x 1.4 road factor / 30 km/h = 1.6 minutes
    assert first["estimated_time"] == pytest.approx(1.6, abs=0.1)
    times = [f["estimated_time"] for f in found]
    assert times == sorted(times)


def test_no_key_or_a_revoked_key_is_refused(client: TestClient, admin: dict[str, str]) -> None:
    issued = issue_key(client, admin)
    assert client.post("/diagnose", json=DIAGNOSE_BODY).status_code == 401
    assert client.post("/diagnose", json=DIAGNOSE_BODY, headers={"X-API-Key": "cbk_nothere_xyz"}).status_code == 401
    good = {"Authorization": f"Bearer {issued['key']}"}
    assert client.post("/diagnose", json=DIAGNOSE_BODY, headers=good).status_code == 201
    assert client.delete(f"/api/v1/api-keys/{issued['id']}", headers=admin).status_code == 200
    refused = client.post("/geo", json=GEO_BODY, headers=good)
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert client.post("/diagnose", json=DIAGNOSE_BODY, headers=good).status_code == 401


def test_a_tampered_secret_with_a_real_prefix_is_refused(client: TestClient, admin: dict[str, str],
                                                         key: str) -> None:
    tampered = key[:-4] + ("aaaa" if not key.endswith("aaaa") else "bbbb")
    assert client.post("/diagnose", json=DIAGNOSE_BODY, headers={"X-API-Key": tampered}).status_code == 401


def test_bad_bodies_name_the_field(client: TestClient, key: str) -> None:
    auth = {"X-API-Key": key}
    missing = client.post("/diagnose", json={"query_id": {"query_id": "q-1"}}, headers=auth)
    assert missing.status_code == 422
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in missing.json()["errors"]] == ["query"]
    bad_lat = client.post("/geo", json={**GEO_BODY, "location": {"lat": 91, "lng": 77.59}}, headers=auth)
    assert bad_lat.status_code == 422
    assert [e["field"] for e in bad_lat.json()["errors"]] == ["location.lat"]
    unknown = client.post("/geo", json={**GEO_BODY, "query_id": {"query_id": "never-stored"}}, headers=auth)
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["field"] == "query_id.query_id"


def test_one_apps_queries_are_invisible_to_another(client: TestClient, admin: dict[str, str], key: str) -> None:
    other = issue_key(client, admin, app_name="Other App")["key"]
    assert client.post("/diagnose", json=DIAGNOSE_BODY, headers={"X-API-Key": key}).status_code == 201
    assert client.post("/geo", json=GEO_BODY, headers={"X-API-Key": other}).status_code == 404


def test_scope_and_per_key_rate_limit(client: TestClient, admin: dict[str, str]) -> None:
    only_geo = issue_key(client, admin, scopes=["care:geo"])["key"]
    assert client.post("/diagnose", json=DIAGNOSE_BODY, headers={"X-API-Key": only_geo}).status_code == 403
    limited = issue_key(client, admin, rate_limit=2)["key"]
    auth = {"X-API-Key": limited}
    assert client.post("/diagnose", json=DIAGNOSE_BODY, headers=auth).status_code == 201
    assert client.post("/geo", json=GEO_BODY, headers=auth).status_code == 200
    third = client.post("/geo", json=GEO_BODY, headers=auth)
    assert third.status_code == 429
    assert int(third.headers["Retry-After"]) > 0


def test_keys_are_shown_once_and_listed_without_secrets(client: TestClient, admin: dict[str, str],
                                                        factory: Factory) -> None:
    issued = issue_key(client, admin)
    assert issued["key"].startswith(f"cbk_{issued['prefix']}_")
    listed = client.get("/api/v1/api-keys", headers=admin).json()["items"]
    mine = next(k for k in listed if k["id"] == issued["id"])
    assert "key" not in mine and mine["last_used_at"] is None
    client.post("/diagnose", json=DIAGNOSE_BODY, headers={"X-API-Key": issued["key"]})
    listed = client.get("/api/v1/api-keys", headers=admin).json()["items"]
    assert next(k for k in listed if k["id"] == issued["id"])["last_used_at"] is not None
    nurse = factory.headers(factory.user(Role.nurse))
    assert client.post("/api/v1/api-keys", json={"app_name": "x"}, headers=nurse).status_code == 403
