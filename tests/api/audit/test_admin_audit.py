"""GET /api/v1/audit/entries and /api/v1/audit/verify: administrators search and check the trail."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from carebridge.contexts.audit import service as audit
from carebridge.contexts.identity.models import User
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.security import Principal, Role
from tests.factories import Factory
from tests.integration.audit.helpers import drop_guards, principal_of

ENTRIES = "/api/v1/audit/entries"
VERIFY = "/api/v1/audit/verify"


@dataclass
class Scene:
    org: uuid.UUID
    patient_id: uuid.UUID
    far_patient_id: uuid.UUID  # cared for by another organization only
    admin: User
    far_admin: User
    nurse: User
    far_nurse: User
    patient: User


def rec(database: Database, who: Principal | None, clock: FixedClock, *, patient_id: uuid.UUID | None,
        action: str = "read", outcome: str = "success") -> None:
    with database.unit_of_work() as s:
        audit.record(s, who, action=action, resource_type="Patient", resource_id=patient_id, patient_id=patient_id,
                     outcome=outcome, at=clock.now())
    clock.advance(hours=1)


@pytest.fixture
def scene(factory: Factory, database: Database, clock: FixedClock) -> Scene:
    org = factory.organization("Lotus Community Clinic")
    far = factory.organization("Riverbank Hospital", "hospital")
    pid = factory.patient(organization_id=org)
    far_pid = factory.patient(organization_id=far)
    sc = Scene(org=org, patient_id=pid, far_patient_id=far_pid, admin=factory.user(Role.admin, organization_id=org),
               far_admin=factory.user(Role.admin, organization_id=far), nurse=factory.user(Role.nurse, organization_id=org),
               far_nurse=factory.user(Role.nurse, organization_id=far), patient=factory.user(Role.patient, patient_id=pid))
    rec(database, principal_of(sc.nurse), clock, patient_id=pid)  # 09:30
    rec(database, principal_of(sc.nurse), clock, patient_id=pid, action="update")  # 10:30
    rec(database, principal_of(sc.far_nurse), clock, patient_id=far_pid)  # 11:30
    rec(database, principal_of(sc.far_nurse), clock, patient_id=pid, outcome="denied")  # 12:30
    rec(database, principal_of(sc.nurse), clock, patient_id=far_pid, outcome="denied")  # 13:30
    rec(database, None, clock, patient_id=None, action="export")  # 14:30, no patient, no organization
    return sc


class Api:
    def __init__(self, client: TestClient, factory: Factory) -> None:
        self.client, self.factory = client, factory

    def get(self, user: User, url: str = ENTRIES, status: int = 200, **params: Any) -> dict[str, Any]:
        r = self.client.get(url, headers=self.factory.headers(user), params=params)
        assert r.status_code == status, r.text
        if status != 200:
            assert r.headers["content-type"].startswith("application/problem+json")
        body: dict[str, Any] = r.json()
        return body


@pytest.fixture
def api(client: TestClient, factory: Factory) -> Api:
    return Api(client, factory)


def summary(body: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    return [(i["username"], i["action"], i["outcome"]) for i in body["items"]]


def test_an_admin_sees_entries_newest_first_with_their_links(api: Api, scene: Scene) -> None:
    body = api.get(scene.admin, action="read")
    assert summary(body) == [(scene.nurse.username, "read", "denied"), (scene.far_nurse.username, "read", "denied"),
                             (scene.nurse.username, "read", "success")]
    first = body["items"][-1]
    assert (first["organization_name"], first["patient_id"], first["purpose"], first["resource_type"]) == (
        "Lotus Community Clinic", str(scene.patient_id), "treatment", "Patient")
    assert first["at"] == "2026-03-10T09:30:00Z" and first["user_id"] == str(scene.nurse.id)
    assert len(first["hash"]) == 64 and len(first["prev_hash"]) == 64 and first["detail"] == {}


def test_an_admin_of_no_organization_reads_no_entries(api: Api, factory: Factory, scene: Scene) -> None:
    loose = factory.user(Role.admin)
    assert api.get(loose, status=403)["type"].endswith("/no-organization")
    assert api.get(loose, VERIFY)["ok"] is True  # counts and sequence numbers only: no patient data


def test_an_organization_admin_sees_its_staff_and_its_patients(api: Api, scene: Scene) -> None:
    body = api.get(scene.admin, resource_type="Patient")
    assert summary(body) == [
        (scene.nurse.username, "read", "denied"),  # our nurse, their patient
        (scene.far_nurse.username, "read", "denied"),  # their nurse, our patient
        (scene.nurse.username, "update", "success"),
        (scene.nurse.username, "read", "success"),
    ]
    far = api.get(scene.far_admin, patient_id=str(scene.patient_id), resource_type="Patient")
    assert summary(far) == [(scene.far_nurse.username, "read", "denied")]  # only what their own nurse did
    system = api.get(scene.admin, action="export")
    assert system["items"] == []  # no patient, no organization: read on the server, not through the API


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"action": "update"}, [("update", "success")]),
        ({"outcome": "denied"}, [("read", "denied"), ("read", "denied")]),
        ({"since": "2026-03-10T10:30:00Z", "until": "2026-03-10T13:30:00Z"}, [("read", "denied"), ("update", "success")]),
        ({"since": "2026-03-10T15:00:00+05:30", "until": "2026-03-10T16:00:00+05:30"}, [("read", "success")]),
    ],
)
def test_filters(api: Api, factory: Factory, scene: Scene, params: dict[str, str],
                 expected: list[tuple[str, str]]) -> None:
    items = api.get(scene.admin, resource_type="Patient", **params)["items"]
    assert [(i["action"], i["outcome"]) for i in items] == expected


def test_filter_by_user_and_patient(api: Api, scene: Scene) -> None:
    mine = api.get(scene.admin, user_id=str(scene.nurse.id))["items"]
    assert {i["username"] for i in mine} == {scene.nurse.username} and len(mine) == 3
    about = api.get(scene.admin, patient_id=str(scene.far_patient_id), resource_type="Patient")["items"]
    assert summary({"items": about}) == [(scene.nurse.username, "read", "denied")]  # not the far nurse's read


def test_paging_is_complete_and_stable(api: Api, scene: Scene) -> None:
    seqs: list[int] = []
    params: dict[str, Any] = {"limit": 1, "resource_type": "Patient"}
    while True:
        body = api.get(scene.admin, **params)
        seqs += [i["seq"] for i in body["items"]]
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert len(seqs) == 4 and seqs == sorted(seqs, reverse=True)


def test_an_admin_search_is_recorded_for_every_patient_it_shows(client: TestClient, api: Api, factory: Factory,
                                                                 scene: Scene) -> None:
    api.get(scene.admin, patient_id=str(scene.patient_id))
    log = client.get("/api/v1/me/access-log", headers=factory.headers(scene.patient)).json()["items"]
    top = log[0]
    assert (top["who"]["username"], top["who"]["role"], top["action"], top["resource_type"], top["purpose"]) == (
        scene.admin.username, "admin", "search", "audit_entry", "compliance")
    searches = api.get(scene.admin, user_id=str(scene.admin.id))["items"]
    assert [(i["patient_id"], i["detail"]["entries"]) for i in searches] == [(str(scene.patient_id), 3)]
    assert searches[0]["detail"]["query"] == {"patient_id": str(scene.patient_id)}


def test_a_search_showing_no_patient_is_still_recorded(api: Api, scene: Scene) -> None:
    api.get(scene.admin, action="no-such-action")
    [entry] = api.get(scene.admin, user_id=str(scene.admin.id))["items"]  # a search is recorded as it commits, after its query
    assert (entry["action"], entry["patient_id"], entry["detail"]["entries"]) == ("search", None, 0)


@pytest.mark.parametrize("role", [Role.nurse, Role.practitioner, Role.front_desk, Role.patient, Role.caregiver])
def test_only_admins_read_the_trail(api: Api, factory: Factory, scene: Scene, role: Role) -> None:
    user = factory.user(role, organization_id=scene.org if role not in (Role.patient, Role.caregiver) else None)
    assert api.get(user, status=403)["type"].endswith("/forbidden")
    assert api.get(user, VERIFY, status=403)["type"].endswith("/forbidden")


def test_an_admin_without_two_factor_sign_in_is_refused(client: TestClient, factory: Factory, scene: Scene) -> None:
    for url in (ENTRIES, VERIFY):
        r = client.get(url, headers=factory.headers(scene.admin, mfa=False))
        assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["type"].endswith("/totp-required")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-03-10T09:30:00"}, "since"),  # no zone
        ({"since": "2026-03-10T12:00:00Z", "until": "2026-03-10T11:00:00Z"}, "until"),
        ({"since": "yesterday"}, "since"),
        ({"patient_id": "42"}, "patient_id"),
        ({"action": "x" * 40}, "action"),
        ({"cursor": "!!!"}, "cursor"),
        ({"limit": 101}, "limit"),
    ],
)
def test_bad_filters_are_422_problems(api: Api, factory: Factory, scene: Scene, params: dict[str, str],
                                      field: str) -> None:
    body = api.get(scene.admin, status=422, **params)
    assert field in {e["field"].rpartition(".")[2] for e in body["errors"]}


def test_anonymous_is_401(client: TestClient) -> None:
    for url in (ENTRIES, VERIFY):
        r = client.get(url)
        assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")


def test_verify_reports_a_valid_chain_and_is_recorded(app: FastAPI, api: Api, factory: Factory, scene: Scene) -> None:
    body = api.get(scene.admin, VERIFY)
    assert body["ok"] is True and body["first_broken_seq"] is None and body["problem"] is None
    assert body["entries_checked"] == body["last_seq"] == 6
    assert body["public_key"] == audit.AuditSigner(app.state.keys.signing_key).public_key_hex
    [run] = api.get(scene.admin, action="verify")["items"]
    assert (run["username"], run["resource_type"], run["detail"]["ok"]) == (scene.admin.username, "audit_chain", True)


def test_verify_reports_the_first_broken_entry(api: Api, database: Database, scene: Scene) -> None:
    with database.unit_of_work() as s:
        drop_guards(s)
        s.execute(text("UPDATE audit_entries SET outcome = 'success' WHERE seq = 4"))
    body = api.get(scene.admin, VERIFY)
    assert (body["ok"], body["first_broken_seq"], body["entries_checked"]) == (False, 4, 3)
    assert "altered" in body["problem"]
