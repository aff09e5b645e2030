"""The consent page without JavaScript: the patient sees who can see their record, shares part of it with their
caregiver, withholds part from their clinic, revokes, and a bad form answers on the page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from carebridge.security import CaregiverScope, Role
from tests.factories import Factory
from tests.web.helpers import assert_good_page, csrf_token, sign_in


def test_patient_manages_who_can_see_their_record(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    sign_in(client, clinic.users[Role.patient].username)
    dashboard = client.get("/dashboard")
    assert 'href="/consent"' in dashboard.text
    page = client.get("/consent")
    assert page.status_code == 200
    assert_good_page(page.text)
    assert "Organizations that treat you" in page.text and "Sunrise Clinic" in page.text
    assert "Mental health notes" in page.text

    carer = clinic.users[Role.caregiver]
    shared = client.post("/consent/grant", data={
        "csrf_token": csrf_token(page.text), "grantee": f"caregiver:{carer.id}", "effect": "allow",
        "categories": ["mental_health"], "note": "for my sister"}, follow_redirects=True)
    assert shared.status_code == 200 and "Saved." in shared.text
    assert carer.full_name in shared.text and "for my sister" in shared.text

    withheld = client.post("/consent/grant", data={
        "csrf_token": csrf_token(shared.text), "grantee": f"organization:{clinic.org}", "effect": "deny",
        "categories": ["documents"]}, follow_redirects=True)
    assert "You withheld:" in withheld.text

    revoke = re.findall(r'action="(/consent/[0-9a-f-]+/revoke)"', withheld.text)
    assert len(revoke) == 2
    done = client.post(revoke[0], data={"csrf_token": csrf_token(withheld.text)}, follow_redirects=True)
    assert done.status_code == 200
    assert len(re.findall(r'action="(/consent/[0-9a-f-]+/revoke)"', done.text)) == 1


def test_a_bad_grant_answers_on_the_page(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    sign_in(client, clinic.users[Role.patient].username)
    page = client.get("/consent")
    no_one = client.post("/consent/grant", data={"csrf_token": csrf_token(page.text), "grantee": "other",
                                                 "other_id": "not-an-id", "categories": ["clinical"]})
    assert no_one.status_code == 422 and "Choose who this is for" in no_one.text
    past = client.post("/consent/grant", data={
        "csrf_token": csrf_token(page.text), "grantee": f"organization:{clinic.org}", "categories": ["clinical"],
        "expires_on": "2026-01-01"})
    assert past.status_code == 422 and "must be in the future" in past.text
    nothing = client.post("/consent/grant", data={"csrf_token": csrf_token(page.text),
                                                  "grantee": f"organization:{clinic.org}"})
    assert nothing.status_code == 422 and "at least one part" in nothing.text
    assert client.post("/consent/grant", data={"grantee": f"organization:{clinic.org}",
                                               "categories": ["clinical"]}).status_code == 403  # no CSRF token


def test_a_caregiver_reaches_the_page_only_with_the_consent_scope(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    sign_in(client, clinic.users[Role.caregiver].username)  # linked with read_record only
    assert client.get(f"/consent?patient_id={clinic.patient_id}").status_code == 403
    client.cookies.clear()
    manager = factory.user(Role.caregiver)
    factory.link_caregiver(manager, clinic.patient_id, (CaregiverScope.manage_consent,))
    sign_in(client, manager.username)
    page = client.get(f"/consent?patient_id={clinic.patient_id}")
    assert page.status_code == 200 and "Sunrise Clinic" in page.text


def test_a_clinician_breaks_the_glass_from_a_page(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    doctor = factory.user(Role.practitioner, organization_id=clinic.other_org)
    sign_in(client, doctor.username)
    page = client.get(f"/break-glass?patient_id={clinic.patient_id}")
    assert page.status_code == 200
    assert_good_page(page.text)
    short = client.post("/break-glass", data={"csrf_token": csrf_token(page.text),
                                              "patient_id": str(clinic.patient_id), "reason": "now"})
    assert short.status_code == 422 and "at least 10 characters" in short.text
    opened = client.post("/break-glass", data={"csrf_token": csrf_token(page.text),
                                               "patient_id": str(clinic.patient_id),
                                               "reason": "collapsed in the waiting room"}, follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == f"/record/{clinic.patient_id}"
    assert client.get(opened.headers["location"]).status_code == 200
    client.cookies.clear()
    sign_in(client, clinic.users[Role.patient].username)
    mine = client.get("/consent")
    assert "Emergency access" in mine.text and "collapsed in the waiting room" in mine.text
