"""Consent through the API and the one access policy: grants, restrictions, revocation, expiry, caregivers and
break-glass, each checked by what the grantee can then read."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from carebridge.contexts import consent as consent_config
from carebridge.contexts.audit.models import AuditEntry
from carebridge.contexts.identity.models import User
from carebridge.contexts.notifications.models import Notification
from carebridge.contexts.patients import load_patient_for
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.kernel.errors import Forbidden
from carebridge.kernel.events import OutboxEvent
from carebridge.main import create_app
from carebridge.security import CaregiverScope, DataCategory, Permission, Principal, Role
from carebridge.settings import Settings
from tests.factories import Clinic, Factory


def consents(pid: uuid.UUID) -> str:
    return f"/api/v1/patients/{pid}/consents"


def grant(client: TestClient, headers: dict[str, str], pid: uuid.UUID, **body: Any) -> Any:
    return client.post(consents(pid), json=body, headers=headers)


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


@pytest.fixture
def me(factory: Factory, clinic: Clinic) -> dict[str, str]:
    return factory.headers(clinic.users[Role.patient])


@pytest.fixture
def outsider(factory: Factory, clinic: Clinic) -> User:
    """A practitioner of an organization that does not treat the patient."""
    return factory.user(Role.practitioner, organization_id=clinic.other_org)


def conditions(pid: uuid.UUID) -> str:
    return f"/api/v1/patients/{pid}/conditions"


def test_grant_opens_the_record_to_an_outside_practitioner_and_revoking_closes_it_at_once(
        client: TestClient, factory: Factory, clinic: Clinic, me: dict[str, str], outsider: User,
        database: Database) -> None:
    doctor = factory.headers(outsider)
    assert client.get(conditions(clinic.patient_id), headers=doctor).status_code == 403
    made = grant(client, me, clinic.patient_id, grantee_type="practitioner", grantee_id=str(outsider.id),
                 categories=["clinical", "demographics"], note="second opinion")
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["kind"], body["grantee_id"], body["active"]) == ("grant", str(outsider.id), True)
    assert body["grantee_name"] == outsider.full_name
    assert client.get(conditions(clinic.patient_id), headers=doctor).status_code == 200
    assert client.get(f"/api/v1/patients/{clinic.patient_id}/prescriptions", headers=doctor).status_code == 403

    listed = client.get(consents(clinic.patient_id), headers=me).json()
    assert [d["id"] for d in listed["directives"]] == [body["id"]]
    assert [o["organization_id"] for o in listed["default_access"]] == [str(clinic.org)]
    assert "mental_health" not in listed["default_access"][0]["categories"]

    revoked = client.post(f"{consents(clinic.patient_id)}/{body['id']}/revoke", headers=me)
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    assert client.get(conditions(clinic.patient_id), headers=doctor).status_code == 403
    assert client.get(consents(clinic.patient_id), headers=me).json()["directives"] == []

    with database.unit_of_work() as s:
        trail = s.scalars(select(AuditEntry).where(AuditEntry.resource_type == "Consent",
                                                   AuditEntry.resource_id == body["id"])
                          .order_by(AuditEntry.at, AuditEntry.action)).all()
        assert [e.action for e in trail] == ["create", "revoke"]
        assert trail[0].detail["grantee_id"] == str(outsider.id)
        events = [e.type for e in s.scalars(select(OutboxEvent).where(OutboxEvent.type.like("consent.%")))]
        assert sorted(events) == ["consent.granted", "consent.revoked"]


def test_an_expired_grant_stops_counting(client: TestClient, factory: Factory, clinic: Clinic,
                                         me: dict[str, str], outsider: User, clock: FixedClock) -> None:
    doctor = factory.headers(outsider)
    made = grant(client, me, clinic.patient_id, grantee_type="organization", grantee_id=str(clinic.other_org),
                 categories=["all"], expires_at=(clock.now() + timedelta(hours=2)).isoformat())
    assert made.status_code == 201, made.text
    assert client.get(conditions(clinic.patient_id), headers=doctor).status_code == 200
    clock.advance(hours=3)  # (tokens live 15 minutes: fresh ones after the jump)
    assert client.get(conditions(clinic.patient_id), headers=factory.headers(outsider)).status_code == 403
    me = factory.headers(clinic.users[Role.patient])
    listed = client.get(consents(clinic.patient_id), params={"include_inactive": "true"}, headers=me).json()
    assert [d["active"] for d in listed["directives"]] == [False]


def test_the_patient_narrows_their_treating_organization(client: TestClient, factory: Factory, clinic: Clinic,
                                                         me: dict[str, str]) -> None:
    nurse = factory.headers(clinic.users[Role.nurse])
    assert client.get(conditions(clinic.patient_id), headers=nurse).status_code == 200
    made = grant(client, me, clinic.patient_id, grantee_type="organization", grantee_id=str(clinic.org),
                 effect="deny", categories=["clinical"])
    assert made.status_code == 201 and made.json()["kind"] == "restriction"
    refused = client.get(conditions(clinic.patient_id), headers=nurse)
    assert refused.status_code == 403 and "withheld clinical" in refused.json()["detail"]
    # the profile (demographics) stays open to the clinic
    assert client.get(f"/api/v1/patients/{clinic.patient_id}", headers=nurse).status_code == 200
    access = client.get(consents(clinic.patient_id), headers=me).json()["default_access"][0]
    assert "clinical" not in access["categories"] and access["withheld"] == ["clinical"]


def test_mental_health_is_outside_default_access_until_granted(database: Database, factory: Factory,
                                                               clinic: Clinic, me: dict[str, str],
                                                               client: TestClient, clock: FixedClock) -> None:
    doctor = clinic.users[Role.practitioner]
    principal = Principal(user_id=doctor.id, role=Role.practitioner, organization_id=clinic.org)
    with pytest.raises(Forbidden, match="explicit consent"), database.unit_of_work() as s:
        load_patient_for(s, principal, clinic.patient_id, Permission.record_read, now=clock.now(),
                         category=DataCategory.mental_health)
    made = grant(client, me, clinic.patient_id, grantee_type="practitioner", grantee_id=str(doctor.id),
                 categories=["mental_health"])
    assert made.status_code == 201
    with database.unit_of_work() as s:
        load_patient_for(s, principal, clinic.patient_id, Permission.record_read, now=clock.now(),
                         category=DataCategory.mental_health)


def test_a_caregiver_without_the_consent_scope_cannot_manage_consent(
        client: TestClient, factory: Factory, clinic: Clinic, outsider: User) -> None:
    carer = factory.headers(clinic.users[Role.caregiver])  # linked with read_record only
    refused = grant(client, carer, clinic.patient_id, grantee_type="practitioner", grantee_id=str(outsider.id),
                    categories=["clinical"])
    assert refused.status_code == 403 and "manage_consent" in refused.json()["detail"]
    assert client.get(consents(clinic.patient_id), headers=carer).status_code == 403
    manager = factory.user(Role.caregiver)
    factory.link_caregiver(manager, clinic.patient_id, (CaregiverScope.manage_consent,))
    allowed = grant(client, factory.headers(manager), clinic.patient_id, grantee_type="practitioner",
                    grantee_id=str(outsider.id), categories=["clinical"])
    assert allowed.status_code == 201, allowed.text


def test_staff_cannot_manage_a_patients_consent(client: TestClient, factory: Factory, clinic: Clinic,
                                                outsider: User) -> None:
    for role in (Role.practitioner, Role.admin):
        headers = factory.headers(clinic.users[role])
        assert client.get(consents(clinic.patient_id), headers=headers).status_code == 403
        assert grant(client, headers, clinic.patient_id, grantee_type="practitioner",
                     grantee_id=str(outsider.id), categories=["all"]).status_code == 403


@pytest.mark.parametrize(("body", "field"), [
    ({"grantee_type": "practitioner", "categories": ["clinical"]}, "grantee_id"),
    ({"grantee_type": "organization", "categories": ["clinical"]}, "grantee_id"),
    ({"grantee_type": "caregiver", "categories": ["clinical"]}, "grantee_id"),
    ({"grantee_type": "practitioner", "categories": ["clinical"], "expires_at": "2026-03-10T08:00:00Z"},
     "expires_at"),
    ({"grantee_type": "practitioner", "categories": []}, "categories"),
    ({"grantee_type": "practitioner", "categories": ["gossip"]}, "categories"),
])
def test_bad_grants_answer_problem_json(client: TestClient, clinic: Clinic, me: dict[str, str],
                                        outsider: User, body: dict[str, Any], field: str) -> None:
    payload = {"grantee_id": str(uuid.uuid4()), **body}
    if field != "grantee_id":
        payload["grantee_id"] = str(outsider.id)
    answer = client.post(consents(clinic.patient_id), json=payload, headers=me)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert field in answer.text


def test_a_caregiver_grantee_must_be_linked(client: TestClient, factory: Factory, clinic: Clinic,
                                            me: dict[str, str]) -> None:
    stranger = factory.user(Role.caregiver)
    assert grant(client, me, clinic.patient_id, grantee_type="caregiver", grantee_id=str(stranger.id),
                 categories=["mental_health"]).status_code == 422
    linked = clinic.users[Role.caregiver]
    assert grant(client, me, clinic.patient_id, grantee_type="caregiver", grantee_id=str(linked.id),
                 categories=["mental_health"]).status_code == 201


def test_break_glass_is_allowed_audited_and_the_patient_is_told(
        client: TestClient, factory: Factory, clinic: Clinic, outsider: User, database: Database,
        clock: FixedClock) -> None:
    doctor = factory.headers(outsider)
    assert client.get(conditions(clinic.patient_id), headers=doctor).status_code == 403
    short = client.post(f"/api/v1/patients/{clinic.patient_id}/break-glass", json={"reason": "help"},
                        headers=doctor)
    assert short.status_code == 422
    opened = client.post(f"/api/v1/patients/{clinic.patient_id}/break-glass",
                         json={"reason": "unconscious in the emergency room, allergies unknown"}, headers=doctor)
    assert opened.status_code == 201, opened.text
    assert opened.json()["expires_at"].startswith("2026-03-10T10:30")  # 60 minutes by default
    assert client.get(conditions(clinic.patient_id), headers=doctor).status_code == 200

    with database.unit_of_work() as s:
        flagged = s.scalars(select(AuditEntry).where(AuditEntry.patient_id == clinic.patient_id,
                                                     AuditEntry.purpose == "emergency")).all()
        assert {e.action for e in flagged} >= {"break_glass", "read"}
        assert all(e.detail.get("break_glass") is True for e in flagged)
        opening = next(e for e in flagged if e.action == "break_glass")
        assert opening.detail["reason"].startswith("unconscious")
        notes = s.scalars(select(Notification).where(Notification.template == "consent.break_glass")).all()
        assert [n.user_id for n in notes] == [clinic.users[Role.patient].id]
        assert notes[0].urgent and "unconscious" in notes[0].params["reason"]

    me = factory.headers(clinic.users[Role.patient])
    listed = client.get(consents(clinic.patient_id), headers=me).json()
    assert [g["grantee_id"] for g in listed["break_glass"]] == [str(outsider.id)]
    refused = client.post(f"{consents(clinic.patient_id)}/{opened.json()['id']}/revoke", headers=me)
    assert refused.status_code == 409
    clock.advance(minutes=61)
    assert client.get(conditions(clinic.patient_id), headers=factory.headers(outsider)).status_code == 403


def test_only_clinicians_break_the_glass(client: TestClient, factory: Factory, clinic: Clinic) -> None:
    body = {"reason": "I would like to see this record please"}
    for role in (Role.front_desk, Role.pharmacist, Role.caregiver, Role.patient):
        answer = client.post(f"/api/v1/patients/{clinic.patient_id}/break-glass", json=body,
                             headers=factory.headers(clinic.users[role]))
        assert answer.status_code == 403, role
    unknown = client.post(f"/api/v1/patients/{uuid.uuid4()}/break-glass", json=body,
                          headers=factory.headers(clinic.users[Role.nurse]))
    assert unknown.status_code == 404


def test_revoking_reaches_only_the_patients_own_consents(client: TestClient, factory: Factory, clinic: Clinic,
                                                         me: dict[str, str], outsider: User) -> None:
    made = grant(client, me, clinic.patient_id, grantee_type="practitioner", grantee_id=str(outsider.id),
                 categories=["clinical"]).json()
    other = factory.user(Role.patient, patient_id=clinic.other_patient_id)
    theirs = factory.headers(other)
    assert client.post(f"{consents(clinic.patient_id)}/{made['id']}/revoke", headers=theirs).status_code == 403
    assert client.post(f"{consents(clinic.other_patient_id)}/{made['id']}/revoke", headers=theirs).status_code \
        == 404
    again = client.post(f"{consents(clinic.patient_id)}/{made['id']}/revoke", headers=me)
    assert again.status_code == 200
    assert client.post(f"{consents(clinic.patient_id)}/{made['id']}/revoke", headers=me).json()["revoked_at"] \
        == again.json()["revoked_at"]


def test_the_default_for_treating_organizations_is_a_setting(settings: Settings, database: Database,
                                                             clock: FixedClock) -> None:
    narrow = settings.model_copy(update={"consent_default_categories": ["demographics"]})
    app = create_app(narrow, database=database, clock=clock)
    try:
        factory = Factory(app=app, database=database, clock=clock)
        clinic = factory.clinic()
        with TestClient(app, raise_server_exceptions=False) as client:
            nurse = factory.headers(clinic.users[Role.nurse])
            assert client.get(f"/api/v1/patients/{clinic.patient_id}", headers=nurse).status_code == 200
            refused = client.get(conditions(clinic.patient_id), headers=nurse)
            assert refused.status_code == 403 and "explicit consent" in refused.json()["detail"]
    finally:
        consent_config.configure(Settings.model_fields["consent_default_categories"].default)
