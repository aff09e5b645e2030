"""Bundle transactions (all or nothing, urn:uuid references resolved, spec processing order) and batches
(each entry on its own), and the conditional interactions they and the REST routes share."""

from __future__ import annotations

from typing import Any

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


def patient_body(family: str = "Nair", **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "name": [{"use": "official", "family": family, "given": ["Latha"]}],
            "gender": "female", "birthDate": "1990-01-01", **extra}


def entry(method: str, url: str, resource: dict[str, Any] | None = None, full_url: str | None = None,
          **request: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"request": {"method": method, "url": url, **request}}
    if resource is not None:
        out["resource"] = resource
    if full_url:
        out["fullUrl"] = full_url
    return out


def bundle(kind: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


PID = "urn:uuid:11111111-2222-4333-8444-555555555555"


def test_transaction_resolves_urn_uuid_references_in_any_order(client: TestClient, staff: dict[str, str]) -> None:
    note = {"resourceType": "Basic", "code": {"text": "intake"}, "subject": {"reference": PID}}
    # the note comes first but references the patient created later in the list
    r = client.post("/fhir/R4", json=bundle("transaction", entry("POST", "Basic", note),
                                             entry("POST", "Patient", patient_body(), PID)), headers=staff)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["type"] == "transaction-response"
    basic_resp, patient_resp = out["entry"]
    assert basic_resp["response"]["status"].startswith("201") and patient_resp["response"]["status"].startswith("201")
    pid = patient_resp["resource"]["id"]
    assert patient_resp["response"]["location"].startswith(f"Patient/{pid}/_history/")
    stored = client.get(f"/fhir/R4/Basic/{basic_resp['resource']['id']}", headers=staff).json()
    assert stored["subject"]["reference"] == f"Patient/{pid}"


def test_transaction_is_all_or_nothing(client: TestClient, staff: dict[str, str]) -> None:
    before = client.get("/fhir/R4/Patient?family=Nair&_summary=count", headers=staff).json()["total"]
    bad = {"resourceType": "Basic", "code": {"text": "x"}, "created": "not-a-date"}
    r = client.post("/fhir/R4", json=bundle("transaction", entry("POST", "Patient", patient_body()),
                                             entry("POST", "Basic", bad)), headers=staff)
    body = outcome(r, 422)
    assert body["issue"][0]["expression"][0] == "Bundle.entry[1]"
    assert "Basic.created" in body["issue"][0]["expression"]
    after = client.get("/fhir/R4/Patient?family=Nair&_summary=count", headers=staff).json()["total"]
    assert after == before
    dangling = client.post("/fhir/R4", json=bundle("transaction", entry("POST", "Basic", {
        "resourceType": "Basic", "code": {"text": "x"}, "subject": {"reference": "urn:uuid:nowhere"}})),
        headers=staff)
    assert "urn:uuid:nowhere" in outcome(dangling, 400)["issue"][0]["diagnostics"]


def test_transaction_order_and_conditional_create(client: TestClient, staff: dict[str, str],
                                                  clinic: Clinic) -> None:
    existing = post(client, "Basic", basic(clinic.patient_id, "old"), staff)
    ident = [{"system": "urn:example:mrn", "value": "TX-1"}]
    made = post(client, "Patient", patient_body("Menon", identifier=ident), staff)
    r = client.post("/fhir/R4", json=bundle(
        "transaction",
        entry("GET", f"Basic/{existing['id']}"),
        entry("PUT", f"Basic/{existing['id']}", {**existing, "code": {"text": "new"}}),
        entry("POST", "Patient", patient_body("Menon", identifier=ident), PID,
              ifNoneExist="identifier=urn:example:mrn|TX-1"),
        entry("POST", "Basic", basic(None, "about the match", subject={"reference": PID})),
    ), headers=staff)
    assert r.status_code == 200, r.text
    got, put, cond, note = r.json()["entry"]
    # GET runs last, so it sees the PUT's change; the conditional create found the existing patient
    assert got["resource"]["code"]["text"] == "new" and put["response"]["status"].startswith("200")
    assert cond["response"]["status"].startswith("200") and cond["resource"]["id"] == made["id"]
    assert note["resource"]["subject"]["reference"] == f"Patient/{made['id']}"


def test_batch_entries_succeed_or_fail_on_their_own(client: TestClient, staff: dict[str, str],
                                                    clinic: Clinic) -> None:
    r = client.post("/fhir/R4", json=bundle(
        "batch",
        entry("POST", "Basic", basic(clinic.patient_id, "kept")),
        entry("POST", "Basic", {"resourceType": "Basic", "code": {"text": "x"}, "created": "bad"}),
        entry("GET", "Basic/00000000-0000-0000-0000-000000000000"),
        entry("PATCH", "Basic/1"),
        entry("GET", f"Basic?patient=Patient/{clinic.patient_id}"),
    ), headers=staff)
    assert r.status_code == 200, r.text
    statuses = [e["response"]["status"][:3] for e in r.json()["entry"]]
    assert statuses == ["201", "422", "404", "405", "200"]
    assert r.json()["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert len(ids(r.json()["entry"][4]["resource"])) == 1
    outcome(client.post("/fhir/R4", json={"resourceType": "Bundle", "type": "collection"}, headers=staff), 400)
    outcome(client.post("/fhir/R4", json={"resourceType": "Patient"}, headers=staff), 400)


def test_conditional_create_update_and_delete_over_rest(client: TestClient, staff: dict[str, str],
                                                        clinic: Clinic) -> None:
    ident = [{"system": "urn:example:mrn", "value": "C-9"}]
    first = client.post("/fhir/R4/Patient", json=patient_body(identifier=ident),
                        headers={**staff, "If-None-Exist": "identifier=urn:example:mrn|C-9"})
    assert first.status_code == 201
    again = client.post("/fhir/R4/Patient", json=patient_body(identifier=ident),
                        headers={**staff, "If-None-Exist": "identifier=urn:example:mrn|C-9"})
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    upd = client.put("/fhir/R4/Patient?identifier=urn:example:mrn|C-9",
                     json=patient_body(identifier=ident, birthDate="1990-02-02"),
                     headers={**staff, "If-Match": 'W/"1"'})
    assert upd.status_code == 200, upd.text
    assert upd.json()["id"] == first.json()["id"] and upd.json()["birthDate"] == "1990-02-02"
    outcome(client.put("/fhir/R4/Patient", json=patient_body(), headers=staff), 400)
    made = post(client, "Basic", basic(clinic.patient_id, "gone soon", identifier=[{"value": "D-1"}]), staff)
    assert client.delete(f"/fhir/R4/Basic?_id={made['id']}", headers=staff).status_code == 204
    outcome(client.get(f"/fhir/R4/Basic/{made['id']}", headers=staff), 410)
    post(client, "Basic", basic(clinic.patient_id, "one"), staff)
    post(client, "Basic", basic(clinic.patient_id, "two"), staff)
    outcome(client.delete(f"/fhir/R4/Basic?patient=Patient/{clinic.patient_id}", headers=staff), 412)
    outcome(client.delete(f"/fhir/R4/Patient/{clinic.patient_id}", headers=staff), 405, "not-supported")


def test_malformed_bundles_are_operation_outcomes(client: TestClient, staff: dict[str, str]) -> None:
    a, b = "urn:uuid:aaaaaaaa-0000-4000-8000-000000000001", "urn:uuid:aaaaaaaa-0000-4000-8000-000000000002"
    cases: list[tuple[dict[str, Any], int]] = [
        (bundle("transaction", "nonsense"), 400),  # type: ignore[arg-type]
        (bundle("transaction", {"resource": {"resourceType": "Basic"}}), 400),
        (bundle("transaction", entry("POST", "", basic(None))), 400),
        (bundle("transaction", entry("POST", "Basic/123", basic(None))), 400),
        (bundle("transaction", entry("PUT", "Basic", basic(None))), 400),
        (bundle("transaction", entry("POST", "Patient", basic(None))), 400),
        (bundle("transaction", entry("GET", "Basic/1/_history/1/x")), 400),
        (bundle("transaction", entry("POST", "Basic", basic(None), a), entry("POST", "Basic", basic(None), a)), 400),
        (bundle("transaction", entry("POST", "Basic", basic(None, subject={"reference": b}), a),
                entry("POST", "Basic", basic(None, subject={"reference": a}), b)), 400),
        ({"resourceType": "Bundle", "type": "transaction", "entry": {"not": "a list"}}, 400),
        ({"resourceType": "Bundle", "type": "transaction", "entry": [entry("GET", "Basic")] * 501}, 413),
    ]
    for body, status in cases:
        outcome(client.post("/fhir/R4", json=body, headers=staff), status)
    cycle = client.post("/fhir/R4", json=cases[8][0], headers=staff)
    assert "cycle" in cycle.json()["issue"][0]["diagnostics"]


def test_conditional_references_resolve_to_the_one_match(client: TestClient, staff: dict[str, str]) -> None:
    made = post(client, "Patient", patient_body("Kulkarni", identifier=[{"system": "urn:example:mrn",
                                                                          "value": "REF-1"}]), staff)
    note = basic(None, "by identifier", subject={"reference": "Patient?identifier=urn:example:mrn|REF-1"})
    r = client.post("/fhir/R4", json=bundle("transaction", entry("POST", "Basic", note)), headers=staff)
    assert r.status_code == 200, r.text
    assert r.json()["entry"][0]["resource"]["subject"]["reference"] == f"Patient/{made['id']}"
    missing = basic(None, "nobody", subject={"reference": "Patient?identifier=urn:example:mrn|NONE"})
    body = outcome(client.post("/fhir/R4", json=bundle("transaction", entry("POST", "Basic", missing)),
                               headers=staff), 412)
    assert body["issue"][0]["expression"][0] == "Bundle.entry[0]"


def test_a_refused_entry_rolls_back_the_rest_but_its_refusal_stays_audited(
        client: TestClient, factory: Factory, staff: dict[str, str], clinic: Clinic) -> None:
    r = client.post("/fhir/R4", json=bundle("transaction",
                                             entry("POST", "Basic", basic(clinic.patient_id, "allowed")),
                                             entry("POST", "Basic", basic(clinic.other_patient_id, "refused"))),
                    headers=staff)
    outcome(r, 403, "forbidden")
    assert ids(client.get("/fhir/R4/Basic", headers=staff).json()) == []
    admin = factory.headers(clinic.users[Role.admin])

    def trail(patient_id: object) -> list[dict[str, Any]]:
        got = client.get("/api/v1/audit/entries", params={"patient_id": str(patient_id)}, headers=admin)
        assert got.status_code == 200, got.text
        return [e for e in got.json()["items"] if e["action"] == "create"]

    assert trail(clinic.patient_id) == []  # the rolled-back create left no success entry
    other_admin = factory.headers(factory.user(Role.admin, organization_id=clinic.other_org))
    denied = client.get("/api/v1/audit/entries", params={"patient_id": str(clinic.other_patient_id),
                                                          "outcome": "denied"}, headers=other_admin)
    assert denied.status_code == 200, denied.text
    assert [e["user_id"] for e in denied.json()["items"]] == [str(clinic.users[Role.practitioner].id)]
