"""Facility pages without a browser: staff update beds and weekly hours (and see refusals on the page), the search
then shows what they entered; an administrator imports a CSV through the page and reads the report."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from carebridge.contexts.identity.models import User
from carebridge.kernel.db import Database
from carebridge.security import Role
from tests.factories import Clinic, Factory
from tests.integration.facilities.helpers import WEEKDAY_HOURS, payload
from tests.web.helpers import assert_good_page, csrf_token, post_form, sign_in

API = "/api/v1/facilities"


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


def _facility(client: TestClient, factory: Factory, clinic: Clinic, **over: Any) -> dict[str, Any]:
    admin = factory.headers(clinic.users[Role.admin])
    response = client.post(API, json=payload(organization_id=str(clinic.org), **over), headers=admin)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_nurse_updates_beds_and_hours_and_search_shows_them(client: TestClient, factory: Factory,
                                                            clinic: Clinic) -> None:
    mine = _facility(client, factory, clinic, name="Shivaji Nagar PHC", beds_total=20, beds_available=3,
                     opening_hours=WEEKDAY_HOURS)
    _facility(client, factory, clinic, name="Riverside Annexe")
    other_org = client.post(API, json=payload(name="Other Org Hospital", organization_id=str(clinic.other_org)),
                            headers=factory.headers(clinic.users[Role.admin])).json()
    nurse = factory.user(Role.nurse, organization_id=clinic.org)
    assert sign_in(client, nurse.username).status_code == 303

    page = client.get("/facilities/manage")
    assert page.status_code == 200
    assert_good_page(page.text)
    assert "Shivaji Nagar PHC" in page.text and "Riverside Annexe" in page.text
    assert "Other Org Hospital" not in page.text  # only their own organization's facilities
    assert 'value="09:00"' in page.text  # the weekly hours are pre-filled

    r = post_form(client, "/facilities/manage", f"/facilities/{mine['id']}/beds", {"available": "7", "total": "20"})
    assert r.status_code == 303
    read = client.get(f"{API}/{mine['id']}").json()
    assert (read["beds_available"], read["beds_total"]) == (7, 20)

    too_many = post_form(client, "/facilities/manage", f"/facilities/{mine['id']}/beds",
                         {"available": "25", "total": "20"})
    assert "error=beds" in too_many.headers["location"]
    assert "available beds must be a whole number, not more than the total" in \
        client.get(too_many.headers["location"]).text
    assert client.get(f"{API}/{mine['id']}").json()["beds_available"] == 7  # nothing lost, nothing changed

    hours = {"version": str(read["version"]), "time_zone": "Asia/Kolkata", "closed_dates": "2026-03-12",
             "mon_opens": "08:00", "mon_closes": "14:00", "sat_opens": "10:00", "sat_closes": "12:00"}
    r = post_form(client, "/facilities/manage", f"/facilities/{mine['id']}/hours", hours)
    assert r.status_code == 303 and "error" not in r.headers["location"]
    saved = client.get(f"{API}/{mine['id']}").json()["opening_hours"]
    assert saved["weekly"] == {"mon": [{"opens": "08:00", "closes": "14:00"}],
                               "sat": [{"opens": "10:00", "closes": "12:00"}]}
    assert saved["exceptions"] == [{"date": "2026-03-12", "closed": True, "ranges": [], "note": None}]

    # the clock stands at Tue 2026-03-10 15:00 in Kolkata: closed on Tuesdays now, so open_now is false
    hits = client.get(f"{API}/search", params={"lat": 18.52, "lng": 73.85, "radius_km": 5, "open_now": "true"})
    assert "Shivaji Nagar PHC" not in [h["facility"]["name"] for h in hits.json()["items"]]

    stale = post_form(client, "/facilities/manage", f"/facilities/{mine['id']}/hours", {**hours, "mon_opens": "07:00"})
    assert "error=stale" in stale.headers["location"]  # the version read before the last save

    bad = post_form(client, "/facilities/manage", f"/facilities/{mine['id']}/hours",
                    {**hours, "version": "", "time_zone": "Mars/Olympus"})
    assert "error=hours" in bad.headers["location"]

    refused = post_form(client, "/facilities/manage", f"/facilities/{other_org['id']}/beds", {"available": "1"})
    assert refused.status_code == 403


def test_patient_cannot_open_the_staff_page(client: TestClient, clinic: Clinic) -> None:
    assert sign_in(client, clinic.users[Role.patient].username).status_code == 303
    assert client.get("/facilities/manage").status_code == 403
    assert client.get("/admin/facilities/import").status_code == 403


def test_admin_imports_csv_through_the_page_and_reads_the_report(client: TestClient, clinic: Clinic) -> None:
    client.app.state.settings.require_totp_for_admins = False  # type: ignore[attr-defined]
    admin = clinic.users[Role.admin]
    assert sign_in(client, admin.username).status_code == 303
    form = client.get("/admin/facilities/import")
    assert form.status_code == 200
    assert_good_page(form.text)
    csv_text = ("external_id,name,type,lat,lng,specialties,hours\n"
                "page-1,Kothrud Clinic,private_clinic,18.50,73.81,dermatology,Mo-Fr 09:00-17:00\n"
                "page-2,No Place,private_clinic,,73.84,,\n")
    r = client.post("/admin/facilities/import", data={"csrf_token": csrf_token(form.text), "format": "csv"},
                    files={"file": ("f.csv", csv_text.encode(), "text/csv")})
    assert r.status_code == 200, r.text
    assert "added 1" in r.text and "refused 1" in r.text
    assert "line 3" in r.text and "page-2" in r.text

    unreadable = client.post("/admin/facilities/import",
                             data={"csrf_token": csrf_token(form.text), "format": "geojson"},
                             files={"file": ("f.json", b"{not json", "application/json")})
    assert unreadable.status_code == 422
    assert "The file could not be read" in unreadable.text

    forged = client.post("/admin/facilities/import", data={"format": "csv"},
                         files={"file": ("f.csv", csv_text.encode(), "text/csv")})
    assert forged.status_code == 403  # no CSRF token


def test_manage_page_in_hindi(client: TestClient, factory: Factory, clinic: Clinic, database: Database) -> None:
    _facility(client, factory, clinic, name="Shivaji Nagar PHC", opening_hours=WEEKDAY_HOURS)
    desk = clinic.users[Role.front_desk]
    with database.unit_of_work() as s:
        s.execute(update(User).where(User.id == desk.id).values(language="hi"))
    assert sign_in(client, desk.username).status_code == 303
    page = client.get("/facilities/manage")
    assert page.status_code == 200
    assert_good_page(page.text, lang="hi")
    assert "बिस्तर और खुलने का समय" in page.text and "सोमवार" in page.text and "बिस्तर सहेजें" in page.text
