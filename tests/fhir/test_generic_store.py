"""Resource types without a CareBridge home are kept whole as validated JSON, and reached only through the
patients policy on the patient they are about."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from carebridge.security import Role
from tests.factories import Clinic, Factory
from tests.fhir.core_support import basic, headers, ids, outcome, post


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


@pytest.fixture
def staff(factory: Factory, clinic: Clinic) -> dict[str, str]:
    return headers(factory, clinic.users[Role.practitioner])


def test_an_unmapped_type_is_kept_whole_and_read_back(client: TestClient, staff: dict[str, str],
                                                      clinic: Clinic) -> None:
    body = basic(clinic.patient_id, extension=[{"url": "urn:example:x", "valueString": "kept"}],
                 identifier=[{"system": "urn:example", "value": "B-1"}])
    created = client.post("/fhir/R4/Basic", json=body, headers=staff)
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    assert created.headers["etag"] == 'W/"1"'
    got = client.get(f"/fhir/R4/Basic/{rid}", headers=staff)
    assert got.status_code == 200
    kept = got.json()
    assert kept["extension"] == body["extension"] and kept["identifier"] == body["identifier"]
    assert kept["meta"]["versionId"] == "1" and kept["meta"]["lastUpdated"].startswith("2026-03-10T09:30")


def test_invalid_resources_are_refused_with_the_element(client: TestClient, staff: dict[str, str],
                                                        clinic: Clinic) -> None:
    bad = outcome(client.post("/fhir/R4/Goal", json={"resourceType": "Goal", "lifecycleStatus": "active",
                                                     "subject": {"reference": f"Patient/{clinic.patient_id}"}},
                              headers=staff), 422)
    assert bad["issue"][0]["expression"] == ["Goal.description"]
    code = outcome(client.post("/fhir/R4/Goal", json={"resourceType": "Goal", "lifecycleStatus": "nonsense",
                                                      "description": {"text": "walk"},
                                                      "subject": {"reference": f"Patient/{clinic.patient_id}"}},
                               headers=staff), 422, "code-invalid")
    assert code["issue"][0]["expression"] == ["Goal.lifecycleStatus"]
    date = outcome(client.post("/fhir/R4/Basic", json=basic(clinic.patient_id, created="yesterday"),
                               headers=staff), 422)
    assert date["issue"][0]["expression"] == ["Basic.created"]
    unknown = outcome(client.post("/fhir/R4/Basic", json=basic("not-a-uuid"), headers=staff), 422)
    assert unknown["issue"][0]["expression"] == ["Basic.subject"]
    outcome(client.post("/fhir/R4/Basic", json=basic("00000000-0000-0000-0000-000000000001"), headers=staff), 404)
    outcome(client.get("/fhir/R4/Spaceship", headers=staff), 404, "not-found")
    outcome(client.get("/fhir/R4/Parameters", headers=staff), 404)


def test_access_follows_the_patients_policy(client: TestClient, factory: Factory, clinic: Clinic,
                                            staff: dict[str, str]) -> None:
    mine = post(client, "Basic", basic(clinic.patient_id, "mine"), staff)["id"]
    theirs = post(client, "Basic", basic(clinic.other_patient_id, "theirs"),
                  headers(factory, factory.user(Role.practitioner, organization_id=clinic.other_org)))["id"]
    nobody = post(client, "Basic", basic(None, "a form"), staff)["id"]
    patient = headers(factory, clinic.users[Role.patient])
    caregiver = headers(factory, clinic.users[Role.caregiver])
    assert client.get(f"/fhir/R4/Basic/{mine}", headers=patient).status_code == 200
    assert client.get(f"/fhir/R4/Basic/{mine}", headers=caregiver).status_code == 200
    outcome(client.get(f"/fhir/R4/Basic/{theirs}", headers=patient), 403, "forbidden")
    outcome(client.get(f"/fhir/R4/Basic/{theirs}", headers=staff), 403, "forbidden")
    outcome(client.get(f"/fhir/R4/Basic/{nobody}", headers=patient), 403)
    assert client.get(f"/fhir/R4/Basic/{nobody}", headers=staff).status_code == 200
    # search shows each caller only what they may read
    assert set(ids(client.get("/fhir/R4/Basic", headers=staff).json())) == {mine, nobody}
    assert ids(client.get("/fhir/R4/Basic", headers=patient).json()) == [mine]
    assert ids(client.get(f"/fhir/R4/Basic?patient=Patient/{clinic.patient_id}", headers=caregiver).json()) \
        == [mine]
    outcome(client.get(f"/fhir/R4/Basic?subject=Patient/{clinic.other_patient_id}", headers=staff), 403)
    # a patient may not write their record's resources
    outcome(client.post("/fhir/R4/Basic", json=basic(clinic.patient_id), headers=patient), 403)
    admin = factory.headers(clinic.users[Role.admin])
    trail = client.get("/api/v1/audit/entries", params={"patient_id": str(clinic.patient_id)}, headers=admin)
    assert trail.status_code == 200, trail.text
    basic_reads = [e for e in trail.json()["items"] if e["resource_type"] == "Basic" and e["action"] == "read"]
    assert {e["user_id"] for e in basic_reads} >= {str(clinic.users[Role.patient].id),
                                                  str(clinic.users[Role.caregiver].id)}


def test_update_delete_and_search_by_last_updated(client: TestClient, staff: dict[str, str], clinic: Clinic,
                                                  clock: object) -> None:
    made = post(client, "Basic", basic(clinic.patient_id), staff)
    rid = made["id"]
    stale = client.put(f"/fhir/R4/Basic/{rid}", json={**made, "code": {"text": "v2"}},
                       headers={**staff, "If-Match": 'W/"9"'})
    outcome(stale, 412)
    ok = client.put(f"/fhir/R4/Basic/{rid}", json={**made, "code": {"text": "v2"}},
                    headers={**staff, "If-Match": 'W/"1"'})
    assert ok.status_code == 200 and ok.headers["etag"] == 'W/"2"' and ok.json()["code"]["text"] == "v2"
    assert ids(client.get("/fhir/R4/Basic?_lastUpdated=ge2026-03-10", headers=staff).json()) == [rid]
    assert ids(client.get("/fhir/R4/Basic?_lastUpdated=lt2026-03-10T09:00:00Z", headers=staff).json()) == []
    outcome(client.get("/fhir/R4/Basic?_lastUpdated=yesterday", headers=staff), 400)
    assert client.delete(f"/fhir/R4/Basic/{rid}", headers=staff).status_code == 204
    outcome(client.get(f"/fhir/R4/Basic/{rid}", headers=staff), 410, "deleted")
    assert client.delete(f"/fhir/R4/Basic/{rid}", headers=staff).status_code == 204  # idempotent
    assert ids(client.get("/fhir/R4/Basic", headers=staff).json()) == []
    # update-as-create keeps a client's id (an import keeps its ids)
    new_id = "5b7c2f5e-1d0a-4c59-9a55-5d0f3a0e9b11"
    put = client.put(f"/fhir/R4/Basic/{new_id}", json={**basic(clinic.patient_id), "id": new_id}, headers=staff)
    assert put.status_code == 201, put.text
    assert put.headers["location"].endswith(f"/Basic/{new_id}/_history/1")


def test_paging_is_stable_and_sortable(client: TestClient, staff: dict[str, str], clinic: Clinic) -> None:
    made = [post(client, "Basic", basic(clinic.patient_id, f"n{i}"), staff)["id"] for i in range(5)]
    first = client.get("/fhir/R4/Basic?_count=2", headers=staff).json()
    seen = ids(first)
    nxt = next(link["url"] for link in first["link"] if link["relation"] == "next")
    post(client, "Basic", basic(clinic.patient_id, "late"), staff)  # lands after the cursor (same instant, new id)
    while nxt:
        page = client.get(nxt.replace("http://testserver", ""), headers=staff).json()
        seen += ids(page)
        nxt = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
    assert len(seen) == len(set(seen)) and set(made) <= set(seen)
    desc = client.get("/fhir/R4/Basic?_sort=-_lastUpdated&_count=100", headers=staff).json()
    asc = client.get("/fhir/R4/Basic?_sort=_lastUpdated&_count=100", headers=staff).json()
    assert ids(desc) == list(reversed(ids(asc)))
    counted = client.get("/fhir/R4/Basic?_summary=count", headers=staff).json()
    assert counted["total"] == 6 and "entry" not in counted


def test_the_capability_statement_says_what_each_type_really_does(client: TestClient) -> None:
    cs = client.get("/fhir/R4/metadata").json()
    rest = cs["rest"][0]
    assert {i["code"] for i in rest["interaction"]} == {"transaction", "batch"}
    by_type = {r["type"]: r for r in rest["resource"]}
    basic_ = by_type["Basic"]
    assert {i["code"] for i in basic_["interaction"]} == {
        "read", "vread", "history-instance", "history-type", "search-type", "create", "update", "delete"}
    assert basic_["updateCreate"] is True and basic_["conditionalDelete"] == "single"
    assert {p["name"] for p in basic_["searchParam"]} == {"_id", "_lastUpdated", "patient", "subject"}
    assert basic_["searchInclude"] == ["Basic:patient", "Basic:subject"]
    patient = by_type["Patient"]
    assert "delete" not in {i["code"] for i in patient["interaction"]}
    assert patient["operation"][0]["name"] == "everything"
    assert "Basic:subject" in patient["searchRevInclude"]
    assert "MedicinalProduct" not in by_type and "OperationOutcome" not in by_type
    assert {p["name"] for p in rest["searchParam"]} >= {"_sort", "_elements", "_summary", "_lastUpdated"}


def test_a_merge_moves_kept_resources_to_the_survivor(client: TestClient, factory: Factory, clinic: Clinic,
                                                      staff: dict[str, str]) -> None:
    duplicate = factory.patient(organization_id=clinic.org, given="Meera", family="Iyer")
    rid = post(client, "Basic", basic(duplicate, "on the duplicate"), staff)["id"]
    desk = factory.headers(clinic.users[Role.front_desk])
    merged = client.post(f"/api/v1/patients/{duplicate}/merge", json={"into": str(clinic.patient_id)}, headers=desk)
    assert merged.status_code == 200, merged.text
    moved = client.get(f"/fhir/R4/Basic/{rid}", headers=staff).json()
    assert moved["subject"]["reference"] == f"Patient/{clinic.patient_id}" and moved["meta"]["versionId"] == "2"
    assert ids(client.get(f"/fhir/R4/Basic?patient={clinic.patient_id}", headers=staff).json()) == [rid]
    hist = client.get(f"/fhir/R4/Basic/{rid}/_history", headers=staff).json()
    assert [e["request"]["method"] for e in hist["entry"]] == ["PUT", "POST"]
