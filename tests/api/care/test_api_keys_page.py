"""The administrators' API-key page: issue (shown once), list, revoke; refused to everyone else."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from carebridge.security import Role
from tests.factories import Factory
from tests.web.helpers import assert_good_page, csrf_token, post_form, sign_in

DIAGNOSE = {"query": "fever and runny nose since yesterday", "query_id": {"query_id": "q-1"}}


def test_admin_issues_a_key_that_works_and_revokes_it(app: FastAPI, client: TestClient, factory: Factory) -> None:
    app.state.settings = app.state.settings.model_copy(update={"require_totp_for_admins": False})
    admin = factory.user(Role.admin)
    assert sign_in(client, admin.username).status_code == 303
    page = client.get("/admin/api-keys")
    assert page.status_code == 200
    assert_good_page(page.text)
    issued = post_form(client, "/admin/api-keys", "/admin/api-keys", {"app_name": "Village Health App"})
    assert issued.status_code == 200
    found = re.search(r'<code id="issued-key">(cbk_[^<]+)</code>', issued.text)
    assert found, "the new key is on the answer page"
    key = found.group(1)
    assert client.post("/diagnose", json=DIAGNOSE, headers={"X-API-Key": key}).status_code == 201
    again = client.get("/admin/api-keys")
    assert key not in again.text  # shown once only
    assert "Village Health App" in again.text
    action = re.search(r'action="(/admin/api-keys/[0-9a-f-]+/revoke)"', again.text)
    assert action
    revoked = client.post(action.group(1), data={"csrf_token": csrf_token(again.text)}, follow_redirects=False)
    assert revoked.status_code == 303
    assert client.post("/diagnose", json=DIAGNOSE, headers={"X-API-Key": key}).status_code == 401
    nameless = post_form(client, "/admin/api-keys", "/admin/api-keys", {"app_name": "  "})
    assert nameless.status_code == 422


def test_the_page_is_refused_to_staff_who_are_not_admins(client: TestClient, factory: Factory) -> None:
    nurse = factory.user(Role.nurse, organization_id=factory.organization())
    assert sign_in(client, nurse.username).status_code == 303
    assert client.get("/admin/api-keys").status_code == 403
