"""Patients over HTTP: register, read, change, deactivate, sub-resources, and the error contract."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from carebridge.contexts.audit.models import AuditEntry
from carebridge.kernel.db import Database
from carebridge.security import Role
from tests.factories import Clinic, Factory

ABHA = "https://healthid.ndhm.gov.in"


def _body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "given_name": "José", "family_name": "Fernandes", "birth_date": "1984-05-06", "sex": "male",
        "preferred_languages": ["hi", "en"], "phone": "+91 98765 43210", "email": "jose@example.com",
        "address": {"line": "12 MG Road", "city": "Pune", "state": "Maharashtra", "postal_code": "411001",
                    "country": "IN", "geo": {"lat": 18.52, "lng": 73.85}},
        "identifiers": [{"system": ABHA, "value": "91-1234-5678-9012"}, {"system": "mrn", "value": "P-0001"}],
        "emergency_contacts": [{"name": "Maria Fernandes", "relationship": "spouse", "phone": "+91 98765 00000"}],
    }
    body.update(over)
    return body


def _problem(r: Any, status: int, slug: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    if slug:
        assert body["type"].endswith("/" + slug), body
    return body


def _audit(database: Database, **where: Any) -> list[AuditEntry]:
    with database.unit_of_work() as s:
        stmt = select(AuditEntry).order_by(AuditEntry.seq)
        for k, v in where.items():
            stmt = stmt.where(getattr(AuditEntry, k) == v)
        return list(s.scalars(stmt))


def test_front_desk_registers_reads_and_updates_a_patient(client: TestClient, factory: Factory,
                                                          database: Database) -> None:
    clinic = factory.clinic()
    h = factory.headers(clinic.users[Role.front_desk])
    r = client.post("/api/v1/patients", json=_body(), headers=h)
    assert r.status_code == 201, r.text
    created = r.json()
    pid = created["id"]
    assert r.headers["location"] == f"/api/v1/patients/{pid}"
    assert created["version"] == 1 and r.headers["etag"] == '"1"'
    assert created["address"]["geo"] == {"lat": 18.52, "lng": 73.85}
    systems = {i["system"]: i["value"] for i in created["identifiers"]}
    assert systems[ABHA] == "91123456789012"
    assert systems[f"urn:carebridge:organization:{clinic.org}:mrn"] == "P-0001"
    assert created["emergency_contacts"][0]["relationship"] == "spouse"

    # the clinic's practitioner can read the patient: creating linked them to the organization
    doc = factory.headers(clinic.users[Role.practitioner])
    r = client.get(f"/api/v1/patients/{pid}", headers=doc)
    assert r.status_code == 200 and r.json()["given_name"] == "José"

    r = client.patch(f"/api/v1/patients/{pid}", json={"preferred_name": "Joe"}, headers={**h, "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["preferred_name"] == "Joe" and r.json()["version"] == 2 and r.headers["etag"] == '"2"'
    r = client.patch(f"/api/v1/patients/{pid}", json={"version": 2, "address": None}, headers=h)
    assert r.status_code == 200 and r.json()["address"] is None and r.json()["version"] == 3

    actions = [(e.action, e.outcome) for e in _audit(database, patient_id=uuid.UUID(pid))]
    assert ("create", "success") in actions and ("read", "success") in actions
    assert actions.count(("update", "success")) == 2


def test_update_requires_the_current_version(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    h = factory.headers(clinic.users[Role.nurse])
    url = f"/api/v1/patients/{clinic.patient_id}"
    _problem(client.patch(url, json={"preferred_name": "M"}, headers=h), 428, "precondition-required")
    _problem(client.patch(url, json={"preferred_name": "M"}, headers={**h, "If-Match": '"7"'}), 412,
             "precondition-failed")
    body = _problem(client.patch(url, json={"version": 9, "preferred_name": "M"}, headers=h), 409, "stale-version")
    assert body["current_version"] == 1
    _problem(client.patch(url, json={"preferred_name": "M"}, headers={**h, "If-Match": "garbage"}), 422)
    _problem(client.patch(url, json={"version": 1, "given_name": None}, headers=h), 422)


def test_identifier_clash_names_the_other_patient_only_when_visible(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    h = factory.headers(clinic.users[Role.front_desk])
    client.post("/api/v1/patients", json=_body(), headers=h).raise_for_status()
    body = _problem(client.post("/api/v1/patients", json=_body(given_name="Other", birth_date="1990-01-01",
                                                                identifiers=[{"system": ABHA,
                                                                              "value": "91123456789012"}]),
                                headers=h), 409, "identifier-in-use")
    assert "patient_id" in body

    # staff of the other organization clash on the same ABHA number but learn no id
    other_desk = factory.user(Role.front_desk, organization_id=clinic.other_org)
    body = _problem(client.post("/api/v1/patients", json=_body(given_name="Other", birth_date="1990-01-01",
                                                                identifiers=[{"system": ABHA,
                                                                              "value": "91-1234-5678-9012"}]),
                                headers=factory.headers(other_desk)), 409, "identifier-in-use")
    assert "patient_id" not in body and "another patient" in body["detail"]


def test_possible_duplicate_is_refused_unless_forced(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    h = factory.headers(clinic.users[Role.front_desk])
    first = client.post("/api/v1/patients", json=_body(identifiers=[]), headers=h).json()
    # same person typed without accents and in capitals, phone written differently
    again = _body(given_name="JOSE", family_name="fernandes", phone="098765-43210", identifiers=[])
    body = _problem(client.post("/api/v1/patients", json=again, headers=h), 409, "possible-duplicate")
    assert [c["id"] for c in body["candidates"]] == [first["id"]]
    r = client.post("/api/v1/patients?force=true", json=again, headers=h)
    assert r.status_code == 201
    # a different phone means a different person
    r = client.post("/api/v1/patients", json=_body(identifiers=[], phone="+91 90000 00000"), headers=h)
    assert r.status_code == 201


def test_bad_input_is_a_problem_naming_the_field(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    h = factory.headers(clinic.users[Role.front_desk])
    cases: list[tuple[dict[str, Any], str]] = [
        (_body(birth_date="2026-03-11"), "birth_date"),  # the clock says 2026-03-10
        (_body(birth_date="1850-01-01"), "birth_date"),
        (_body(identifiers=[{"system": ABHA, "value": "1234"}]), "identifiers.0"),
        (_body(identifiers=[{"system": ABHA, "value": "9112345678901x"}]), "identifiers.0"),
        (_body(identifiers=[{"system": "not a uri", "value": "1"}]), "identifiers.0"),
        (_body(given_name="x" * 101), "given_name"),
        (_body(given_name="bad\x00name"), "given_name"),
        (_body(given_name=""), "given_name"),
        (_body(sex="robot"), "sex"),
        (_body(phone="call me"), "phone"),
        (_body(email="not-an-email"), "email"),
        (_body(preferred_languages=["english!"]), "preferred_languages.0"),
        (_body(preferred_languages=["hi"] * 21), "preferred_languages"),
        (_body(address={"geo": {"lat": 91, "lng": 0}}), "address.geo.lat"),
        (_body(address={"geo": {"lat": 0, "lng": -181}}), "address.geo.lng"),
        (_body(address={"country": "India"}), "address.country"),
        (_body(emergency_contacts=[{"name": "A", "phone": "1"}]), "emergency_contacts.0.phone"),
        (_body(deceased_at="2026-03-12T00:00:00Z", deceased=True), "deceased_at"),
        (_body(unknown_field=1), "unknown_field"),
    ]
    for body, field in cases:
        problem = _problem(client.post("/api/v1/patients", json=body, headers=h), 422, "validation")
        fields = [e["field"] for e in problem.get("errors", [])]
        assert any(f.startswith(field) for f in fields), (field, problem)
    _problem(client.post("/api/v1/patients", content=b"{not json", headers={**h, "content-type": "application/json"}),
             422)


def test_search_limits_and_bad_parameters(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    h = factory.headers(clinic.users[Role.nurse])
    _problem(client.get("/api/v1/patients?limit=101", headers=h), 422)
    _problem(client.get("/api/v1/patients?limit=0", headers=h), 422)
    _problem(client.get("/api/v1/patients?cursor=%%%", headers=h), 422)
    _problem(client.get("/api/v1/patients?cursor=WzFd", headers=h), 422)  # [1]: wrong shape
    _problem(client.get("/api/v1/patients?name=" + "a" * 101, headers=h), 422)
    _problem(client.get("/api/v1/patients?name=%21%21", headers=h), 422)
    _problem(client.get("/api/v1/patients?phone=123", headers=h), 422)
    _problem(client.get("/api/v1/patients?birth_date=yesterday", headers=h), 422)
    _problem(client.get("/api/v1/patients", headers={**h, "X-Purpose-Of-Use": "curiosity"}), 422)
    assert client.get("/api/v1/patients?limit=100", headers=h).status_code == 200


def test_authorization_matrix_for_one_patient(client: TestClient, factory: Factory, database: Database) -> None:
    clinic: Clinic = factory.clinic()
    mine, theirs = clinic.patient_id, clinic.other_patient_id
    allowed = {Role.practitioner, Role.nurse, Role.health_worker, Role.pharmacist, Role.front_desk, Role.admin,
               Role.patient, Role.caregiver}
    for role in Role:
        h = factory.headers(clinic.users[role])
        assert (client.get(f"/api/v1/patients/{mine}", headers=h).status_code == 200) == (role in allowed), role
        _problem(client.get(f"/api/v1/patients/{theirs}", headers=h), 403, "forbidden")
    denied = [e for e in _audit(database, patient_id=theirs) if e.outcome == "denied"]
    assert len(denied) == len(Role)
    assert client.get("/api/v1/patients/00000000-0000-4000-8000-000000000000",
                      headers=factory.headers(clinic.users[Role.admin])).status_code == 404
    assert client.get(f"/api/v1/patients/{mine}").status_code == 401


def test_caregiver_without_read_scope_is_refused(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    other_caregiver = factory.user(Role.caregiver)
    factory.link_caregiver(other_caregiver, clinic.patient_id, scopes=())
    h = factory.headers(other_caregiver)
    _problem(client.get(f"/api/v1/patients/{clinic.patient_id}", headers=h), 403)
    assert client.get("/api/v1/patients", headers=h).json()["items"] == []


def test_who_may_write(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    for role in (Role.pharmacist, Role.patient, Role.caregiver):
        _problem(client.post("/api/v1/patients", json=_body(), headers=factory.headers(clinic.users[role])), 403)
    # a patient may change their own contact details, a caregiver without update_profile may not
    own = factory.headers(clinic.users[Role.patient])
    r = client.patch(f"/api/v1/patients/{clinic.patient_id}", json={"version": 1, "email": "me@example.com"},
                     headers=own)
    assert r.status_code == 200, r.text
    _problem(client.patch(f"/api/v1/patients/{clinic.patient_id}", json={"version": 2, "email": "x@example.com"},
                          headers=factory.headers(clinic.users[Role.caregiver])), 403)
    for role in (Role.nurse, Role.practitioner):
        _problem(client.post(f"/api/v1/patients/{clinic.patient_id}/deactivate",
                             headers=factory.headers(clinic.users[role])), 403)


def test_deactivate_hides_from_search_and_blocks_changes(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    h = factory.headers(clinic.users[Role.front_desk])
    r = client.post(f"/api/v1/patients/{clinic.patient_id}/deactivate", json={"reason": "moved away"}, headers=h)
    assert r.status_code == 200 and r.json()["active"] is False
    assert client.get("/api/v1/patients?name=meera", headers=h).json()["items"] == []
    assert len(client.get("/api/v1/patients?name=meera&include_inactive=true", headers=h).json()["items"]) == 1
    _problem(client.patch(f"/api/v1/patients/{clinic.patient_id}", json={"version": 2, "preferred_name": "M"},
                          headers=h), 409, "patient-inactive")
    assert client.get(f"/api/v1/patients/{clinic.patient_id}", headers=h).status_code == 200


def test_identifier_and_contact_sub_resources(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    h = factory.headers(clinic.users[Role.front_desk])
    base = f"/api/v1/patients/{clinic.patient_id}"
    r = client.post(f"{base}/identifiers", json={"system": ABHA, "value": "12345678901234"}, headers=h)
    assert r.status_code == 201, r.text
    ident = r.json()
    _problem(client.post(f"{base}/identifiers", json={"system": ABHA, "value": "12-3456-7890-1234"}, headers=h), 409)
    listed = client.get(f"{base}/identifiers", headers=h).json()
    assert ident in listed and len(listed) == 2
    assert client.delete(f"{base}/identifiers/{ident['id']}", headers=h).status_code == 204
    _problem(client.delete(f"{base}/identifiers/{ident['id']}", headers=h), 404)

    r = client.post(f"{base}/emergency-contacts", json={"name": "Ravi Iyer", "relationship": "brother",
                                                          "phone": "+91 99999 12345"}, headers=h)
    assert r.status_code == 201, r.text
    contact = r.json()
    assert client.get(f"{base}/emergency-contacts", headers=h).json() == [contact]
    assert client.delete(f"{base}/emergency-contacts/{contact['id']}", headers=h).status_code == 204
    assert client.get(base, headers=h).json()["version"] == 5
    # the other organization's staff cannot add anything
    other = factory.user(Role.front_desk, organization_id=clinic.other_org)
    _problem(client.post(f"{base}/emergency-contacts", json={"name": "X", "phone": "+91 99999 12345"},
                         headers=factory.headers(other)), 403)


def test_openapi_documents_every_patient_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    ops = [(path, method, op) for path, item in paths.items() for method, op in item.items()
           if "patients" in op.get("tags", [])]
    assert len(ops) == 12
    for path, method, op in ops:
        assert op["summary"], (path, method)
        assert {"401", "422"} <= set(op["responses"]), (path, method)


def test_merge_over_http_and_following_the_merged_record(client: TestClient, factory: Factory,
                                                         database: Database) -> None:
    clinic = factory.clinic()
    desk = factory.headers(clinic.users[Role.front_desk])
    dup = client.post("/api/v1/patients?force=true", json=_body(given_name="Meera", family_name="Iyer",
                                                                 identifiers=[{"system": "mrn", "value": "OLD-1"}]),
                      headers=desk).json()
    nurse = factory.headers(clinic.users[Role.nurse])
    _problem(client.post(f"/api/v1/patients/{dup['id']}/merge", json={"into": str(clinic.patient_id)},
                         headers=nurse), 403)
    _problem(client.post(f"/api/v1/patients/{dup['id']}/merge", json={"into": "not-a-uuid"}, headers=desk), 422)
    r = client.post(f"/api/v1/patients/{dup['id']}/merge", json={"into": str(clinic.patient_id)},
                    headers={**desk, "X-Purpose-Of-Use": "operations"})
    assert r.status_code == 200, r.text
    assert "OLD-1" in [i["value"] for i in r.json()["identifiers"]]
    old = client.get(f"/api/v1/patients/{dup['id']}", headers=nurse).json()
    assert old["merged_into_id"] == str(clinic.patient_id) and old["active"] is False
    _problem(client.patch(f"/api/v1/patients/{dup['id']}", json={"version": old["version"], "given_name": "X"},
                          headers=desk), 409, "patient-merged")
    # the old MRN now finds the survivor
    found = client.get("/api/v1/patients", params={"identifier": "OLD-1"}, headers=nurse).json()["items"]
    assert [p["id"] for p in found] == [str(clinic.patient_id)]
    merges = _audit(database, action="merge", outcome="success")
    assert {e.patient_id for e in merges} == {uuid.UUID(dup["id"]), clinic.patient_id}
    assert all(e.purpose == "operations" for e in merges)


def test_search_over_http_records_purpose(client: TestClient, factory: Factory, database: Database) -> None:
    clinic = factory.clinic()
    h = {**factory.headers(clinic.users[Role.practitioner]), "X-Purpose-Of-Use": "emergency"}
    r = client.get("/api/v1/patients", params={"name": "मीरा"}, headers=h)
    assert r.status_code == 200
    assert [p["id"] for p in r.json()["items"]] == [str(clinic.patient_id)]
    (entry,) = _audit(database, action="search", patient_id=clinic.patient_id)
    assert entry.purpose == "emergency" and entry.role == "practitioner"


def test_default_purpose_follows_who_is_asking(client: TestClient, factory: Factory, database: Database) -> None:
    clinic = factory.clinic()
    for role in (Role.patient, Role.caregiver, Role.nurse):
        assert client.get(f"/api/v1/patients/{clinic.patient_id}",
                          headers=factory.headers(clinic.users[role])).status_code == 200
    purposes = {e.role: e.purpose for e in _audit(database, action="read", patient_id=clinic.patient_id)}
    assert purposes == {"patient": "patient_request", "caregiver": "family_request", "nurse": "treatment"}


def test_deceased_flag_and_date(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    h = factory.headers(clinic.users[Role.front_desk])
    r = client.post("/api/v1/patients", json=_body(identifiers=[], deceased_at="2026-03-01T04:00:00Z"), headers=h)
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["deceased"] is True and p["deceased_at"].startswith("2026-03-01T04:00:00")
    _problem(client.post("/api/v1/patients?force=true", json=_body(identifiers=[], deceased_at="2026-03-01T04:00:00"),
                         headers=h), 422)  # no time zone
    _problem(client.post("/api/v1/patients?force=true", json=_body(identifiers=[], deceased_at="1980-01-01T00:00:00Z"),
                         headers=h), 422)  # before the birth date
    r = client.patch(f"/api/v1/patients/{p['id']}", json={"version": 1, "deceased": False}, headers=h)
    assert r.status_code == 200 and r.json()["deceased"] is False and r.json()["deceased_at"] is None
