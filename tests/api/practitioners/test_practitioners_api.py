"""Organizations, practitioners, roles and the specialty list over HTTP."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from carebridge.engines import specialties
from carebridge.kernel.pagination import encode_cursor
from carebridge.security import Role
from tests.factories import Factory


def _problem(r: Any, status: int, slug: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    if slug:
        assert body["type"].endswith("/" + slug), body
    return body


def _doctor(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "given_name": "Anjali", "family_name": "Deshpande", "gender": "female",
        "registration_number": "MMC-2009-12345", "registration_council": "Maharashtra Medical Council",
        "qualifications": [{"name": "MBBS", "institution": "BJ Medical College", "year": 2008},
                           {"name": "MD (Paediatrics)", "year": 2012}],
        "specialties": ["paediatrics", "neonatology"], "languages": ["mr", "hi", "en"],
        "phone": "+91 98230 55555", "email": "anjali@example.com",
    }
    body.update(over)
    return body


def test_specialty_list_is_public_and_bilingual(client: TestClient) -> None:
    r = client.get("/api/v1/specialties")
    assert r.status_code == 200
    rows = r.json()
    assert [row["code"] for row in rows] == [s.code for s in specialties.all_specialties()]
    cardiology = next(row for row in rows if row["code"] == "cardiology")
    assert cardiology["name_hi"] == "हृदय रोग" and cardiology["name_en"] == "Cardiology"


def test_admin_creates_and_updates_organizations_anyone_reads(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    admin = factory.headers(clinic.users[Role.admin])
    r = client.post("/api/v1/organizations", json={"name": "Janata Lab", "type": "lab", "external_id": "HFR-1",
                                                   "city": "Nashik", "country": "IN"}, headers=admin)
    assert r.status_code == 201, r.text
    lab = r.json()
    assert lab["type"] == "lab" and lab["active"] is True
    _problem(client.post("/api/v1/organizations", json={"name": "Copy", "type": "lab", "external_id": "HFR-1"},
                         headers=admin), 409)
    _problem(client.post("/api/v1/organizations", json={"name": "X", "type": "spa"}, headers=admin), 422)
    _problem(client.post("/api/v1/organizations", json={"name": "X", "type": "lab"},
                         headers=factory.headers(clinic.users[Role.nurse])), 403)

    patient = factory.headers(clinic.users[Role.patient])
    assert client.get(f"/api/v1/organizations/{lab['id']}", headers=patient).json()["name"] == "Janata Lab"
    listed = client.get("/api/v1/organizations?name=jan&type=lab", headers=patient).json()
    assert [o["id"] for o in listed["items"]] == [lab["id"]]
    assert client.get("/api/v1/organizations").status_code == 401

    # the clinic's admin changes the clinic but not the lab
    r = client.patch(f"/api/v1/organizations/{clinic.org}", json={"phone": "+91 20 2444 5555"}, headers=admin)
    assert r.status_code == 200 and r.json()["phone"] == "+91 20 2444 5555"
    _problem(client.patch(f"/api/v1/organizations/{lab['id']}", json={"name": "Mine"}, headers=admin), 403)
    _problem(client.patch(f"/api/v1/organizations/{clinic.org}", json={"name": None}, headers=admin), 422)


def test_organization_list_pages(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    admin = factory.headers(clinic.users[Role.admin])
    for n in range(5):
        client.post("/api/v1/organizations", json={"name": f"Zeta Pharmacy {n}", "type": "pharmacy"},
                    headers=admin).raise_for_status()
    seen: list[str] = []
    url = "/api/v1/organizations?type=pharmacy&limit=2"
    cursor = None
    while True:
        page = client.get(url + (f"&cursor={cursor}" if cursor else ""), headers=admin).json()
        seen += [o["name"] for o in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"Zeta Pharmacy {n}" for n in range(5)]
    _problem(client.get("/api/v1/organizations?limit=1000", headers=admin), 422)


def test_practitioner_registration_validation(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    admin = factory.headers(clinic.users[Role.admin])
    r = client.post("/api/v1/practitioners", json=_doctor(), headers=admin)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["specialties"] == ["paediatrics", "neonatology"] and doc["qualifications"][0]["name"] == "MBBS"
    body = _problem(client.post("/api/v1/practitioners", json=_doctor(given_name="Other"), headers=admin), 409,
                    "registration-in-use")
    assert body["practitioner_id"] == doc["id"]
    body = _problem(client.post("/api/v1/practitioners", json=_doctor(registration_number="N-2",
                                                                      specialties=["cardiology", "astrology"]),
                                headers=admin), 422, "validation")
    assert "astrology" in body["detail"] and body["errors"][0]["field"] == "specialties.1"
    _problem(client.post("/api/v1/practitioners", json=_doctor(registration_council=None), headers=admin), 422)
    _problem(client.post("/api/v1/practitioners", json=_doctor(registration_number="N-3",
                                                               specialties=["general_practice"] * 21),
                         headers=admin), 422)
    _problem(client.post("/api/v1/practitioners", json=_doctor(registration_number="N-4", family_name="x" * 101),
                         headers=admin), 422)
    _problem(client.post("/api/v1/practitioners", json=_doctor(registration_number="N-5"),
                         headers=factory.headers(clinic.users[Role.front_desk])), 403)
    r = client.patch(f"/api/v1/practitioners/{doc['id']}", json={"specialties": ["paediatrics"]}, headers=admin)
    assert r.status_code == 200 and r.json()["specialties"] == ["paediatrics"]
    _problem(client.patch(f"/api/v1/practitioners/{doc['id']}", json={"specialties": ["nope"]}, headers=admin), 422)


def test_roles_and_search(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    admin = factory.headers(clinic.users[Role.admin])
    other_admin = factory.headers(factory.user(Role.admin, organization_id=clinic.other_org))
    peds = client.post("/api/v1/practitioners", json=_doctor(), headers=admin).json()
    cardio = client.post("/api/v1/practitioners", json=_doctor(
        given_name="Ramesh", family_name="Kulkarni", registration_number="MMC-1999-1", specialties=[]),
        headers=admin).json()

    r = client.post(f"/api/v1/practitioners/{peds['id']}/roles",
                    json={"organization_id": str(clinic.org), "code": "doctor"}, headers=admin)
    assert r.status_code == 201, r.text
    role = r.json()
    _problem(client.post(f"/api/v1/practitioners/{peds['id']}/roles",
                         json={"organization_id": str(clinic.org), "code": "doctor"}, headers=admin), 409)
    _problem(client.post(f"/api/v1/practitioners/{peds['id']}/roles",
                         json={"organization_id": str(clinic.org), "code": "doctor"}, headers=other_admin), 403)
    r = client.post(f"/api/v1/practitioners/{cardio['id']}/roles",
                    json={"organization_id": str(clinic.other_org), "code": "doctor", "specialties": ["cardiology"]},
                    headers=other_admin)
    assert r.status_code == 201, r.text
    # once a practitioner works at the other hospital only, this clinic's admin cannot change them
    _problem(client.patch(f"/api/v1/practitioners/{cardio['id']}", json={"phone": "+91 90000 00001"},
                          headers=admin), 403)

    nurse = factory.headers(clinic.users[Role.nurse])

    def found(query: str) -> list[str]:
        r = client.get(f"/api/v1/practitioners?{query}", headers=nurse)
        assert r.status_code == 200, r.text
        return [p["family_name"] for p in r.json()["items"]]

    assert found("name=anj") == ["Deshpande"]
    assert found("name=KULK") == ["Kulkarni"]
    assert found("specialty=neonatology") == ["Deshpande"]
    assert found("specialty=cardiology") == ["Kulkarni"]  # through the role's specialties
    assert found(f"organization_id={clinic.org}") == ["Deshpande"]
    assert found(f"organization_id={clinic.other_org}&specialty=cardiology") == ["Kulkarni"]
    _problem(client.get("/api/v1/practitioners?specialty=astrology", headers=nurse), 422)

    listed = client.get(f"/api/v1/organizations/{clinic.org}/practitioner-roles", headers=nurse).json()
    assert [x["id"] for x in listed] == [role["id"]]
    r = client.patch(f"/api/v1/practitioner-roles/{role['id']}", json={"active": False}, headers=admin)
    assert r.status_code == 200 and r.json()["active"] is False
    assert found(f"organization_id={clinic.org}") == []
    assert client.get(f"/api/v1/practitioners/{peds['id']}/roles?include_inactive=true",
                      headers=nurse).json()[0]["active"] is False
    _problem(client.patch(f"/api/v1/practitioner-roles/{role['id']}", json={"active": True}, headers=other_admin), 403)


def test_openapi_documents_every_practitioner_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    ops = [op for item in paths.values() for op in item.values() if "practitioners" in op.get("tags", [])]
    assert len(ops) == 13
    assert all(op["summary"] for op in ops)


def test_control_characters_in_queries_are_refused_not_crashing(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    h = factory.headers(clinic.users[Role.nurse])
    for url in ("/api/v1/organizations?name=a%00b", "/api/v1/practitioners?name=a%00b",
                "/api/v1/practitioners?specialty=card%00", "/api/v1/patients?identifier=x%00y",
                "/api/v1/patients?name=a%00", "/api/v1/organizations?cursor=%00"):
        _problem(client.get(url, headers=h), 422)


def test_forged_cursors_are_refused(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    h = factory.headers(clinic.users[Role.nurse])
    for url, keys in (("/api/v1/patients", ["a\x00", "b", "c"]), ("/api/v1/patients", ["a", "b", "not-a-uuid"]),
                      ("/api/v1/organizations", ["x\x00", "y"]), ("/api/v1/practitioners", [1, 2, 3])):
        _problem(client.get(url, params={"cursor": encode_cursor(keys)}, headers=h), 422)
