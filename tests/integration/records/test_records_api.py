"""The clinical record through the API: writes, the closed-encounter lock and amendments, the abnormal flag,
unit validation, refusals (audited) and the timeline's order, filters and paging."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from carebridge.contexts.audit.models import AuditEntry
from carebridge.kernel.db import Database
from carebridge.security import Role
from tests.factories import Clinic, Factory


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


def _audit(database: Database, **where: Any) -> list[AuditEntry]:
    with database.unit_of_work() as s:
        stmt = select(AuditEntry).order_by(AuditEntry.seq)
        for k, v in where.items():
            stmt = stmt.where(getattr(AuditEntry, k) == v)
        return list(s.scalars(stmt))


def _doctor(factory: Factory, clinic: Clinic) -> dict[str, str]:
    return factory.headers(clinic.users[Role.practitioner])


def _url(clinic: Clinic, tail: str) -> str:
    return f"/api/v1/patients/{clinic.patient_id}/{tail}"


def _open(client: TestClient, h: dict[str, str], clinic: Clinic, **extra: Any) -> dict[str, Any]:
    body = {"encounter_class": "AMB", "start_at": "2026-03-10T09:00:00+05:30", "reason": "Fever for three days",
            "subjective": "Fever, body ache", **extra}
    r = client.post(_url(clinic, "encounters"), json=body, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def test_a_visit_with_a_diagnosis_observation_and_allergy(client: TestClient, factory: Factory,
                                                          clinic: Clinic) -> None:
    h = _doctor(factory, clinic)
    enc = _open(client, h, clinic)
    assert enc["status"] == "in-progress"
    r = client.post(_url(clinic, "conditions"), json={"code": "a97", "category": "encounter-diagnosis",
                                                     "encounter_id": enc["id"]}, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["code"] == "A97" and "Dengue" in r.json()["display"]
    r = client.post(_url(clinic, "allergies"), json={"substance": "Penicillin", "category": "medication",
                                                    "criticality": "high", "reaction": "hives",
                                                    "severity": "moderate"}, headers=h)
    assert r.status_code == 201, r.text
    got = client.get(_url(clinic, f"encounters/{enc['id']}"), headers=h).json()
    assert [d["code"] for d in got["diagnoses"]] == ["A97"]
    # the patient reads their own allergies
    mine = client.get(_url(clinic, "allergies"), headers=factory.headers(clinic.users[Role.patient]))
    assert mine.status_code == 200 and mine.json()["items"][0]["substance"] == "Penicillin"


def test_observation_flag_comes_from_the_reference_range(client: TestClient, factory: Factory,
                                                         clinic: Clinic) -> None:
    h = _doctor(factory, clinic)
    at = "2026-03-10T09:10:00+00:00"
    cases = [("2823-3", 5.8, "H"), ("2823-3", 2.5, "LL"), ("2823-3", 4.2, "N"), ("718-7", 9.0, "L")]
    for code, value, flag in cases:
        r = client.post(_url(clinic, "observations"), json={"code": code, "value": value, "effective_at": at},
                        headers=h)
        assert r.status_code == 201, r.text
        assert r.json()["interpretation"] == flag, (code, value)
        assert r.json()["unit"] in ("mmol/L", "g/dL")
    # the lab's own range wins over the shipped one
    r = client.post(_url(clinic, "observations"), json={"code": "2823-3", "value": 5.3, "ref_low": 3.6,
                                                        "ref_high": 5.5, "effective_at": at}, headers=h)
    assert r.json()["interpretation"] == "N"


def test_units_must_be_ucum(client: TestClient, factory: Factory, clinic: Clinic) -> None:
    h = _doctor(factory, clinic)
    body = {"code": "8480-6", "value": 150, "unit": "mmHg", "effective_at": "2026-03-10T09:10:00+00:00"}
    r = client.post(_url(clinic, "observations"), json=body, headers=h)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "UCUM" in r.text
    r = client.post(_url(clinic, "observations"), json={**body, "unit": "mm[Hg]"}, headers=h)
    assert r.status_code == 201 and r.json()["interpretation"] == "H"
    # an unknown LOINC code and a value-less observation are refused too
    assert client.post(_url(clinic, "observations"), json={**body, "unit": None, "code": "99999-9"},
                       headers=h).status_code == 422
    assert client.post(_url(clinic, "observations"), json={"code": "8480-6", "effective_at": body["effective_at"]},
                       headers=h).status_code == 422


def test_closed_encounter_refuses_edits_but_takes_an_audited_amendment(client: TestClient, factory: Factory,
                                                                       clinic: Clinic, database: Database) -> None:
    h = _doctor(factory, clinic)
    enc = _open(client, h, clinic, assessment="Viral fever")
    cond = client.post(_url(clinic, "conditions"), json={"code": "R50", "encounter_id": enc["id"]},
                       headers=h).json()
    r = client.post(_url(clinic, f"encounters/{enc['id']}/close"), json={}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "finished"
    # the note and the diagnosis are frozen
    r = client.patch(_url(clinic, f"encounters/{enc['id']}"), json={"assessment": "Dengue"}, headers=h)
    assert r.status_code == 409 and "record-locked" in r.json()["type"]
    r = client.patch(_url(clinic, f"conditions/{cond['id']}"), json={"clinical_status": "resolved"}, headers=h)
    assert r.status_code == 409
    # nothing new can be attached to the closed encounter
    r = client.post(_url(clinic, "conditions"), json={"code": "A97", "encounter_id": enc["id"]}, headers=h)
    assert r.status_code == 409
    # a nurse may not amend; the practitioner may, with a reason
    amend = {"reason": "NS1 antigen came back positive", "changes": {"assessment": "Dengue fever"}}
    nurse = factory.headers(clinic.users[Role.nurse])
    assert client.post(_url(clinic, f"amendments/encounter/{enc['id']}"), json=amend,
                       headers=nurse).status_code == 403
    assert client.post(_url(clinic, f"amendments/encounter/{enc['id']}"), json={"reason": "", "changes": {}},
                       headers=h).status_code == 422
    r = client.post(_url(clinic, f"amendments/encounter/{enc['id']}"), json=amend, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["before"] == {"assessment": "Viral fever"}
    assert r.json()["after"] == {"assessment": "Dengue fever"}
    got = client.get(_url(clinic, f"encounters/{enc['id']}"), headers=h).json()
    assert got["assessment"] == "Dengue fever" and got["amendments"] == 1
    # the original stays visible in the amendment history
    history = client.get(_url(clinic, f"amendments/encounter/{enc['id']}"), headers=h).json()
    assert history[0]["before"]["assessment"] == "Viral fever"
    assert history[0]["reason"] == "NS1 antigen came back positive"
    entry = [e for e in _audit(database, resource_type="Encounter", resource_id=enc["id"])
             if e.detail.get("amendment_id")]
    assert entry and entry[0].detail["reason"] == "NS1 antigen came back positive"
    # invalid amendment values are refused with field paths
    bad = client.post(_url(clinic, f"amendments/condition/{cond['id']}"),
                      json={"reason": "typo in status", "changes": {"clinical_status": "gone"}}, headers=h)
    assert bad.status_code == 422 and "changes.clinical_status" in bad.text
    timeline = client.get(_url(clinic, "timeline?kind=encounter"), headers=h).json()["items"]
    assert timeline[0]["amended"] is True


def test_strangers_are_refused_and_the_refusal_is_audited(client: TestClient, factory: Factory, clinic: Clinic,
                                                          database: Database) -> None:
    h = _doctor(factory, clinic)
    _open(client, h, clinic)
    strangers = {
        "another patient": factory.user(Role.patient, patient_id=clinic.other_patient_id),
        "unlinked caregiver": factory.user(Role.caregiver),
        "practitioner elsewhere": factory.user(Role.practitioner, organization_id=clinic.other_org),
    }
    for who, user in strangers.items():
        hh = factory.headers(user)
        for path in ("encounters", "timeline", "observations", "conditions"):
            assert client.get(_url(clinic, path), headers=hh).status_code in (403, 404), (who, path)
        assert client.post(_url(clinic, "allergies"), json={"substance": "Dust", "category": "environment"},
                           headers=hh).status_code in (403, 404), who
        denied = [e for e in _audit(database, patient_id=clinic.patient_id, user_id=user.id)
                  if e.outcome == "denied"]
        assert denied, who
    # the linked caregiver (read_record) reads but cannot write
    care = factory.headers(clinic.users[Role.caregiver])
    assert client.get(_url(clinic, "timeline"), headers=care).status_code == 200
    assert client.post(_url(clinic, "allergies"), json={"substance": "Dust", "category": "environment"},
                       headers=care).status_code == 403
    # front desk runs the day, not the clinical record
    desk = factory.headers(clinic.users[Role.front_desk])
    assert client.get(_url(clinic, "encounters"), headers=desk).status_code == 403


def test_timeline_order_filters_and_paging(client: TestClient, factory: Factory, clinic: Clinic,
                                           database: Database) -> None:
    h = _doctor(factory, clinic)
    base = factory.clock.now() - timedelta(days=200)
    for n in range(60):
        at = (base + timedelta(days=n * 3, minutes=n)).isoformat()
        r = client.post(_url(clinic, "observations"), json={"code": "8867-4", "value": 60 + n, "effective_at": at},
                        headers=h)
        assert r.status_code == 201
    for day in ("2025-10-01", "2025-11-01"):
        assert client.post(_url(clinic, "immunizations"), json={"vaccine_code": "td10", "occurrence_date": day},
                           headers=h).status_code == 201
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 25}
        if cursor:
            params["cursor"] = cursor
        page = client.get(_url(clinic, "timeline"), params=params, headers=h).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 62 and len({e["id"] for e in seen}) == 62
    keys = [(e["occurred_at"], e["id"]) for e in seen]
    assert keys == sorted(keys, reverse=True)
    vaccines = client.get(_url(clinic, "timeline"), params={"kind": "immunization"}, headers=h).json()["items"]
    assert [v["kind"] for v in vaccines] == ["immunization", "immunization"]
    window = client.get(_url(clinic, "timeline"), params={"from": "2025-10-15T00:00:00Z",
                                                          "to": "2025-11-15T00:00:00Z", "kind": "immunization"},
                        headers=h).json()["items"]
    assert [v["summary"] for v in window] == ["Vaccine: Tetanus and adult diphtheria"]
    high = [e for e in seen if e["flag"] == "H"]
    assert high and all(e["kind"] == "observation" for e in high)  # heart rate > 100 flagged
    assert client.get(_url(clinic, "timeline"), params={"cursor": "garbage!"}, headers=h).status_code == 422
    assert client.get(_url(clinic, "timeline"), params={"from": "2025-10-15T00:00:00"},
                      headers=h).status_code == 422


def test_care_plan_with_goals_and_progress_notes(client: TestClient, factory: Factory, clinic: Clinic) -> None:
    h = _doctor(factory, clinic)
    plan = client.post(_url(clinic, "care-plans"), json={
        "title": "Diabetes control", "period_start": "2026-03-10",
        "goals": [{"description": "HbA1c below 7%", "target_date": "2026-09-10"}],
        "activities": [{"description": "Walk 30 minutes daily"}]}, headers=h)
    assert plan.status_code == 201, plan.text
    pid = plan.json()["id"]
    r = client.post(_url(clinic, f"care-plans/{pid}/notes"), json={"text": "Walking 4 days a week"}, headers=h)
    assert r.status_code == 201 and r.json()["notes"][0]["text"] == "Walking 4 days a week"
    r = client.patch(_url(clinic, f"care-plans/{pid}"), json={"status": "completed"}, headers=h)
    assert r.json()["status"] == "completed"


def test_admission_discharge_summary_and_unknown_codes(client: TestClient, factory: Factory, clinic: Clinic) -> None:
    h = _doctor(factory, clinic)
    visit = _open(client, h, clinic)
    r = client.post(_url(clinic, f"encounters/{visit['id']}/discharge-summary"), json={"diagnoses": "x"}, headers=h)
    assert r.status_code == 422
    adm = _open(client, h, clinic, encounter_class="IMP")
    r = client.post(_url(clinic, f"encounters/{adm['id']}/discharge-summary"),
                    json={"diagnoses": "Dengue fever without warning signs", "follow_up": "OPD in one week"},
                    headers=h)
    assert r.status_code == 201, r.text
    closed = client.post(_url(clinic, f"encounters/{adm['id']}/close"), json={"end_at": "2026-03-10T09:20:00+05:30"},
                         headers=h)
    assert closed.status_code == 200
    entry = client.get(_url(clinic, "timeline"), params={"kind": "discharge_summary"}, headers=h).json()["items"][0]
    assert entry["occurred_at"].startswith("2026-03-10T03:50:00")
    assert client.post(_url(clinic, "conditions"), json={"code": "U99.9"}, headers=h).status_code == 422
    assert client.post(_url(clinic, "immunizations"), json={"vaccine_code": "XYZ", "occurrence_date": "2026-01-01"},
                       headers=h).status_code == 422
    assert client.post(_url(clinic, "encounters"), json={"encounter_class": "AMB", "start_at": "2026-03-10T09:00"},
                       headers=h).status_code == 422
    other = f"/api/v1/patients/{uuid.uuid4()}/encounters"
    assert client.get(other, headers=h).status_code == 404


def test_code_picker_api(client: TestClient, factory: Factory, clinic: Clinic) -> None:
    h = factory.headers(clinic.users[Role.nurse])
    r = client.get("/api/v1/codes/icd10", params={"q": "hypertention"}, headers=h)
    assert r.status_code == 200 and "I10" in [c["code"] for c in r.json()["items"]]
    assert client.get("/api/v1/codes/snomed", params={"q": "x"}, headers=h).status_code == 422
    assert client.get("/api/v1/codes/icd10", params={"q": "x"}).status_code == 401


def test_merging_a_duplicate_moves_its_record_to_the_survivor(client: TestClient, factory: Factory,
                                                              clinic: Clinic) -> None:
    h = _doctor(factory, clinic)
    duplicate = factory.patient(organization_id=clinic.org, given="Meera", family="Iyer")
    dup_url = f"/api/v1/patients/{duplicate}"
    assert client.post(dup_url + "/allergies", json={"substance": "Latex", "category": "environment"},
                       headers=h).status_code == 201
    desk = factory.headers(clinic.users[Role.front_desk])
    r = client.post(dup_url + "/merge", json={"into": str(clinic.patient_id)}, headers=desk)
    assert r.status_code == 200, r.text
    allergies = client.get(_url(clinic, "allergies"), headers=h).json()["items"]
    assert [a["substance"] for a in allergies] == ["Latex"]
    assert [e["kind"] for e in client.get(_url(clinic, "timeline"), headers=h).json()["items"]] == ["allergy"]
