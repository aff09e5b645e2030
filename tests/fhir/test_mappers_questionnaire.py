"""Questionnaire and QuestionnaireResponse over FHIR: kept whole as validated JSON (no mental-health context yet),
read back unchanged, searched by their R4 parameters (questionnaire, status, authored, subject/patient, url,
name, …); the response's patient decides who reads it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carebridge.security import Role
from tests.factories import Clinic, Factory
from tests.fhir.mapper_helpers import FHIR, post, search

PHQ2 = "http://example.org/fhir/Questionnaire/phq-2"


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


@pytest.fixture
def staff(factory: Factory, clinic: Clinic) -> dict[str, str]:
    return {**factory.headers(clinic.users[Role.practitioner]), "Content-Type": FHIR}


def questionnaire(url: str = PHQ2, status: str = "active", name: str = "PHQ2") -> dict[str, Any]:
    return {"resourceType": "Questionnaire", "url": url, "version": "1.0", "name": name, "title": "Mood screen",
            "status": status, "date": "2025-06-01", "publisher": "Synthetic Health",
            "item": [{"linkId": "1", "text": "Little interest or pleasure in doing things?", "type": "choice",
                      "code": [{"system": "http://loinc.org", "code": "44250-9"}]}]}


def response(pid: uuid.UUID, authored: str = "2026-03-01T10:00:00Z", status: str = "completed",
             qurl: str = PHQ2) -> dict[str, Any]:
    return {"resourceType": "QuestionnaireResponse", "questionnaire": f"{qurl}|1.0", "status": status,
            "subject": {"reference": f"Patient/{pid}"}, "authored": authored,
            "item": [{"linkId": "1", "answer": [{"valueCoding": {"code": "LA6569-3", "display": "Several days"}}]}]}


def test_questionnaires_round_trip_and_search(client: TestClient, staff: dict[str, str]) -> None:
    q = questionnaire()
    made = post(client, staff, q)
    got = client.get(f"/fhir/R4/Questionnaire/{made['id']}", headers=staff).json()
    assert {k: v for k, v in got.items() if k not in ("id", "meta")} == q
    retired = post(client, staff, questionnaire("http://example.org/fhir/Questionnaire/old", "retired", "OLD"))
    assert search(client, staff, f"Questionnaire?url={PHQ2}") == [made["id"]]
    assert search(client, staff, f"Questionnaire?url={PHQ2}|1.0") == []  # the url element carries no version
    assert search(client, staff, "Questionnaire?status=retired") == [retired["id"]]
    assert search(client, staff, "Questionnaire?name=ph") == [made["id"]]
    assert search(client, staff, "Questionnaire?code=http://loinc.org|44250-9&status=active") == [made["id"]]
    assert set(search(client, staff, "Questionnaire?date=ge2025-06-01&publisher=synthetic")) == {made["id"],
                                                                                                   retired["id"]}
    assert search(client, staff, "Questionnaire?date=lt2025-06-01") == []
    assert client.get("/fhir/R4/Questionnaire?patient=x", headers=staff).status_code == 400  # no such parameter


def test_responses_round_trip_search_and_follow_the_patient(client: TestClient, factory: Factory,
                                                              staff: dict[str, str], clinic: Clinic) -> None:
    sent = response(clinic.patient_id)
    first = post(client, staff, sent)
    got = client.get(f"/fhir/R4/QuestionnaireResponse/{first['id']}", headers=staff).json()
    assert {k: v for k, v in got.items() if k not in ("id", "meta")} == sent
    later = post(client, staff, response(clinic.patient_id, "2026-03-09T08:00:00Z", "in-progress"))
    p = f"QuestionnaireResponse?patient=Patient/{clinic.patient_id}"
    assert set(search(client, staff, p)) == {first["id"], later["id"]}
    assert search(client, staff, f"QuestionnaireResponse?subject={clinic.patient_id}&status=in-progress") \
        == [later["id"]]
    assert set(search(client, staff, f"{p}&questionnaire={PHQ2}")) == {first["id"], later["id"]}
    assert search(client, staff, f"{p}&questionnaire=http://example.org/other") == []
    assert search(client, staff, f"{p}&authored=lt2026-03-05") == [first["id"]]
    assert search(client, staff, f"{p}&authored=2026-03-09&_sort=-authored") == [later["id"]]
    assert search(client, staff, f"{p}&_sort=-authored") == [later["id"], first["id"]]
    page = client.get(f"/fhir/R4/{p}&status=completed&_count=1", headers=staff).json()
    assert [e["resource"]["id"] for e in page["entry"]] == [first["id"]]
    seen, url = [], f"/fhir/R4/{p}&_count=1"
    while url:
        page = client.get(url.removeprefix("http://testserver"), headers=staff).json()
        seen += [e["resource"]["id"] for e in page.get("entry", [])]
        url = next((link["url"] for link in page.get("link", []) if link["relation"] == "next"), "")
    assert sorted(seen) == sorted([first["id"], later["id"]])

    stranger = factory.headers(factory.user(Role.practitioner, organization_id=clinic.other_org))
    assert client.get(f"/fhir/R4/QuestionnaireResponse/{first['id']}", headers=stranger).status_code == 403
    assert client.get(f"/fhir/R4/{p}", headers=stranger).status_code == 403
    everything = client.get(f"/fhir/R4/Patient/{clinic.patient_id}/$everything?_type=QuestionnaireResponse",
                            headers=staff).json()
    assert {e["resource"]["id"] for e in everything["entry"]} == {first["id"], later["id"]}

    cs = client.get("/fhir/R4/metadata", headers=staff).json()
    qr = next(r for r in cs["rest"][0]["resource"] if r["type"] == "QuestionnaireResponse")
    assert {"questionnaire", "authored", "status", "subject", "patient"} <= {p["name"] for p in qr["searchParam"]}
    assert "mental-health" in qr["documentation"]
