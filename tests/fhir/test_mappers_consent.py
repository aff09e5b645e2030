"""Consent over FHIR: the patient's directives read back as R4 Consent, a Consent the patient posts takes effect
(the organization denied is refused at once), revocation by update, search by patient/status/actor, strangers
refused, and what the record cannot enforce answered 422 code-invalid (the importer keeps it)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carebridge.contexts.practitioners.models import Practitioner
from carebridge.fhir.cli import import_principal
from carebridge.fhir.importer import Importer
from carebridge.fhir.validate import check
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.security import Role
from tests.factories import Clinic, Factory
from tests.fhir.mapper_helpers import FHIR, search

ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
CATEGORY = "urn:carebridge:data-category"


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


@pytest.fixture
def me(factory: Factory, clinic: Clinic) -> dict[str, str]:
    return {**factory.headers(clinic.users[Role.patient]), "Content-Type": FHIR}


def consent(pid: uuid.UUID, *, kind: str = "deny", actor: str, purpose: list[str] | None = None,
            classes: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    provision: dict[str, Any] = {
        "type": kind, "actor": [{"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                                "v3-ParticipationType", "code": "PRCP"}]},
                                 "reference": {"reference": actor}}],
        "purpose": [{"system": ACT_REASON, "code": c} for c in purpose or []],
        "class": [{"system": CATEGORY, "code": c} for c in classes or []]}
    provision = {k: v for k, v in provision.items() if v}
    provision.update(extra.pop("provision", {}))
    return {"resourceType": "Consent", "status": "active",
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                  "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"reference": f"Patient/{pid}"}, "performer": [{"reference": f"Patient/{pid}"}],
            "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                       "code": "OPTOUT" if kind == "deny" else "OPTIN"}]},
            "provision": provision, **extra}


def conditions(pid: uuid.UUID) -> str:
    return f"/api/v1/patients/{pid}/conditions"


def test_a_directive_made_in_the_record_reads_back_as_consent(client: TestClient, factory: Factory, clinic: Clinic,
                                                              me: dict[str, str], database: Database,
                                                              clock: FixedClock) -> None:
    doctor = factory.user(Role.practitioner, organization_id=clinic.other_org)
    with database.unit_of_work() as s:
        record = Practitioner(id=uuid.uuid4(), user_id=doctor.id, given_name="Anil", family_name="Rao")
        s.add(record)
    until = clock.now() + timedelta(days=30)
    made = client.post(f"/api/v1/patients/{clinic.patient_id}/consents", headers=me, json={
        "grantee_type": "practitioner", "grantee_id": str(doctor.id), "categories": ["clinical", "vitals"],
        "purposes": ["treatment"], "expires_at": until.isoformat()}).json()
    got = client.get(f"/fhir/R4/Consent/{made['id']}", headers=me)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["status"] == "active" and body["patient"] == {"reference": f"Patient/{clinic.patient_id}"}
    assert body["category"][0]["coding"][0]["code"] == "59284-0"
    assert body["scope"]["coding"][0]["code"] == "patient-privacy"
    assert body["policyRule"]["coding"][0]["code"] == "OPTIN"
    p = body["provision"]
    assert p["type"] == "permit"
    assert p["actor"][0]["reference"]["reference"] == f"Practitioner/{record.id}"
    assert p["actor"][0]["reference"]["display"] == doctor.full_name
    assert p["purpose"] == [{"system": ACT_REASON, "code": "TREAT"}]
    assert [c["code"] for c in p["class"]] == ["clinical", "vitals"]
    assert p["period"]["end"] == until.isoformat().replace("+00:00", "Z")
    check("Consent", body)  # valid R4 as served
    # the patient's other kinds of access are not Consent: break-glass is refused as a read
    nurse = factory.headers(clinic.users[Role.practitioner])
    glass = client.post(f"/api/v1/patients/{clinic.patient_id}/break-glass", headers=nurse,
                        json={"reason": "unconscious in the emergency room"}).json()
    assert client.get(f"/fhir/R4/Consent/{glass['id']}", headers=me).status_code == 404
    assert search(client, me, f"Consent?patient={clinic.patient_id}") == [made["id"]]


def test_a_consent_posted_by_the_patient_takes_effect_and_revoking_it_undoes_it(
        client: TestClient, factory: Factory, clinic: Clinic, me: dict[str, str], clock: FixedClock) -> None:
    nurse = factory.headers(clinic.users[Role.nurse])
    assert client.get(conditions(clinic.patient_id), headers=nurse).status_code == 200
    r = client.post("/fhir/R4/Consent", headers=me,
                    json=consent(clinic.patient_id, actor=f"Organization/{clinic.org}", classes=["clinical"]))
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["provision"]["type"] == "deny" and made["status"] == "active"
    refused = client.get(conditions(clinic.patient_id), headers=nurse)
    assert refused.status_code == 403 and "withheld clinical" in refused.json()["detail"]
    assert client.get(f"/api/v1/patients/{clinic.patient_id}", headers=nurse).status_code == 200  # demographics
    overview = client.get(f"/api/v1/patients/{clinic.patient_id}/consents", headers=me).json()
    assert [d["id"] for d in overview["directives"]] == [made["id"]]

    changed = {**made, "provision": {**made["provision"], "type": "permit"}}
    r = client.put(f"/fhir/R4/Consent/{made['id']}", headers=me, json=changed)
    assert r.status_code == 422 and r.json()["issue"][0]["expression"] == ["Consent.provision"]
    clock.advance(minutes=1)
    r = client.put(f"/fhir/R4/Consent/{made['id']}", headers=me, json={**made, "status": "inactive"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "inactive"
    history = client.get(f"/fhir/R4/Consent/{made['id']}/_history", headers=me).json()
    assert [e["resource"]["status"] for e in history["entry"]] == ["inactive", "active"]
    assert client.get(conditions(clinic.patient_id), headers=nurse).status_code == 200
    r = client.put(f"/fhir/R4/Consent/{made['id']}", headers=me, json={**made, "status": "active"})
    assert r.status_code == 422 and r.json()["issue"][0]["expression"] == ["Consent.status"]

    p = f"Consent?patient={clinic.patient_id}"
    clock.advance(minutes=1)  # oldest first
    second = client.post("/fhir/R4/Consent", headers=me, json=consent(
        clinic.patient_id, kind="permit", actor=f"Organization/{clinic.other_org}", purpose=["TREAT"])).json()
    assert search(client, me, p) == [made["id"], second["id"]]
    assert search(client, me, f"{p}&status=inactive") == [made["id"]]
    assert search(client, me, f"{p}&status=active") == [second["id"]]
    assert search(client, me, f"{p}&status=http://hl7.org/fhir/consent-state-codes|active") == [second["id"]]
    assert search(client, me, f"{p}&actor=Organization/{clinic.other_org}") == [second["id"]]
    assert search(client, me, f"{p}&purpose={ACT_REASON}|TREAT") == [second["id"]]
    assert search(client, me, f"{p}&purpose={ACT_REASON}|HRESCH") == []
    # the outside organization now reads the record, for any category
    outsider = factory.headers(factory.user(Role.nurse, organization_id=clinic.other_org))
    assert client.get(conditions(clinic.patient_id), headers=outsider).status_code == 200


def test_others_cannot_read_search_or_make_the_patients_consent(client: TestClient, factory: Factory,
                                                                clinic: Clinic, me: dict[str, str]) -> None:
    made = client.post("/fhir/R4/Consent", headers=me,
                       json=consent(clinic.patient_id, actor=f"Organization/{clinic.org}")).json()
    other = factory.user(Role.patient, patient_id=clinic.other_patient_id)
    for headers in (factory.headers(other), factory.headers(clinic.users[Role.practitioner])):
        assert client.get(f"/fhir/R4/Consent/{made['id']}", headers=headers).status_code == 403
        assert client.get(f"/fhir/R4/Consent?patient={clinic.patient_id}", headers=headers).status_code == 403
        r = client.post("/fhir/R4/Consent", headers={**headers, "Content-Type": FHIR},
                        json=consent(clinic.patient_id, actor=f"Organization/{clinic.other_org}"))
        assert r.status_code == 403 and r.json()["resourceType"] == "OperationOutcome"
    for user in (other, clinic.users[Role.practitioner]):
        r = client.put(f"/fhir/R4/Consent/{made['id']}", headers={**factory.headers(user), "Content-Type": FHIR},
                       json={**made, "status": "inactive"})
        assert r.status_code == 403
    assert client.get(f"/fhir/R4/Consent/{made['id']}", headers=me).json()["status"] == "active"


@pytest.mark.parametrize(("change", "element"), [
    ({"scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "research"}]}},
     "Consent.scope"),
    ({"status": "draft"}, "Consent.status"),
    ({"provision": {"provision": [{"type": "permit"}]}}, "Consent.provision.provision"),
    ({"provision": {"period": {"start": "2015-01-01T00:00:00Z", "end": "2016-01-01T00:00:00Z"}}},
     "Consent.provision.period.end"),
    ({"provision": {"purpose": [{"system": ACT_REASON, "code": "MARKT"}]}}, "Consent.provision.purpose"),
    ({"provision": {"class": [{"system": "http://hl7.org/fhir/resource-types", "code": "MedicationRequest"}]}},
     "Consent.provision.class"),
    ({"provision": {"type": None}}, "Consent.provision.type"),
])
def test_what_the_record_cannot_enforce_is_code_invalid(client: TestClient, clinic: Clinic, me: dict[str, str],
                                                        change: dict[str, Any], element: str) -> None:
    body = consent(clinic.patient_id, actor=f"Organization/{clinic.org}")
    for key, value in change.items():
        body[key] = {**body[key], **value} if key == "provision" else value
    body["provision"] = {k: v for k, v in body["provision"].items() if v is not None}
    r = client.post("/fhir/R4/Consent", headers=me, json=body)
    assert r.status_code == 422, r.text
    issue = r.json()["issue"][0]
    assert (issue["code"], issue["expression"]) == ("code-invalid", [element])


def test_bad_input_is_an_operation_outcome_naming_the_element(client: TestClient, clinic: Clinic,
                                                              me: dict[str, str]) -> None:
    unknown = client.post("/fhir/R4/Consent", headers=me,
                          json=consent(clinic.patient_id, actor=f"Organization/{uuid.uuid4()}"))
    assert unknown.status_code == 422  # a grantee not stored here: the record cannot enforce it, import keeps it
    assert unknown.json()["issue"][0]["code"] == "code-invalid"
    assert unknown.json()["issue"][0]["expression"] == ["Consent.provision.actor[0].reference"]
    no_patient = consent(clinic.patient_id, actor=f"Organization/{clinic.org}")
    no_patient["patient"] = {"reference": "Group/1"}
    r = client.post("/fhir/R4/Consent", headers=me, json=no_patient)
    assert r.status_code == 422 and r.json()["issue"][0]["expression"] == ["Consent.patient"]
    r = client.post("/fhir/R4/Consent", headers=me, json={**no_patient, "status": 7})
    assert r.status_code in (400, 422) and r.json()["resourceType"] == "OperationOutcome"
    r = client.get("/fhir/R4/Consent", headers=me)
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["patient"]
    made = client.post("/fhir/R4/Consent", headers=me,
                       json=consent(clinic.patient_id, actor=f"Organization/{clinic.org}")).json()
    r = client.put(f"/fhir/R4/Consent/{uuid.uuid4()}", headers=me, json={**made, "status": "inactive"})
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["Consent.id"]
    r = client.put(f"/fhir/R4/Consent/{made['id']}", headers={**me, "If-Match": 'W/"1"'},
                   json={**made, "status": "inactive"})
    assert r.status_code == 412 and r.json()["issue"][0]["code"] == "conflict"
    assert client.get(f"/fhir/R4/Consent/{made['id']}", headers=me).json()["status"] == "active"


def test_a_kept_consent_is_served_and_searched_but_withholds_nothing(
        client: TestClient, factory: Factory, clinic: Clinic, me: dict[str, str], database: Database,
        clock: FixedClock, tmp_path: Path) -> None:
    nested = consent(clinic.patient_id, actor=f"Organization/{clinic.org}")
    nested["provision"]["provision"] = [{"type": "permit", "actor": nested["provision"]["actor"],
                                         "purpose": [{"system": ACT_REASON, "code": "ETREAT"}]}]
    refused = client.post("/fhir/R4/Consent", headers=me, json=nested)
    assert refused.status_code == 422 and refused.json()["issue"][0]["code"] == "code-invalid"
    (tmp_path / "consent.json").write_text(json.dumps({**nested, "id": "from-elsewhere"}))
    report = Importer(database, import_principal(database, clinic.org, clock.now()), clock).run([tmp_path])
    assert not report.rejected and report.kept_as_json == 1, report
    made = client.post("/fhir/R4/Consent", headers=me, json=consent(
        clinic.patient_id, kind="permit", actor=f"Organization/{clinic.other_org}")).json()
    p = f"Consent?patient={clinic.patient_id}"
    found = search(client, me, p)
    assert len(found) == 2 and found[0] == made["id"]
    kept = client.get(f"/fhir/R4/Consent/{found[1]}", headers=me).json()
    assert kept["provision"]["provision"] == nested["provision"]["provision"]
    assert search(client, me, f"{p}&actor=Organization/{clinic.org}") == [found[1]]
    assert search(client, me, f"{p}&status=inactive") == []
    nurse = factory.headers(clinic.users[Role.nurse])
    assert client.get(conditions(clinic.patient_id), headers=nurse).status_code == 200  # the kept deny is inert


def test_the_capability_statement_offers_consent_read_search_create_and_update(client: TestClient) -> None:
    rest = client.get("/fhir/R4/metadata").json()["rest"][0]
    entry = next(r for r in rest["resource"] if r["type"] == "Consent")
    assert {"read", "search-type", "create", "update"} <= {i["code"] for i in entry["interaction"]}
    assert {"patient", "status", "date", "actor"} <= {p["name"] for p in entry["searchParam"]}


def test_a_revocation_through_the_api_shows_at_once(client: TestClient, factory: Factory, clinic: Clinic,
                                                    me: dict[str, str]) -> None:
    """Revoked in the same second it was posted (same version): the record's status still wins over the body
    as it was received."""
    made = client.post("/fhir/R4/Consent", headers=me, json=consent(
        clinic.patient_id, actor=f"Organization/{clinic.org}", performer=[{"reference": "Patient/elsewhere"}]))
    assert made.status_code == 422 and made.json()["issue"][0]["expression"] == ["Consent.performer"]
    made = client.post("/fhir/R4/Consent", headers=me,
                       json=consent(clinic.patient_id, actor=f"Organization/{clinic.org}")).json()
    r = client.post(f"/api/v1/patients/{clinic.patient_id}/consents/{made['id']}/revoke", headers=me)
    assert r.status_code == 200, r.text
    assert client.get(f"/fhir/R4/Consent/{made['id']}", headers=me).json()["status"] == "inactive"


def test_a_linked_caregiver_is_named_by_identifier(client: TestClient, clinic: Clinic, me: dict[str, str]) -> None:
    carer = clinic.users[Role.caregiver]
    body = consent(clinic.patient_id, kind="permit", actor="", classes=["mental_health"])
    body["provision"]["actor"][0]["reference"] = {"identifier": {"system": "urn:carebridge:caregiver",
                                                                 "value": str(carer.id)}}
    r = client.post("/fhir/R4/Consent", headers=me, json=body)
    assert r.status_code == 201, r.text
    served = client.get(f"/fhir/R4/Consent/{r.json()['id']}", headers=me).json()
    assert served["provision"]["actor"][0]["reference"]["identifier"]["value"] == str(carer.id)
    overview = client.get(f"/api/v1/patients/{clinic.patient_id}/consents", headers=me).json()
    assert [(d["grantee_type"], d["grantee_id"], d["categories"]) for d in overview["directives"]] == [
        ("caregiver", str(carer.id), ["mental_health"])]
    body["provision"]["actor"][0]["reference"]["identifier"]["value"] = str(uuid.uuid4())  # not linked
    r = client.post("/fhir/R4/Consent", headers=me, json=body)
    assert r.status_code == 422 and r.json()["issue"][0]["expression"] == ["Consent.provision.actor[0].reference"]
