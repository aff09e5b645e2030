"""SMART scopes: a scoped token is narrowed by its scopes on every FHIR path (and audited when refused), never
widened past roles and consent; a token without scopes keeps today's behaviour; refresh keeps the scopes."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from carebridge.contexts.audit.models import AuditEntry
from carebridge.contexts.identity.models import User
from carebridge.fhir import smart
from carebridge.kernel.db import Database
from carebridge.security import Principal, Role
from tests.factories import DEFAULT_PASSWORD, Clinic, Factory

FHIR = "application/fhir+json"


def _vital(patient_id: Any, value: float = 72) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "vital-signs"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": f"Patient/{patient_id}"}, "effectiveDateTime": "2026-03-01T08:00:00Z",
            "valueQuantity": {"value": value, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}}


def _token(client: TestClient, user: User, scope: str | None = None) -> dict[str, Any]:
    form = {"grant_type": "password", "username": user.username, "password": DEFAULT_PASSWORD}
    if scope is not None:
        form["scope"] = scope
    r = client.post("/api/v1/auth/token", data=form)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _h(token: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token['access_token']}", "Content-Type": FHIR}


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


@pytest.mark.parametrize(("scope", "ok"), [
    ("patient/*.read", True), ("user/Observation.write", True), ("patient/Observation.rs", True),
    ("openid fhirUser user/*.*", True), ("user/Observation.cruds", True),
    ("patient/*.fly", False), ("user/observation.read", False), ("admin/*.read", False), ("openid", False),
])
def test_scope_grammar(scope: str, ok: bool) -> None:
    """Malformed scopes are refused; scopes naming no resource access (`openid` alone) grant nothing."""
    try:
        grants = smart.parse(scope)
    except ValueError:
        grants = ()
    assert bool(grants) is ok


def test_read_scope_narrows_a_practitioner_to_reading(client: TestClient, clinic: Clinic,
                                                      database: Database) -> None:
    doc = clinic.users[Role.practitioner]
    full = _h(_token(client, doc))
    assert client.post("/fhir/R4/Observation", json=_vital(clinic.patient_id), headers=full).status_code == 201
    scoped = _token(client, doc, "user/Observation.read")
    assert scoped["scope"] == "user/Observation.read"
    hdrs = _h(scoped)
    found = client.get(f"/fhir/R4/Observation?patient=Patient/{clinic.patient_id}", headers=hdrs)
    assert found.status_code == 200 and len(found.json()["entry"]) == 1
    refused = client.post("/fhir/R4/Observation", json=_vital(clinic.patient_id, 80), headers=hdrs)
    assert refused.status_code == 403 and refused.json()["issue"][0]["code"] == "forbidden"
    assert "scopes" in refused.json()["issue"][0]["diagnostics"]
    assert client.get(f"/fhir/R4/Patient/{clinic.patient_id}", headers=hdrs).status_code == 403
    with database.unit_of_work() as s:
        denied = s.scalars(select(AuditEntry).where(AuditEntry.user_id == doc.id, AuditEntry.outcome == "denied",
                                                    AuditEntry.resource_type == "Observation")).all()
    assert denied and denied[0].detail["basis"] == "denied:scope"
    # an unscoped token of the same account is not narrowed
    assert client.post("/fhir/R4/Observation", json=_vital(clinic.patient_id, 81), headers=full).status_code == 201


def test_scopes_never_widen_roles_or_the_organization(client: TestClient, clinic: Clinic) -> None:
    hdrs = _h(_token(client, clinic.users[Role.practitioner], "user/*.*"))
    stranger = client.get(f"/fhir/R4/Patient/{clinic.other_patient_id}", headers=hdrs)
    assert stranger.status_code == 403
    pharmacist = _h(_token(client, clinic.users[Role.pharmacist], "user/*.write"))
    assert client.post("/fhir/R4/Observation", json=_vital(clinic.patient_id), headers=pharmacist).status_code == 403


def test_patient_scope_for_a_patient_reaches_only_their_own_record(client: TestClient, clinic: Clinic) -> None:
    token = _token(client, clinic.users[Role.patient], "patient/*.read")
    assert token["patient"] == str(clinic.patient_id)
    hdrs = _h(token)
    assert client.get(f"/fhir/R4/Patient/{clinic.patient_id}", headers=hdrs).status_code == 200
    assert client.get(f"/fhir/R4/Patient/{clinic.other_patient_id}", headers=hdrs).status_code in (403, 404)
    write = client.post("/fhir/R4/Basic", json={"resourceType": "Basic", "code": {"text": "x"},
                                                "subject": {"reference": f"Patient/{clinic.patient_id}"}},
                        headers=hdrs)
    assert write.status_code == 403


def test_everything_leaves_out_the_types_the_scopes_do_not_grant(client: TestClient, clinic: Clinic) -> None:
    doc = clinic.users[Role.practitioner]
    assert client.post("/fhir/R4/Observation", json=_vital(clinic.patient_id),
                       headers=_h(_token(client, doc))).status_code == 201
    hdrs = _h(_token(client, doc, "user/Patient.read user/Encounter.read"))
    bundle = client.get(f"/fhir/R4/Patient/{clinic.patient_id}/$everything", headers=hdrs).json()
    types = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert "Observation" not in types and "Patient" in types


def test_a_transaction_with_an_entry_outside_the_scopes_changes_nothing(client: TestClient, clinic: Clinic) -> None:
    hdrs = _h(_token(client, clinic.users[Role.practitioner], "user/Observation.write user/Observation.read"))
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "POST", "url": "Observation"}, "resource": _vital(clinic.patient_id)},
        {"request": {"method": "POST", "url": "Basic"}, "resource": {"resourceType": "Basic", "code": {"text": "x"}}}]}
    r = client.post("/fhir/R4", json=bundle, headers=hdrs)
    assert r.status_code == 403
    found = client.get(f"/fhir/R4/Observation?patient=Patient/{clinic.patient_id}", headers=hdrs).json()
    assert found.get("entry", []) == []


@pytest.mark.parametrize(("role", "scope"), [(Role.practitioner, "patient/*.read"), (Role.nurse, "system/*.read"),
                                             (Role.patient, "system/*.read")])
def test_scopes_the_account_may_not_hold_are_refused(client: TestClient, clinic: Clinic, role: Role,
                                                     scope: str) -> None:
    user = clinic.users[role]
    r = client.post("/api/v1/auth/token", data={"grant_type": "password", "username": user.username,
                                                 "password": DEFAULT_PASSWORD, "scope": scope})
    assert r.status_code == 400 and r.json()["type"].endswith("invalid-scope")


def test_token_endpoint_errors(client: TestClient, clinic: Clinic) -> None:
    user = clinic.users[Role.practitioner]
    assert client.post("/api/v1/auth/token", data={"grant_type": "client_credentials"}).status_code == 400
    assert client.post("/api/v1/auth/token", data={"grant_type": "password"}).status_code == 400
    bad = client.post("/api/v1/auth/token", data={"grant_type": "password", "username": user.username,
                                                   "password": "wrong password here"})
    assert bad.status_code == 401
    malformed = client.post("/api/v1/auth/token", data={"grant_type": "password", "username": user.username,
                                                         "password": DEFAULT_PASSWORD, "scope": "user/*.fly"})
    assert malformed.status_code == 400


def test_refresh_keeps_the_scopes(client: TestClient, clinic: Clinic) -> None:
    first = _token(client, clinic.users[Role.practitioner], "user/Observation.read")
    r = client.post("/api/v1/auth/token", data={"grant_type": "refresh_token",
                                                 "refresh_token": first["refresh_token"]})
    assert r.status_code == 200 and r.json()["scope"] == "user/Observation.read"
    hdrs = _h(r.json())
    assert client.post("/fhir/R4/Observation", json=_vital(clinic.patient_id), headers=hdrs).status_code == 403


def test_system_scope_for_an_admin(client: TestClient, clinic: Clinic) -> None:
    hdrs = _h(_token(client, clinic.users[Role.admin], "system/*.read"))
    assert client.get(f"/fhir/R4/Patient/{clinic.patient_id}", headers=hdrs).status_code == 200
    assert client.post("/fhir/R4/Observation", json=_vital(clinic.patient_id), headers=hdrs).status_code == 403


def test_allows_without_scope_is_unchanged() -> None:
    import uuid
    p = Principal(user_id=uuid.uuid4(), role=Role.nurse)
    assert smart.allows(p, "Observation", "create")
    assert not smart.allows(Principal(user_id=uuid.uuid4(), role=Role.nurse, scope="user/*.read"),
                            "Observation", "create")


def test_smart_configuration(client: TestClient) -> None:
    body = client.get("/.well-known/smart-configuration").json()
    assert body["token_endpoint"].endswith("/api/v1/auth/token")
    assert "permission-v2" in body["capabilities"] and "user/*.read" in body["scopes_supported"]
