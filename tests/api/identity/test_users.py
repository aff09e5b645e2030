"""Staff administration: admins manage their own organization only; role changes are audited."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from carebridge.contexts.audit.models import AuditEntry
from carebridge.kernel.db import Database
from carebridge.security import Role
from tests.api.identity.conftest import Api, problem
from tests.factories import Factory


def _staff(username: str, role: str = "nurse", **extra: Any) -> dict[str, Any]:
    return {"username": username, "password": "a long unusual pass phrase", "full_name": "Kavya Rao",
            "role": role, **extra}


def test_admin_creates_staff_in_their_own_organization(factory: Factory, client: TestClient, api: Api) -> None:
    org = factory.organization()
    admin = factory.user(Role.admin, organization_id=org)
    r = client.post("/api/v1/users", headers=factory.headers(admin),
                    json=_staff("kavya.rao", "practitioner", email="kavya@example.com"))
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["organization_id"] == str(org) and created["role"] == "practitioner"
    assert created["is_active"] is True and created["patient_id"] is None
    # the organization cannot be chosen by the caller
    body = problem(client.post("/api/v1/users", headers=factory.headers(admin),
                               json=_staff("x.y", organization_id=str(factory.organization()))), 422, "validation")
    assert body["errors"][0]["field"] == "organization_id"
    assert api.login("kavya.rao", "a long unusual pass phrase").status_code == 200


def test_only_admins_manage_staff(factory: Factory, client: TestClient) -> None:
    clinic = factory.clinic()
    for role, user in clinic.users.items():
        if role is Role.admin:
            continue
        problem(client.post("/api/v1/users", headers=factory.headers(user), json=_staff(f"new.{role.value}")),
                403, "forbidden")
        problem(client.get("/api/v1/users", headers=factory.headers(user)), 403, "forbidden")
    problem(client.post("/api/v1/users", json=_staff("anon")), 401, "unauthorized")


def test_staff_roles_only(factory: Factory, client: TestClient) -> None:
    admin = factory.user(Role.admin, organization_id=factory.organization())
    for role in ("patient", "caregiver", "superuser"):
        body = problem(client.post("/api/v1/users", headers=factory.headers(admin), json=_staff("p.q", role)),
                       422, "validation")
        assert body["errors"][0]["field"] == "role"


def test_listing_is_paged_and_limited_to_the_admins_organization(factory: Factory, client: TestClient) -> None:
    org, other = factory.organization(), factory.organization()
    admin = factory.user(Role.admin, organization_id=org, username="a-admin")
    mine = {factory.user(Role.nurse, organization_id=org, username=f"n-{i}").username for i in range(4)}
    factory.user(Role.nurse, organization_id=other, username="z-elsewhere")
    factory.user(Role.patient, username="p-patient")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/users", headers=factory.headers(admin), params=params).json()
        assert page["limit"] == 2 and len(page["items"]) <= 2
        seen += [u["username"] for u in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(mine | {admin.username})
    nurses = client.get("/api/v1/users", headers=factory.headers(admin), params={"role": "nurse"}).json()
    assert {u["username"] for u in nurses["items"]} == mine
    problem(client.get("/api/v1/users", headers=factory.headers(admin), params={"limit": 101}), 422, "validation")
    problem(client.get("/api/v1/users", headers=factory.headers(admin), params={"cursor": "!!"}), 422, "validation")


def test_accounts_of_other_organizations_are_not_found(factory: Factory, client: TestClient) -> None:
    admin = factory.user(Role.admin, organization_id=factory.organization())
    stranger = factory.user(Role.nurse, organization_id=factory.organization())
    headers = factory.headers(admin)
    problem(client.get(f"/api/v1/users/{stranger.id}", headers=headers), 404, "not-found")
    problem(client.put(f"/api/v1/users/{stranger.id}/role", headers=headers, json={"role": "admin"}), 404, "not-found")
    problem(client.post(f"/api/v1/users/{stranger.id}/deactivate", headers=headers), 404, "not-found")
    problem(client.get(f"/api/v1/users/{uuid.uuid4()}", headers=headers), 404, "not-found")
    problem(client.get("/api/v1/users/not-a-uuid", headers=headers), 422, "validation")


def test_role_change_is_audited_and_ends_the_users_sessions(
    factory: Factory, client: TestClient, api: Api, database: Database
) -> None:
    org = factory.organization()
    admin = factory.user(Role.admin, organization_id=org)
    nurse = factory.user(Role.nurse, organization_id=org)
    nurse_headers = factory.headers(nurse)
    r = client.put(f"/api/v1/users/{nurse.id}/role", headers=factory.headers(admin), json={"role": "practitioner"})
    assert r.status_code == 200 and r.json()["role"] == "practitioner"
    with database.unit_of_work() as s:
        entries = s.execute(select(AuditEntry).where(AuditEntry.action == "role_change",
                                                     AuditEntry.resource_id == str(nurse.id))).scalars().all()
        assert len(entries) == 1
        entry = entries[0]
        assert entry.resource_type == "User" and entry.user_id == admin.id and entry.outcome == "success"
        assert entry.detail["old"] == "nurse" and entry.detail["new"] == "practitioner"
    problem(client.get("/api/v1/me", headers=nurse_headers), 401, "unauthorized")
    assert api.tokens(nurse.username)["user"]["role"] == "practitioner"


def test_last_admin_cannot_be_demoted(factory: Factory, client: TestClient) -> None:
    org = factory.organization()
    admin = factory.user(Role.admin, organization_id=org)
    problem(client.put(f"/api/v1/users/{admin.id}/role", headers=factory.headers(admin), json={"role": "nurse"}),
            409, "last-admin")
    second = factory.user(Role.admin, organization_id=org)
    r = client.put(f"/api/v1/users/{second.id}/role", headers=factory.headers(admin), json={"role": "front_desk"})
    assert r.status_code == 200


def test_deactivation_ends_sessions_and_can_be_undone(factory: Factory, client: TestClient, api: Api) -> None:
    org = factory.organization()
    admin = factory.user(Role.admin, organization_id=org)
    worker = factory.user(Role.health_worker, organization_id=org)
    worker_headers = factory.headers(worker)
    r = client.post(f"/api/v1/users/{worker.id}/deactivate", headers=factory.headers(admin))
    assert r.status_code == 200 and r.json()["is_active"] is False
    problem(client.get("/api/v1/me", headers=worker_headers), 401, "unauthorized")
    problem(api.login(worker.username), 401, "account-inactive")
    inactive = client.get("/api/v1/users", headers=factory.headers(admin), params={"active": "false"}).json()
    assert [u["username"] for u in inactive["items"]] == [worker.username]
    assert client.post(f"/api/v1/users/{worker.id}/reactivate", headers=factory.headers(admin)).json()["is_active"]
    assert api.login(worker.username).status_code == 200
    problem(client.post(f"/api/v1/users/{admin.id}/deactivate", headers=factory.headers(admin)),
            409, "self-deactivation")


def test_duplicate_staff_username_is_a_conflict(factory: Factory, client: TestClient) -> None:
    org = factory.organization()
    admin = factory.user(Role.admin, organization_id=org)
    existing = factory.user(Role.nurse, organization_id=factory.organization())
    problem(client.post("/api/v1/users", headers=factory.headers(admin), json=_staff(existing.username)),
            409, "conflict")
