"""The facilities REST API: search filters and limits, admin CRUD, staff beds and hours, import and export."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from carebridge.contexts.audit.models import AuditEntry
from carebridge.kernel.db import Database
from carebridge.security import Role
from tests.factories import Clinic, Factory
from tests.integration.facilities.helpers import ALWAYS, WEEKDAY_HOURS, payload

API = "/api/v1/facilities"


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


@pytest.fixture
def admin(factory: Factory, clinic: Clinic) -> dict[str, str]:
    return factory.headers(clinic.users[Role.admin])


def _create(client: TestClient, headers: dict[str, str], **over: Any) -> dict[str, Any]:
    response = client.post(API, json=payload(**over), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_search_filters_and_orders_by_distance(client: TestClient, admin: dict[str, str]) -> None:
    # the clock stands at Tue 2026-03-10 09:30 UTC = 15:00 in Kolkata
    _create(client, admin, name="Cardiac 24x7", specialties=["cardiology"], emergency=True, ownership="public",
            insurance=["pmjay"], location={"lat": 18.53, "lng": 73.85}, opening_hours=ALWAYS)
    _create(client, admin, name="Cardiac Weekdays", specialties=["cardiology"], ownership="private",
            type="private_clinic", location={"lat": 18.521, "lng": 73.85}, opening_hours=WEEKDAY_HOURS)
    _create(client, admin, name="Skin Clinic", specialties=["dermatology"], services=["pathology"],
            type="private_clinic", location={"lat": 18.5201, "lng": 73.85}, opening_hours=None)
    _create(client, admin, name="Delhi Heart", specialties=["cardiology"], location={"lat": 28.61, "lng": 77.21})

    def names(**params: Any) -> list[str]:
        response = client.get(f"{API}/search", params={"lat": 18.52, "lng": 73.85, **params})
        assert response.status_code == 200, response.text
        return [h["facility"]["name"] for h in response.json()["items"]]

    assert names() == ["Skin Clinic", "Cardiac Weekdays", "Cardiac 24x7"]
    assert names(specialty="cardiology") == ["Cardiac Weekdays", "Cardiac 24x7"]
    assert names(specialty="cardiology", radius_km=500) == ["Cardiac Weekdays", "Cardiac 24x7"]
    assert "Delhi Heart" in names(specialty="cardiology", radius_km=500, lat=28.6, lng=77.2)
    assert names(service="pathology") == ["Skin Clinic"]
    assert names(emergency="true") == ["Cardiac 24x7"]
    assert names(ownership="private") == ["Cardiac Weekdays"]
    assert names(insurance="PM-JAY") == ["Cardiac 24x7"]
    assert names(type="private_clinic") == ["Skin Clinic", "Cardiac Weekdays"]
    assert names(type=["hospital", "private_clinic"], limit=1) == ["Skin Clinic"]
    assert names(open_now="true") == ["Cardiac Weekdays", "Cardiac 24x7"]  # unknown hours never count as open
    assert names(at="2026-03-14T12:00:00+05:30") == ["Cardiac 24x7"]  # Saturday
    hit = client.get(f"{API}/search", params={"lat": 18.52, "lng": 73.85, "open_now": "true"}).json()["items"][0]
    assert hit["open_at"] is True and hit["distance_km"] == pytest.approx(0.111, abs=0.002)
    assert hit["travel_minutes"] > 0


@pytest.mark.parametrize(("params", "field"), [
    ({"lat": 91, "lng": 0}, "lat"),
    ({"lat": 18.5, "lng": 73.8, "radius_km": 501}, "radius_km"),
    ({"lat": 18.5, "lng": 73.8, "limit": 101}, "limit"),
    ({"lat": 18.5, "lng": 73.8, "specialty": "astrology"}, "specialty"),
    ({"lat": 18.5, "lng": 73.8, "specialty": "radiology"}, "specialty"),  # a service, not a specialty
    ({"lat": 18.5, "lng": 73.8, "at": "2026-03-10T09:30:00"}, "at"),  # no offset
    ({"lat": "north", "lng": 73.8}, "lat"),
])
def test_search_refuses_bad_input_as_problem_json(client: TestClient, params: dict[str, Any], field: str) -> None:
    response = client.get(f"{API}/search", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert any(field in e["field"] for e in response.json()["errors"])


def test_admin_crud_and_others_refused(client: TestClient, factory: Factory, clinic: Clinic,
                                       admin: dict[str, str]) -> None:
    created = _create(client, admin, organization_id=str(clinic.org), name="Sunrise Hospital")
    fid = created["id"]
    assert client.get(f"{API}/{fid}").json()["name"] == "Sunrise Hospital"
    changed = client.patch(f"{API}/{fid}", json={"name": "Sunrise General", "version": 1}, headers=admin)
    assert changed.status_code == 200 and changed.json()["version"] == 2
    stale = client.patch(f"{API}/{fid}", json={"name": "Late", "version": 1}, headers=admin)
    assert stale.status_code == 409
    duplicate = client.post(API, json=payload(external_id=created["external_id"]), headers=admin)
    assert duplicate.status_code == 409
    bad_org = client.post(API, json=payload(organization_id=str(uuid.uuid4())), headers=admin)
    assert bad_org.status_code == 422
    nurse = factory.headers(clinic.users[Role.nurse])
    assert client.post(API, json=payload(), headers=nurse).status_code == 403
    assert client.patch(f"{API}/{fid}", json={"name": "X"}, headers=nurse).status_code == 403
    assert client.post(API, json=payload()).status_code == 401
    assert client.delete(f"{API}/{fid}", headers=admin).json()["active"] is False
    assert client.get(f"{API}/search", params={"lat": 18.52, "lng": 73.85}).json()["items"] == []
    assert client.get(f"{API}/{uuid.uuid4()}").status_code == 404
    assert client.get(f"{API}/not-a-uuid").status_code == 422


def test_beds_only_by_staff_of_the_owning_organization(client: TestClient, factory: Factory, clinic: Clinic,
                                                       admin: dict[str, str], database: Database) -> None:
    fid = _create(client, admin, organization_id=str(clinic.org), beds_total=50, beds_available=10)["id"]
    url = f"{API}/{fid}/beds"
    nurse = factory.headers(clinic.users[Role.nurse])
    ok = client.patch(url, json={"available": 7}, headers=nurse)
    assert ok.status_code == 200
    assert (ok.json()["beds_total"], ok.json()["beds_available"]) == (50, 7)
    assert ok.json()["beds_updated_at"] == "2026-03-10T09:30:00Z"
    assert client.patch(url, json={"available": 60}, headers=nurse).status_code == 422
    assert client.patch(url, json={"total": 5, "available": 6}, headers=nurse).status_code == 422
    other_nurse = factory.headers(factory.user(Role.nurse, organization_id=clinic.other_org))
    assert client.patch(url, json={"available": 1}, headers=other_nurse).status_code == 403
    patient = factory.headers(clinic.users[Role.patient])
    assert client.patch(url, json={"available": 1}, headers=patient).status_code == 403
    caregiver = factory.headers(clinic.users[Role.caregiver])
    assert client.patch(url, json={"available": 1}, headers=caregiver).status_code == 403
    assert client.patch(url, json={"available": 1}).status_code == 401
    assert client.get(f"{API}/{fid}").json()["beds_available"] == 7
    with database.unit_of_work() as s:
        entries = s.execute(select(AuditEntry).where(AuditEntry.resource_type == "Facility",
                                                     AuditEntry.resource_id == fid)).scalars().all()
    outcomes = sorted((e.action, e.outcome) for e in entries)
    assert ("update", "success") in outcomes
    assert outcomes.count(("update", "denied")) == 3  # other organization, patient, caregiver
    bed_entry = next(e for e in entries if e.outcome == "success" and "beds" in e.detail)
    assert bed_entry.detail["beds"] == {"before": {"beds_total": 50, "beds_available": 10},
                                        "after": {"beds_total": 50, "beds_available": 7}}


def test_hours_by_staff_of_the_owning_organization(client: TestClient, factory: Factory, clinic: Clinic,
                                                   admin: dict[str, str]) -> None:
    fid = _create(client, admin, organization_id=str(clinic.org), opening_hours=WEEKDAY_HOURS)["id"]
    url = f"{API}/{fid}/hours"
    front_desk = factory.headers(clinic.users[Role.front_desk])
    holiday = {**WEEKDAY_HOURS, "exceptions": [{"date": "2026-03-10", "closed": True, "note": "Holi"}]}
    response = client.patch(url, json={"opening_hours": holiday}, headers=front_desk)
    assert response.status_code == 200
    assert response.json()["opening_hours"]["exceptions"][0]["note"] == "Holi"
    found = client.get(f"{API}/search", params={"lat": 18.52, "lng": 73.85, "open_now": "true"}).json()["items"]
    assert found == []  # closed today for the holiday
    bad = client.patch(url, json={"opening_hours": {"time_zone": "Mars/Base"}}, headers=front_desk)
    assert bad.status_code == 422
    other = factory.headers(factory.user(Role.front_desk, organization_id=clinic.other_org))
    assert client.patch(url, json={"opening_hours": None}, headers=other).status_code == 403


def test_import_reports_rejected_lines_and_export_every_format(client: TestClient, factory: Factory,
                                                               clinic: Clinic, admin: dict[str, str]) -> None:
    csv_text = ("external_id,name,type,lat,lng,specialties,hours\n"
                "api-1,Deccan Clinic,private_clinic,18.51,73.84,dermatology,Mo-Fr 09:00-17:00\n"
                "api-2,Nowhere,private_clinic,,73.84,,\n")
    response = client.post(f"{API}/import", headers=admin, data={"format": "csv"},
                           files={"file": ("f.csv", csv_text.encode(), "text/csv")})
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["total"], report["created"], report["rejected"]) == (2, 1, 1)
    assert report["rejected_rows"][0]["line"] == 3
    assert report["rejected_rows"][0]["external_id"] == "api-2"

    bad = client.post(f"{API}/import", headers=admin, data={"format": "geojson"},
                      files={"file": ("f.json", b"{not json", "application/json")})
    assert bad.status_code == 422
    nurse = factory.headers(clinic.users[Role.nurse])
    assert client.post(f"{API}/import", headers=nurse, data={"format": "csv"},
                       files={"file": ("f.csv", csv_text.encode(), "text/csv")}).status_code == 403

    csv_out = client.get(f"{API}/export", params={"format": "csv"}, headers=admin)
    assert csv_out.status_code == 200 and csv_out.headers["content-type"].startswith("text/csv")
    assert "Deccan Clinic" in csv_out.text and csv_out.text.startswith("external_id,name,type")
    geo = client.get(f"{API}/export", params={"format": "geojson"}, headers=admin).json()
    assert geo["features"][0]["geometry"]["coordinates"] == [73.84, 18.51]
    fhir = client.get(f"{API}/export", params={"format": "fhir"}, headers=admin)
    bundle = json.loads(fhir.text)
    assert bundle["resourceType"] == "Bundle" and bundle["entry"][0]["resource"]["resourceType"] == "Location"
    assert client.get(f"{API}/export", params={"format": "xml"}, headers=admin).status_code == 422
    assert client.get(f"{API}/export", headers=nurse).status_code == 403


def test_list_pages_by_name_and_refuses_forged_cursors(client: TestClient, admin: dict[str, str]) -> None:
    for name in ("Charlie Clinic", "Alpha Clinic", "Bravo Clinic"):
        _create(client, admin, name=name)
    first = client.get(API, params={"limit": 2}).json()
    assert [f["name"] for f in first["items"]] == ["Alpha Clinic", "Bravo Clinic"]
    second = client.get(API, params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [f["name"] for f in second["items"]] == ["Charlie Clinic"] and second["next_cursor"] is None
    forged = "WzEsIjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMCJd"  # [1, "<uuid>"]: a number for the name
    assert client.get(API, params={"cursor": forged}).status_code == 422
    assert client.get(API, params={"cursor": "garbage!"}).status_code == 422
