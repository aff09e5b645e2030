"""vread and _history over the versions written through the facade; history is shown only to those whose
read of the resource the mapper allows."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from carebridge.security import Role
from tests.factories import Clinic, Factory
from tests.fhir.core_support import basic, headers, outcome, post


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


@pytest.fixture
def staff(factory: Factory, clinic: Clinic) -> dict[str, str]:
    return headers(factory, clinic.users[Role.practitioner])


def patient_body(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "name": [{"use": "official", "family": "Das", "given": ["Anil"]}],
            "gender": "male", "birthDate": "1979-05-05", **extra}


def test_patient_versions_can_be_read_back(client: TestClient, staff: dict[str, str]) -> None:
    v1 = post(client, "Patient", patient_body(), staff)
    pid = v1["id"]
    v2 = client.put(f"/fhir/R4/Patient/{pid}", json={**v1, "birthDate": "1979-05-06"},
                    headers={**staff, "If-Match": 'W/"1"'}).json()
    assert v2["meta"]["versionId"] == "2"
    old = client.get(f"/fhir/R4/Patient/{pid}/_history/1", headers=staff)
    assert old.status_code == 200 and old.headers["etag"] == 'W/"1"'
    assert old.json()["birthDate"] == "1979-05-05"
    assert client.get(f"/fhir/R4/Patient/{pid}/_history/2", headers=staff).json()["birthDate"] == "1979-05-06"
    outcome(client.get(f"/fhir/R4/Patient/{pid}/_history/7", headers=staff), 404)
    hist = client.get(f"/fhir/R4/Patient/{pid}/_history", headers=staff).json()
    assert hist["type"] == "history"
    assert [e["response"]["etag"] for e in hist["entry"]] == ['W/"2"', 'W/"1"']
    assert [e["request"]["method"] for e in hist["entry"]] == ["PUT", "POST"]
    typed = client.get("/fhir/R4/Patient/_history", headers=staff).json()
    assert {e["resource"]["meta"]["versionId"] for e in typed["entry"] if e["resource"]["id"] == pid} == {"1", "2"}


def test_a_patient_registered_outside_the_facade_shows_its_current_version(
        client: TestClient, staff: dict[str, str], clinic: Clinic) -> None:
    hist = client.get(f"/fhir/R4/Patient/{clinic.patient_id}/_history", headers=staff).json()
    assert [e["resource"]["id"] for e in hist["entry"]] == [str(clinic.patient_id)]
    assert client.get(f"/fhir/R4/Patient/{clinic.patient_id}/_history/1", headers=staff).status_code == 200


def test_history_is_refused_to_those_the_read_refuses(client: TestClient, factory: Factory, clinic: Clinic,
                                                     staff: dict[str, str]) -> None:
    made = post(client, "Basic", basic(clinic.patient_id), staff)
    stranger = headers(factory, factory.user(Role.practitioner, organization_id=clinic.other_org))
    outcome(client.get(f"/fhir/R4/Basic/{made['id']}/_history", headers=stranger), 403, "forbidden")
    outcome(client.get(f"/fhir/R4/Basic/{made['id']}/_history/1", headers=stranger), 403)
    outcome(client.get(f"/fhir/R4/Patient/{clinic.patient_id}/_history", headers=stranger), 403)
    assert client.get("/fhir/R4/Basic/_history", headers=stranger).json()["entry"] == []
    assert len(client.get("/fhir/R4/Basic/_history", headers=staff).json()["entry"]) == 1


def test_deleted_resources_answer_gone_and_keep_their_history(client: TestClient, staff: dict[str, str],
                                                             clinic: Clinic) -> None:
    made = post(client, "Basic", basic(clinic.patient_id), staff)
    rid = made["id"]
    client.put(f"/fhir/R4/Basic/{rid}", json={**made, "code": {"text": "second"}}, headers=staff)
    assert client.delete(f"/fhir/R4/Basic/{rid}", headers=staff).status_code == 204
    outcome(client.get(f"/fhir/R4/Basic/{rid}", headers=staff), 410, "deleted")
    hist = client.get(f"/fhir/R4/Basic/{rid}/_history", headers=staff).json()
    assert [e["request"]["method"] for e in hist["entry"]] == ["DELETE", "PUT", "POST"]
    assert "resource" not in hist["entry"][0] and hist["entry"][0]["response"]["etag"] == 'W/"3"'
    assert client.get(f"/fhir/R4/Basic/{rid}/_history/2", headers=staff).json()["code"]["text"] == "second"
    outcome(client.get(f"/fhir/R4/Basic/{rid}/_history/3", headers=staff), 410)


def test_history_pages_and_parameters(client: TestClient, staff: dict[str, str], clinic: Clinic) -> None:
    made = post(client, "Basic", basic(clinic.patient_id), staff)
    for n in range(4):
        client.put(f"/fhir/R4/Basic/{made['id']}", json={**made, "code": {"text": f"v{n}"}}, headers=staff)
    first = client.get(f"/fhir/R4/Basic/{made['id']}/_history?_count=2", headers=staff).json()
    versions = [e["response"]["etag"] for e in first["entry"]]
    nxt = next(link["url"] for link in first["link"] if link["relation"] == "next")
    while nxt:
        page = client.get(nxt.replace("http://testserver", ""), headers=staff).json()
        versions += [e["response"]["etag"] for e in page["entry"]]
        nxt = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
    assert versions == [f'W/"{n}"' for n in (5, 4, 3, 2, 1)]
    outcome(client.get(f"/fhir/R4/Basic/{made['id']}/_history?_count=0", headers=staff), 400)
    outcome(client.get(f"/fhir/R4/Basic/{made['id']}/_history?_since=tuesday", headers=staff), 400)
    outcome(client.get(f"/fhir/R4/Basic/{made['id']}/_history?_cursor=zzz", headers=staff), 400)
    later = client.get(f"/fhir/R4/Basic/{made['id']}/_history?_since=2026-03-11T00:00:00Z", headers=staff).json()
    assert later["entry"] == []


def test_a_malformed_version_id_is_not_found(client: TestClient, staff: dict[str, str], clinic: Clinic) -> None:
    for vid in ("%00", "a%20b", "x" * 65):
        outcome(client.get(f"/fhir/R4/Patient/{clinic.patient_id}/_history/{vid}", headers=staff), 404)


def test_hostile_ids_never_reach_the_database(client: TestClient, staff: dict[str, str], clinic: Clinic) -> None:
    """A NUL byte in an id is refused by PostgreSQL with an error: it must be a 404 before any query."""
    nul = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": "Basic/\u0000/_history/\u0000"}},
        {"request": {"method": "DELETE", "url": "Basic/\u0000"}},
        {"request": {"method": "GET", "url": "Basic/\u0000/_history/1"}}]}
    r = client.post("/fhir/R4", json=nul, headers=staff)
    assert r.status_code == 200, r.text
    assert [e["response"]["status"][:3] for e in r.json()["entry"]] == ["404", "404", "404"]
    outcome(client.get("/fhir/R4/Basic/%00/_history", headers=staff), 404)
    outcome(client.delete("/fhir/R4/Basic/%00", headers=staff), 404)
    kept = client.post("/fhir/R4/Basic", json=basic(clinic.patient_id, "a\u0000b"), headers=staff)
    assert kept.status_code == 201 and kept.json()["code"]["text"] == "a\u0000b"
