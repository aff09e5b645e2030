"""GET /api/v1/me/access-log: a patient (or their caregiver) sees who reached the record, and when."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carebridge.contexts.audit import service as audit
from carebridge.contexts.identity.models import User
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.security import CaregiverScope, Principal, Role
from tests.factories import Factory
from tests.integration.audit.helpers import principal_of

URL = "/api/v1/me/access-log"


@dataclass
class Scene:
    patient_id: uuid.UUID
    other_patient_id: uuid.UUID
    patient: User
    caregiver: User
    nurse: User
    doctor: User
    outsider: User  # a nurse at another organization


def rec(database: Database, who: Principal | None, patient_id: uuid.UUID, clock: FixedClock, *, action: str = "read",
        outcome: str = "success", purpose: str = "treatment", resource_type: str = "Patient") -> None:
    with database.unit_of_work() as s:
        audit.record(s, who, action=action, resource_type=resource_type, resource_id=patient_id,
                     patient_id=patient_id, purpose=purpose, outcome=outcome, at=clock.now())
    clock.advance(minutes=5)


@pytest.fixture
def scene(factory: Factory, database: Database, clock: FixedClock) -> Scene:
    org = factory.organization("Lotus Community Clinic")
    other_org = factory.organization("Riverbank Hospital", "hospital")
    pid = factory.patient(organization_id=org, given="Meera", family="Iyer")
    other_pid = factory.patient(organization_id=other_org, given="Rahul", family="Khan")
    sc = Scene(
        patient_id=pid, other_patient_id=other_pid, patient=factory.user(Role.patient, patient_id=pid),
        caregiver=factory.user(Role.caregiver), nurse=factory.user(Role.nurse, organization_id=org),
        doctor=factory.user(Role.practitioner, organization_id=org),
        outsider=factory.user(Role.nurse, organization_id=other_org),
    )
    factory.link_caregiver(sc.caregiver, pid)
    rec(database, principal_of(sc.nurse), pid, clock)
    rec(database, principal_of(sc.doctor), pid, clock, action="update")
    rec(database, principal_of(sc.outsider), pid, clock, outcome="denied")
    rec(database, principal_of(sc.nurse), other_pid, clock)  # someone else's record: never shown
    rec(database, None, pid, clock, action="export", purpose="public_health", resource_type="Immunization")
    return sc


def page(client: TestClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    r = client.get(URL, headers=headers, params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_patient_sees_who_reached_their_record_newest_first(client: TestClient, factory: Factory,
                                                            scene: Scene) -> None:
    body = page(client, factory.headers(scene.patient))
    assert body["patient_id"] == str(scene.patient_id)
    items = body["items"]
    assert [i["seq"] for i in items] == sorted((i["seq"] for i in items), reverse=True)
    assert [(i["who"]["username"], i["who"]["role"], i["action"], i["outcome"]) for i in items] == [
        (None, None, "export", "success"),
        (scene.outsider.username, "nurse", "read", "denied"),
        (scene.doctor.username, "practitioner", "update", "success"),
        (scene.nurse.username, "nurse", "read", "success"),
    ]
    nurse_entry = items[-1]
    assert nurse_entry["who"]["organization_name"] == "Lotus Community Clinic"
    assert items[1]["who"]["organization_name"] == "Riverbank Hospital"
    assert nurse_entry["at"] == "2026-03-10T09:30:00Z"
    assert (nurse_entry["resource_type"], nurse_entry["resource_id"], nurse_entry["purpose"]) == (
        "Patient", str(scene.patient_id), "treatment")
    assert items[0]["purpose"] == "public_health"
    assert not {"client_address", "request_id", "hash", "detail"} & set(nurse_entry)  # staff privacy, no internals


def test_looking_at_the_log_is_itself_logged_and_can_be_hidden(client: TestClient, factory: Factory,
                                                               scene: Scene) -> None:
    headers = factory.headers(scene.patient)
    page(client, headers)
    again = page(client, headers)["items"]
    assert (again[0]["who"]["username"], again[0]["resource_type"], again[0]["purpose"]) == (
        scene.patient.username, "access_log", "patient_request")
    hidden = page(client, headers, include_self="false")["items"]
    assert scene.patient.username not in {i["who"]["username"] for i in hidden}
    assert len(hidden) == 4


def test_keyset_paging_walks_every_entry_once(client: TestClient, factory: Factory, scene: Scene) -> None:
    headers = factory.headers(scene.patient)
    full = [i["seq"] for i in page(client, headers, include_self="false")["items"]]
    seen: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 1, "include_self": "false"}
        if cursor:
            params["cursor"] = cursor
        body = page(client, headers, **params)
        seen += [i["seq"] for i in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == full and len(full) == 4


def test_caregiver_reads_a_linked_patients_log(client: TestClient, factory: Factory, scene: Scene) -> None:
    body = page(client, factory.headers(scene.caregiver), patient_id=str(scene.patient_id))
    assert {i["who"]["username"] for i in body["items"]} >= {scene.nurse.username, scene.doctor.username}
    own = page(client, factory.headers(scene.patient))["items"]
    assert (own[0]["who"]["username"], own[0]["purpose"]) == (scene.caregiver.username, "family_request")


def problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["type"].startswith("https://") and body["detail"]
    return body


def test_refusals_are_problems_and_leave_a_trace(client: TestClient, factory: Factory, scene: Scene) -> None:
    stranger = factory.user(Role.caregiver)
    problem(client.get(URL, headers=factory.headers(stranger), params={"patient_id": str(scene.patient_id)}), 403)
    no_scope = factory.user(Role.caregiver)
    factory.link_caregiver(no_scope, scene.patient_id, scopes=(CaregiverScope.update_profile,))
    body = problem(client.get(URL, headers=factory.headers(no_scope), params={"patient_id": str(scene.patient_id)}),
                   403)
    assert "read_record" in body["detail"]
    other = problem(client.get(URL, headers=factory.headers(scene.patient),
                               params={"patient_id": str(scene.other_patient_id)}), 403)
    assert "own record" in other["detail"]
    items = page(client, factory.headers(scene.patient))["items"]
    denied = [(i["who"]["username"], i["resource_type"]) for i in items if i["outcome"] == "denied"]
    assert (stranger.username, "access_log") in denied and (no_scope.username, "access_log") in denied


@pytest.mark.parametrize("role", [Role.nurse, Role.practitioner, Role.admin])
def test_staff_use_the_admin_listing_instead(client: TestClient, factory: Factory, scene: Scene, role: Role) -> None:
    org_user = factory.user(role, organization_id=None)
    body = problem(client.get(URL, headers=factory.headers(org_user)), 403)
    assert "/api/v1/audit/entries" in body["detail"]


def test_a_patient_account_without_a_record_is_refused(client: TestClient, factory: Factory) -> None:
    problem(client.get(URL, headers=factory.headers(factory.user(Role.patient))), 403)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "WyJ4Il0"}, "cursor"),  # ["x"]: decodes, but not a position
        ({"cursor": "x" * 600}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 500}, "limit"),  # above the server's maximum page size
        ({"include_self": "perhaps"}, "include_self"),
        ({"patient_id": "not-a-uuid"}, "patient_id"),
    ],
)
def test_bad_parameters_are_422_problems(client: TestClient, factory: Factory, scene: Scene, params: dict[str, Any],
                                         field: str) -> None:
    body = problem(client.get(URL, headers=factory.headers(scene.patient), params=params), 422)
    assert field in {e["field"].rpartition(".")[2] for e in body["errors"]}


def test_a_caregiver_must_name_the_patient(client: TestClient, factory: Factory, scene: Scene) -> None:
    body = problem(client.get(URL, headers=factory.headers(scene.caregiver)), 422)
    assert body["errors"][0]["field"] == "patient_id"


def test_anonymous_callers_get_401(client: TestClient) -> None:
    problem(client.get(URL), 401)


def test_entries_recorded_later_appear_at_the_top(client: TestClient, factory: Factory, scene: Scene,
                                                  database: Database, clock: FixedClock) -> None:
    first = page(client, factory.headers(scene.patient), include_self="false")["items"][0]["seq"]
    clock.advance(days=1)
    rec(database, principal_of(scene.nurse), scene.patient_id, clock, action="update")
    top = page(client, factory.headers(scene.patient), include_self="false")["items"][0]
    assert top["seq"] > first and top["at"] == "2026-03-11T09:55:00Z"
