"""Caregiver links: the patient links by username with scopes, lists and revokes; the caregiver sees it."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import select

from carebridge.contexts.audit.models import AuditEntry
from carebridge.kernel.db import Database
from carebridge.security import Role
from tests.api.identity.conftest import Api, problem
from tests.factories import Factory


def test_link_list_and_revoke(factory: Factory, client: TestClient, api: Api, database: Database) -> None:
    patient_id = factory.patient(given="Meera", family="Iyer")
    patient = factory.user(Role.patient, patient_id=patient_id)
    carer = factory.user(Role.caregiver, username="ravi.care")
    p_headers, c_headers = factory.headers(patient), factory.headers(carer)
    assert client.get("/api/v1/me/patients", headers=c_headers).json() == []

    r = client.post("/api/v1/me/caregivers", headers=p_headers,
                    json={"caregiver_username": "Ravi.Care", "scopes": ["update_profile", "read_record"]})
    assert r.status_code == 201, r.text
    link = r.json()
    assert link["caregiver_username"] == "ravi.care" and link["patient_id"] == str(patient_id)
    assert link["scopes"] == ["read_record", "update_profile"] and link["revoked_at"] is None

    listed = client.get("/api/v1/me/caregivers", headers=p_headers).json()
    assert [x["id"] for x in listed] == [link["id"]]
    cared = client.get("/api/v1/me/patients", headers=c_headers).json()
    assert cared == [{"link_id": link["id"], "patient_id": str(patient_id), "patient_name": patient.full_name,
                      "scopes": ["read_record", "update_profile"], "linked_at": cared[0]["linked_at"]}]

    # re-linking replaces the scopes
    r = client.post("/api/v1/me/caregivers", headers=p_headers,
                    json={"caregiver_username": "ravi.care", "scopes": ["manage_appointments"]})
    assert r.json()["id"] == link["id"] and r.json()["scopes"] == ["manage_appointments"]

    assert client.delete(f"/api/v1/me/caregivers/{link['id']}", headers=p_headers).status_code == 204
    assert client.get("/api/v1/me/patients", headers=c_headers).json() == []
    assert client.get("/api/v1/me/caregivers", headers=p_headers).json() == []
    history = client.get("/api/v1/me/caregivers", headers=p_headers, params={"include_revoked": "true"}).json()
    assert history[0]["revoked_at"] is not None
    problem(client.delete(f"/api/v1/me/caregivers/{link['id']}", headers=p_headers), 404, "not-found")
    with database.unit_of_work() as s:
        actions = set(s.execute(select(AuditEntry.action).where(AuditEntry.patient_id == patient_id)).scalars())
        assert {"caregiver_link", "caregiver_revoke"} <= actions


def test_only_caregiver_accounts_can_be_linked(factory: Factory, client: TestClient) -> None:
    patient = factory.user(Role.patient, patient_id=factory.patient())
    nurse = factory.user(Role.nurse, organization_id=factory.organization())
    other_patient = factory.user(Role.patient, patient_id=factory.patient())
    headers = factory.headers(patient)
    for name in (nurse.username, other_patient.username, "nobody-at-all"):
        problem(client.post("/api/v1/me/caregivers", headers=headers,
                            json={"caregiver_username": name, "scopes": ["read_record"]}), 404, "not-found")
    body = problem(client.post("/api/v1/me/caregivers", headers=headers,
                               json={"caregiver_username": "x", "scopes": []}), 422, "validation")
    assert body["errors"][0]["field"] == "scopes"
    problem(client.post("/api/v1/me/caregivers", headers=headers,
                        json={"caregiver_username": "x", "scopes": ["everything"]}), 422, "validation")


def test_only_patients_manage_caregivers(factory: Factory, client: TestClient) -> None:
    clinic = factory.clinic()
    carer = factory.user(Role.caregiver)
    for role, user in clinic.users.items():
        if role is Role.patient:
            continue
        problem(client.post("/api/v1/me/caregivers", headers=factory.headers(user),
                            json={"caregiver_username": carer.username, "scopes": ["read_record"]}),
                403, "forbidden")
    problem(client.get("/api/v1/me/patients", headers=factory.headers(clinic.users[Role.patient])), 403, "forbidden")


def test_a_patient_cannot_revoke_another_patients_link(factory: Factory, client: TestClient) -> None:
    clinic = factory.clinic()  # its caregiver is linked to clinic.patient_id
    outsider = factory.user(Role.patient, patient_id=clinic.other_patient_id)
    links = client.get("/api/v1/me/caregivers", headers=factory.headers(clinic.users[Role.patient])).json()
    problem(client.delete(f"/api/v1/me/caregivers/{links[0]['id']}", headers=factory.headers(outsider)),
            404, "not-found")
    problem(client.delete(f"/api/v1/me/caregivers/{uuid.uuid4()}", headers=factory.headers(outsider)),
            404, "not-found")
    cared = client.get("/api/v1/me/patients", headers=factory.headers(clinic.users[Role.caregiver])).json()
    assert [c["patient_id"] for c in cared] == [str(clinic.patient_id)]
