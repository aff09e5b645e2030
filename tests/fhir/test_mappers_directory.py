"""The directory over FHIR: Practitioner, PractitionerRole, Organization, Location and HealthcareService read and
searched by their R4 parameters (name, family, given, gender, identifier, active, telecom, communication; type,
address-city; role, specialty; near, status, organization; service-type, location), none of them writable."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from carebridge.security import Role
from tests.factories import Clinic, Factory
from tests.fhir.mapper_helpers import FHIR, search
from tests.integration.scheduling.helpers import make_facility, make_practitioner


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


@pytest.fixture
def staff(factory: Factory, clinic: Clinic) -> dict[str, str]:
    return {**factory.headers(clinic.users[Role.practitioner]), "Content-Type": FHIR}


@pytest.fixture
def admin(factory: Factory, clinic: Clinic) -> dict[str, str]:
    return factory.headers(clinic.users[Role.admin])


def _get(client: TestClient, headers: dict[str, str], path: str) -> dict[str, Any]:
    r = client.get(f"/fhir/R4/{path}", headers=headers)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_practitioners_by_name_parts_gender_telecom_language_and_active(
        client: TestClient, staff: dict[str, str], admin: dict[str, str]) -> None:
    kavya = make_practitioner(client, admin, given_name="Kavya Sri", family_name="Raonaik", gender="female",
                              email="kavya@sunrise-clinic.in", phone="+91 98200 22222", languages=["kn", "en"])
    arjun = make_practitioner(client, admin, given_name="Arjun", family_name="Raoji", gender="male", languages=["hi"])
    body = _get(client, staff, f"Practitioner/{kavya}")
    assert body["name"][0] == {"use": "official", "given": ["Kavya", "Sri"], "family": "Raonaik"}
    assert {"system": "email", "value": "kavya@sunrise-clinic.in"} in body["telecom"]
    assert set(search(client, staff, "Practitioner?name=rao")) >= {kavya, arjun}
    assert search(client, staff, "Practitioner?name=rao&family=raon") == [kavya]
    assert search(client, staff, "Practitioner?name=rao&given=sri") == [kavya]
    assert search(client, staff, "Practitioner?name=rao&gender=male") == [arjun]
    assert search(client, staff, "Practitioner?name=rao&email=kavya@sunrise-clinic.in") == [kavya]
    assert search(client, staff, "Practitioner?name=rao&phone=%2B919820022222") == [kavya]
    assert search(client, staff, "Practitioner?name=rao&communication=urn:ietf:bcp:47|kn") == [kavya]
    assert search(client, staff, f"Practitioner?_id={arjun}") == [arjun]
    r = client.patch(f"/api/v1/practitioners/{arjun}", headers=admin, json={"active": False})
    assert r.status_code == 200, r.text  # a deactivated practitioner leaves the listing; active=false finds it
    assert kavya in search(client, staff, "Practitioner?name=rao") and arjun not in search(
        client, staff, "Practitioner?name=rao")
    assert search(client, staff, "Practitioner?name=rao&active=false") == [arjun]
    assert client.get("/fhir/R4/Practitioner?active=maybe", headers=staff).status_code == 400
    assert client.post("/fhir/R4/Practitioner", json={"resourceType": "Practitioner"},
                       headers=staff).status_code == 405


def test_organizations_and_roles(client: TestClient, factory: Factory, staff: dict[str, str],
                                 admin: dict[str, str], clinic: Clinic) -> None:
    lab = str(factory.organization("Riverbank Labs", "lab"))
    body = _get(client, staff, f"Organization/{lab}")
    assert body["name"] == "Riverbank Labs" and body["type"] == [{"text": "lab"}]
    assert search(client, staff, "Organization?name=riverbank") == [lab]
    assert search(client, staff, "Organization?name=riverbank&type=lab") == [lab]
    assert search(client, staff, "Organization?name=riverbank&type=hospital") == []
    assert search(client, staff, "Organization?name=riverbank&address-city=pun") == [lab]
    assert search(client, staff, "Organization?name=riverbank&address-city=delhi") == []

    doc = make_practitioner(client, admin, specialties=["cardiology"])
    r = client.post(f"/api/v1/practitioners/{doc}/roles", headers=admin,
                    json={"organization_id": str(clinic.org), "code": "doctor", "specialties": ["cardiology"]})
    assert r.status_code == 201, r.text
    roles = _get(client, staff, f"PractitionerRole?practitioner=Practitioner/{doc}")["entry"]
    assert [e["resource"]["organization"] for e in roles] == [{"reference": f"Organization/{clinic.org}"}]
    rid = roles[0]["resource"]["id"]
    assert search(client, staff, f"PractitionerRole?organization={clinic.org}&role=doctor") == [rid]
    assert search(client, staff, f"PractitionerRole?practitioner={doc}&specialty=cardiology") == [rid]
    assert search(client, staff, f"PractitionerRole?practitioner={doc}&specialty=oncology") == []
    assert client.get("/fhir/R4/PractitionerRole?role=doctor", headers=staff).status_code == 400


def test_locations_and_services(client: TestClient, staff: dict[str, str], admin: dict[str, str],
                                clinic: Clinic) -> None:
    fid = make_facility(client, admin, clinic.org, name="Lakeside Hospital", services=["radiology"],
                        specialties=["cardiology"], location={"lat": 18.60, "lng": 73.90})
    loc = _get(client, staff, f"Location/{fid}")
    assert loc["name"] == "Lakeside Hospital" and loc["position"] == {"latitude": 18.6, "longitude": 73.9}
    near = "Location?near=18.60|73.90|5|km"
    assert fid in search(client, staff, near)
    assert fid in search(client, staff, f"{near}&status=active&type=hospital&organization=Organization/{clinic.org}")
    assert search(client, staff, f"{near}&status=inactive") == []
    assert search(client, staff, f"Location?_id={fid}") == [fid]
    assert search(client, staff, f"{near}&name=lake") == [fid]
    assert search(client, staff, f"{near}&address-city=mumbai") == []
    svc = _get(client, staff, f"HealthcareService/{fid}")
    assert svc["location"] == [{"reference": f"Location/{fid}"}]
    s = f"HealthcareService?location=Location/{fid}"
    assert search(client, staff, f"{s}&service-type=radiology&specialty=cardiology&active=true") == [fid]
    assert search(client, staff, f"{s}&service-type=pathology") == []
    assert search(client, staff, f"{s}&organization={clinic.org}") == [fid]
    assert client.get("/fhir/R4/HealthcareService?specialty=cardiology", headers=staff).status_code == 400
    assert client.get("/fhir/R4/Location", headers=staff).status_code == 400


def test_the_capability_statement_lists_these_parameters(client: TestClient, staff: dict[str, str]) -> None:
    resources = {r["type"]: r for r in _get(client, staff, "metadata")["rest"][0]["resource"]}
    params = {t: {p["name"] for p in r["searchParam"]} for t, r in resources.items()}
    assert {"family", "given", "gender", "active", "communication"} <= params["Practitioner"]
    assert {"type", "address-city", "active"} <= params["Organization"]
    assert {"role", "specialty"} <= params["PractitionerRole"]
    assert {"status", "organization"} <= params["Location"]
    assert {"service-type", "date"} <= params["Schedule"]
    assert "create" not in {i["code"] for i in resources["Practitioner"]["interaction"]}
    assert "read" not in {i["code"] for i in resources["Slot"]["interaction"]}
