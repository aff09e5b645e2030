"""Patient/$everything: the patient, what each mapper finds by its patient parameter, and what the generic
store keeps about them; refused to whoever may not read the patient."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carebridge.fhir.interactions import SERVED
from carebridge.fhir.registry import Context, Found, Mapper, Query, SearchParam, Stored
from carebridge.kernel.errors import Forbidden
from carebridge.security import Role
from tests.factories import Clinic, Factory
from tests.fhir.core_support import basic, headers, ids, outcome, post


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


@pytest.fixture
def staff(factory: Factory, clinic: Clinic) -> dict[str, str]:
    return headers(factory, clinic.users[Role.practitioner])


def fake_mapper(resource_type: str, *, refuse: bool = False) -> tuple[Mapper, list[Query]]:
    """A mapper standing in for one the mappers engineer adds: it records what it was asked."""
    asked: list[Query] = []

    def search(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
        asked.append(query)
        if refuse:
            raise Forbidden("not yours")
        ref = query.one("patient") or ""
        body: dict[str, Any] = {"resourceType": resource_type, "id": str(uuid.uuid5(uuid.NAMESPACE_URL, ref)),
                                "subject": {"reference": ref}}
        return Found(items=[Stored(body=body, version="1", last_updated=ctx.now)], next_cursor=None)

    mapper = Mapper(type=resource_type, documentation="test", search=search, patient_param="patient",
                    search_params=(SearchParam("patient", "reference", "the patient"),))
    return mapper, asked


def test_everything_gathers_the_patients_resources(client: TestClient, factory: Factory, staff: dict[str, str],
                                                   clinic: Clinic, monkeypatch: pytest.MonkeyPatch) -> None:
    flag, asked = fake_mapper("Flag")
    refused, _ = fake_mapper("Goal", refuse=True)
    monkeypatch.setitem(SERVED._mappers, "Flag", flag)
    monkeypatch.setitem(SERVED._mappers, "Goal", refused)
    note = post(client, "Basic", basic(clinic.patient_id, "kept as JSON"), staff)["id"]
    post(client, "Basic", basic(clinic.other_patient_id, "someone else"),
         headers(factory, factory.user(Role.practitioner, organization_id=clinic.other_org)))
    r = client.get(f"/fhir/R4/Patient/{clinic.patient_id}/$everything", headers=staff)
    assert r.status_code == 200, r.text
    bundle = r.json()
    types = [e["resource"]["resourceType"] for e in bundle["entry"] if e["search"]["mode"] == "match"]
    assert types[0] == "Patient" and sorted(types[1:]) == ["Basic", "Flag"]
    assert note in ids(bundle)
    assert asked[0].params == {"patient": [f"Patient/{clinic.patient_id}"]}
    warning = next(e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "outcome")
    assert any("Goal left out" in i["diagnostics"] for i in warning["issue"])
    only = client.get(f"/fhir/R4/Patient/{clinic.patient_id}/$everything?_type=Basic", headers=staff).json()
    assert [e["resource"]["resourceType"] for e in only["entry"]] == ["Basic"]


def test_everything_is_refused_to_strangers_and_served_to_the_patient(
        client: TestClient, factory: Factory, clinic: Clinic, staff: dict[str, str]) -> None:
    post(client, "Basic", basic(clinic.patient_id), staff)
    stranger = headers(factory, factory.user(Role.practitioner, organization_id=clinic.other_org))
    outcome(client.get(f"/fhir/R4/Patient/{clinic.patient_id}/$everything", headers=stranger), 403, "forbidden")
    other_patient = headers(factory, factory.user(Role.patient, patient_id=clinic.other_patient_id))
    outcome(client.get(f"/fhir/R4/Patient/{clinic.patient_id}/$everything", headers=other_patient), 403)
    own = client.get(f"/fhir/R4/Patient/{clinic.patient_id}/$everything",
                     headers=headers(factory, clinic.users[Role.patient]))
    assert own.status_code == 200
    assert sorted(e["resource"]["resourceType"] for e in own.json()["entry"]) == ["Basic", "Patient"]
    outcome(client.get(f"/fhir/R4/Patient/{clinic.patient_id}/$everything?_since=soon", headers=staff), 400)
    outcome(client.get(f"/fhir/R4/Patient/{clinic.patient_id}/$everything?page=2", headers=staff), 400)
    outcome(client.get("/fhir/R4/Patient/00000000-0000-0000-0000-000000000000/$everything", headers=staff), 404)


def test_a_transaction_then_everything_and_includes_over_a_domain_mapper(client: TestClient,
                                                                         staff: dict[str, str]) -> None:
    """The whole path with a real domain mapper: the new patient's urn:uuid resolved in the Observation, then the
    Observation found by $everything, _include and _revinclude."""
    mapper = SERVED.mapped("Observation")
    if mapper is None or mapper.create is None or mapper.reference("patient") is None:
        pytest.skip("no Observation mapper with create and a patient reference yet")
    urn = "urn:uuid:0b9f3c1e-6a0d-4b8e-9a55-1f2e3d4c5b6a"
    obs = {"resourceType": "Observation", "status": "final",
           "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                     "code": "laboratory"}]}],
           "code": {"coding": [{"system": "http://loinc.org", "code": "2339-0", "display": "Glucose"}]},
           "subject": {"reference": urn}, "effectiveDateTime": "2026-03-01T08:00:00+00:00",
           "valueQuantity": {"value": 95.0, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"}}
    patient = {"resourceType": "Patient", "name": [{"use": "official", "family": "Joshi", "given": ["Asha"]}],
               "gender": "female", "birthDate": "1970-07-07"}
    r = client.post("/fhir/R4", headers=staff, json={"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "POST", "url": "Observation"}, "resource": obs},
        {"fullUrl": urn, "request": {"method": "POST", "url": "Patient"}, "resource": patient}]})
    assert r.status_code == 200, r.text
    oid, pid = (e["resource"]["id"] for e in r.json()["entry"])
    every = client.get(f"/fhir/R4/Patient/{pid}/$everything", headers=staff).json()
    assert {(e["resource"]["resourceType"], e["resource"]["id"]) for e in every["entry"]
            if e["search"]["mode"] == "match"} >= {("Patient", pid), ("Observation", oid)}
    inc = client.get(f"/fhir/R4/Observation?patient=Patient/{pid}&_include=Observation:patient", headers=staff)
    assert inc.status_code == 200, inc.text
    assert ids(inc.json()) == [oid] and ids(inc.json(), "include") == [pid]
    rev = client.get(f"/fhir/R4/Patient?_id={pid}&_revinclude=Observation:patient", headers=staff).json()
    assert ids(rev, "include") == [oid]
