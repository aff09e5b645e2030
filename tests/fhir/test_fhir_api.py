"""The FHIR facade through HTTP: errors as OperationOutcome, metadata from the registry, Patient create, read,
update and search with paging, and the access policy and audit applied as for the REST API."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from carebridge.security import Role
from tests.factories import Clinic, Factory

FHIR = "application/fhir+json"


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


@pytest.fixture
def staff(factory: Factory, clinic: Clinic) -> dict[str, str]:
    return {**factory.headers(clinic.users[Role.practitioner]), "Content-Type": FHIR}


def patient(given: str = "Kavya", family: str = "Rao", **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "name": [{"use": "official", "family": family, "given": [given]}],
            "gender": "female", "birthDate": "1988-04-02", **extra}


def assert_outcome(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR)
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["severity"] == "error"
    if code:
        assert body["issue"][0]["code"] == code
    return body


def test_metadata_lists_what_the_registry_maps(client: TestClient) -> None:
    r = client.get("/fhir/R4/metadata")
    assert r.status_code == 200 and r.headers["content-type"].startswith(FHIR)
    cs = r.json()
    assert cs["resourceType"] == "CapabilityStatement" and cs["fhirVersion"] == "4.0.1"
    by_type = {res["type"]: res for res in cs["rest"][0]["resource"]}
    assert set(by_type) >= {"Patient", "Practitioner", "PractitionerRole", "Organization", "Location",
                            "HealthcareService", "Basic"}
    assert {i["code"] for i in by_type["Patient"]["interaction"]} >= {
        "read", "vread", "history-instance", "history-type", "search-type", "create", "update"}
    assert "kept as validated json" in by_type["Basic"]["documentation"].lower()
    assert "birthdate" in {p["name"] for p in by_type["Patient"]["searchParam"]}
    assert {i["code"] for i in by_type["PractitionerRole"]["interaction"]} == {"search-type"}


def test_smart_configuration_names_the_scoped_token_endpoint(client: TestClient) -> None:
    body = client.get("/.well-known/smart-configuration").json()
    assert "patient/*.read" in body["scopes_supported"] and body["token_endpoint"].endswith("/api/v1/auth/token")


def test_errors_are_operation_outcomes(client: TestClient, staff: dict[str, str], clinic: Clinic) -> None:
    assert_outcome(client.get("/fhir/R4/Patient"), 401, "login")
    assert_outcome(client.get("/fhir/R4/Spaceship", headers=staff), 404, "not-found")
    assert_outcome(client.get("/fhir/R4/Patient/not-a-uuid", headers=staff), 404)
    assert_outcome(client.get("/fhir/R4/Patient/00000000-0000-0000-0000-000000000000", headers=staff), 404)
    bad = assert_outcome(client.get("/fhir/R4/Patient?shoe-size=9", headers=staff), 400, "invalid")
    assert bad["issue"][0]["expression"] == ["shoe-size"]
    assert_outcome(client.get("/fhir/R4/Patient?birthdate=yesterday", headers=staff), 400)
    assert_outcome(client.get("/fhir/R4/Patient?_count=5000", headers=staff), 400)
    assert_outcome(client.get("/fhir/R4/Patient/x/_history/1/nope", headers=staff), 404)
    assert_outcome(client.get("/fhir/R4/metadata?_format=xml"), 406)
    invalid = assert_outcome(client.post("/fhir/R4/Patient", json=patient(birthDate="02/04/1988"), headers=staff),
                             422)
    assert invalid["issue"][0]["expression"] == ["Patient.birthDate"]
    nameless = assert_outcome(client.post("/fhir/R4/Patient", json={"resourceType": "Patient"}, headers=staff), 422)
    assert nameless["issue"][0]["expression"] == ["Patient.name"]
    assert_outcome(client.post("/fhir/R4/Patient", json={"resourceType": "Observation"}, headers=staff), 400)


def test_create_read_update_with_versions(client: TestClient, staff: dict[str, str]) -> None:
    body = patient(telecom=[{"system": "phone", "value": "+91 98111 22334"}],
                   address=[{"city": "Pune", "country": "IN", "line": ["12 MG Road"]}],
                   identifier=[{"system": "urn:example:mrn", "value": "A-77"}])
    created = client.post("/fhir/R4/Patient", json=body, headers=staff)
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    assert created.headers["location"].endswith(f"/fhir/R4/Patient/{pid}/_history/1")
    read = client.get(f"/fhir/R4/Patient/{pid}", headers=staff)
    assert read.status_code == 200 and read.headers["etag"] == 'W/"1"' and "last-modified" in read.headers
    got = read.json()
    assert got["name"][0]["family"] == "Rao" and got["birthDate"] == "1988-04-02"
    assert got["address"][0]["city"] == "Pune" and got["identifier"] == body["identifier"]
    changed = {**got, "birthDate": "1988-04-03"}
    stale = client.put(f"/fhir/R4/Patient/{pid}", json=changed, headers={**staff, "If-Match": 'W/"7"'})
    assert_outcome(stale, 412)
    ok = client.put(f"/fhir/R4/Patient/{pid}", json=changed, headers={**staff, "If-Match": 'W/"1"'})
    assert ok.status_code == 200, ok.text
    assert ok.headers["etag"] == 'W/"2"' and ok.json()["birthDate"] == "1988-04-03"
    again = client.put(f"/fhir/R4/Patient/{pid}", json=changed, headers={**staff, "If-Match": 'W/"1"'})
    assert_outcome(again, 412)


def test_search_params_and_paging(client: TestClient, staff: dict[str, str]) -> None:
    for n in range(5):
        extra = {"gender": "male"} if n == 4 else {}
        made = client.post("/fhir/R4/Patient", headers=staff,
                           json=patient(given=f"Zubin{n}", family="Mistry", birthDate=f"19{70 + n}-01-01", **extra))
        assert made.status_code == 201, made.text
    first = client.get("/fhir/R4/Patient?family=mistry&_count=2", headers=staff).json()
    assert first["type"] == "searchset" and len(first["entry"]) == 2
    seen = [e["resource"]["id"] for e in first["entry"]]
    nxt = next(link["url"] for link in first["link"] if link["relation"] == "next")
    # a patient registered between pages sorts before the cursor ("Aa" < "Zubin") and shifts nothing
    client.post("/fhir/R4/Patient", headers=staff, json=patient(given="Aarav", family="Mistry"))
    while nxt:
        page = client.get(nxt.replace("http://testserver", ""), headers=staff).json()
        seen += [e["resource"]["id"] for e in page.get("entry", [])]
        nxt = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
    assert len(seen) == len(set(seen)) == 5

    def count(query: str) -> int:
        r = client.get(f"/fhir/R4/Patient?{query}&_summary=count", headers=staff)
        assert r.status_code == 200, r.text
        return int(r.json()["total"])

    assert count("family=Mistry") == 6
    assert count("family=Mistry&birthdate=ge1972-01-01") == 4  # 1972, 1973, 1974 and Aarav (1988)
    assert count("family=Mistry&birthdate=lt1971") == 1
    assert count("family=Mistry&gender=male") == 1
    assert count("name=zubin3") == 1
    posted = client.post("/fhir/R4/Patient/_search", data={"family": "Mistry", "gender": "male"},
                         headers={"Authorization": staff["Authorization"]})
    assert posted.status_code == 200 and len(posted.json()["entry"]) == 1


def test_a_stranger_practitioner_is_refused_and_the_refusal_is_audited(
        client: TestClient, factory: Factory, clinic: Clinic, staff: dict[str, str]) -> None:
    stranger = factory.user(Role.practitioner, organization_id=factory.organization())
    headers = factory.headers(stranger)
    assert_outcome(client.get(f"/fhir/R4/Patient/{clinic.patient_id}", headers=headers), 403, "forbidden")
    searched = client.get(f"/fhir/R4/Patient?_id={clinic.patient_id}", headers=headers).json()
    assert searched.get("entry", []) == []
    admin = factory.headers(clinic.users[Role.admin])
    trail = client.get("/api/v1/audit/entries", params={"patient_id": str(clinic.patient_id), "outcome": "denied"},
                       headers=admin)
    assert trail.status_code == 200, trail.text
    denied = trail.json()["items"]
    assert len(denied) == 2 and {e["user_id"] for e in denied} == {str(stranger.id)}


def test_practitioner_organization_and_location_reads(client: TestClient, staff: dict[str, str],
                                                      clinic: Clinic) -> None:
    org = client.get(f"/fhir/R4/Organization/{clinic.org}", headers=staff)
    assert org.status_code == 200 and org.json()["resourceType"] == "Organization"
    orgs = client.get("/fhir/R4/Organization?name=riverside", headers=staff).json()
    assert [e["resource"]["id"] for e in orgs["entry"]] == [str(clinic.other_org)]
    assert_outcome(client.get("/fhir/R4/Location?name=x", headers=staff), 400)
    assert_outcome(client.get("/fhir/R4/Location?near=abc", headers=staff), 400)
    near = client.get("/fhir/R4/Location?near=18.52|73.85|10|km", headers=staff)
    assert near.status_code == 200 and near.json()["type"] == "searchset"
    assert_outcome(client.get("/fhir/R4/PractitionerRole/00000000-0000-0000-0000-000000000000", headers=staff), 405)
