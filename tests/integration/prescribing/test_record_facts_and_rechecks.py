"""Decision support reads the clinical record, and record changes re-check open prescriptions.

Allergies, problems and kidney function are recorded through the records API (as a clinician would); the
prescription never names them. The re-check job is driven with `run_once`, as the service's lifespan does.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts.patients.models import PatientOrganization
from carebridge.contexts.prescribing import reactions
from carebridge.contexts.prescribing.models import HandledEvent, InteractionCheck
from carebridge.contexts.prescribing.reactions import RecheckJob
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.kernel.events import emit
from carebridge.security import Role
from tests.factories import Clinic, Factory


def _item(name: str, dose: float, times: int = 1, days: int = 10) -> dict[str, Any]:
    return {"medication": name, "dose": dose, "unit": "mg", "route": "oral", "times_per_day": times,
            "duration_days": days}


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


@pytest.fixture
def doc(factory: Factory, clinic: Clinic) -> dict[str, str]:
    return factory.headers(clinic.users[Role.practitioner])


def _record(client: TestClient, doc: dict[str, str], patient: uuid.UUID, what: str, body: dict[str, Any]) -> None:
    r = client.post(f"/api/v1/patients/{patient}/{what}", json=body, headers=doc)
    assert r.status_code == 201, r.text


def _draft(client: TestClient, doc: dict[str, str], patient: uuid.UUID, items: list[dict[str, Any]],
           clinical: dict[str, Any] | None = None) -> dict[str, Any]:
    r = client.post("/api/v1/prescriptions", headers=doc,
                    json={"patient_id": str(patient), "items": items, "clinical": clinical or {}})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def _kinds(check: dict[str, Any]) -> set[tuple[str, str]]:
    return {(a["kind"], a["severity"]) for a in check["alerts"]}


def test_recorded_allergy_and_problem_reach_the_check_with_their_source(
        client: TestClient, doc: dict[str, str], clinic: Clinic) -> None:
    _record(client, doc, clinic.patient_id, "allergies", {"substance": "penicillin", "category": "medication"})
    _record(client, doc, clinic.patient_id, "conditions", {"code": "K25.0"})
    rx = _draft(client, doc, clinic.patient_id, [_item("amoxicillin", 500, 3), _item("ibuprofen", 400, 3)])
    check = rx["latest_check"]
    assert ("allergy", "contraindicated") in _kinds(check)
    assert ("condition", "major") in _kinds(check)
    assert check["inputs"]["sources"]["allergies_recorded"] == ["penicillin"]
    assert check["inputs"]["sources"]["conditions_recorded"] == ["K25.0"]
    assert check["outcome"] == "blocking"


def test_egfr_is_computed_from_the_latest_creatinine_with_ckd_epi_2021(
        client: TestClient, doc: dict[str, str], factory: Factory) -> None:
    # a 56-year-old woman on 2026-03-10; creatinine 3.0 mg/dL -> CKD-EPI 2021 eGFR 17.7 (142 x (3.0/0.7)^-1.2 x 0.9938^56 x 1.012)
    patient = factory.patient(organization_id=factory.organization(), birth_date=datetime(1970, 1, 1).date())
    clinic_doc = factory.headers(factory.user(Role.practitioner, organization_id=_org_of(factory, patient)))
    _record(client, clinic_doc, patient, "observations",
            {"code": "2160-0", "value": 0.9, "effective_at": "2026-01-01T08:00:00Z"})
    _record(client, clinic_doc, patient, "observations",
            {"code": "2160-0", "value": 3.0, "effective_at": "2026-03-01T08:00:00Z"})
    rx = _draft(client, clinic_doc, patient, [_item("metformin", 500, 2)])
    inputs = rx["latest_check"]["inputs"]
    assert inputs["egfr"] == pytest.approx(17.7, abs=0.1)
    assert inputs["sources"]["egfr"]["from"] == "creatinine"
    assert "CKD-EPI 2021" in inputs["sources"]["egfr"]["equation"]
    assert any(a["kind"] == "condition" and a["severity"] == "contraindicated" and "eGFR" in a["message"]
               for a in rx["latest_check"]["alerts"])
    # a reported eGFR newer than the creatinine wins; one the prescriber types wins over both
    _record(client, clinic_doc, patient, "observations",
            {"code": "33914-3", "value": 50, "effective_at": "2026-03-05T08:00:00Z"})
    again = client.post(f"/api/v1/prescriptions/{rx['id']}/check", headers=clinic_doc, json={}).json()
    assert again["inputs"]["egfr"] == 50 and again["inputs"]["sources"]["egfr"]["from"] == "observation"
    typed = client.post(f"/api/v1/prescriptions/{rx['id']}/check", headers=clinic_doc,
                        json={"clinical": {"egfr": 70}}).json()
    assert typed["inputs"]["egfr"] == 70 and typed["inputs"]["sources"]["egfr"] == {"from": "entered"}


def _org_of(factory: Factory, patient: uuid.UUID) -> uuid.UUID:
    with factory.database.unit_of_work() as s:
        return s.scalars(select(PatientOrganization.organization_id)
                         .where(PatientOrganization.patient_id == patient)).one()


def test_a_new_allergy_rechecks_drafts_and_signed_prescriptions(
        client: TestClient, doc: dict[str, str], clinic: Clinic, database: Database, clock: FixedClock) -> None:
    job = RecheckJob(database, clock)
    job.run_once()  # whatever the fixtures emitted
    draft = _draft(client, doc, clinic.patient_id, [_item("amoxicillin", 500, 3)])
    assert draft["latest_check"]["outcome"] == "clear"
    before = client.get(f"/api/v1/patients/{clinic.patient_id}/prescription-alerts", headers=doc).json()
    assert before == []
    job.run_once()
    _record(client, doc, clinic.patient_id, "allergies",
            {"substance": "penicillin", "category": "medication", "criticality": "high"})
    assert job.run_once() >= 1
    alerts = client.get(f"/api/v1/patients/{clinic.patient_id}/prescription-alerts", headers=doc).json()
    assert [(a["prescription_id"], a["kind"], a["severity"], a["trigger"]) for a in alerts] == [
        (draft["id"], "allergy", "contraindicated", "event")]
    assert alerts[0]["sources"]
    with database.unit_of_work() as s:
        latest = s.scalars(select(InteractionCheck).where(InteractionCheck.prescription_id == uuid.UUID(draft["id"]))
                           .order_by(InteractionCheck.at.desc(), InteractionCheck.id.desc())).all()
        event_runs = [c for c in latest if c.trigger == "event"]
        assert event_runs and event_runs[0].by_user_id is None
        assert event_runs[0].inputs["event"]["type"] == "records.allergy.recorded"
        assert event_runs[0].knowledge_version
    # signing is refused until the prescriber acknowledges (contraindicated cannot be overridden)
    assert client.post(f"/api/v1/prescriptions/{draft['id']}/sign", headers=doc).status_code == 409
    # handled once: a second run finds nothing new
    assert job.run_once() == 0


def test_an_unrelated_lab_is_received_but_rechecks_nothing(
        client: TestClient, doc: dict[str, str], clinic: Clinic, database: Database, clock: FixedClock) -> None:
    job = RecheckJob(database, clock)
    rx = _draft(client, doc, clinic.patient_id, [_item("paracetamol", 500, 3)])
    job.run_once()
    _record(client, doc, clinic.patient_id, "observations",
            {"code": "8867-4", "value": 80, "effective_at": datetime(2026, 3, 10, 9, 0, tzinfo=UTC).isoformat()})
    assert job.run_once() == 1
    with database.unit_of_work() as s:
        runs = s.scalars(select(InteractionCheck.trigger)
                         .where(InteractionCheck.prescription_id == uuid.UUID(rx["id"]))).all()
        assert runs == ["create"]
        assert s.scalars(select(HandledEvent.type)).all()


def test_signing_one_prescription_rechecks_the_patients_other_draft(
        client: TestClient, doc: dict[str, str], clinic: Clinic, database: Database, clock: FixedClock) -> None:
    job = RecheckJob(database, clock)
    aspirin = _draft(client, doc, clinic.patient_id, [_item("aspirin", 75)])
    warfarin = _draft(client, doc, clinic.patient_id, [_item("warfarin", 5)])
    assert warfarin["latest_check"]["outcome"] == "clear"  # drafts do not see each other
    assert client.post(f"/api/v1/prescriptions/{aspirin['id']}/sign", headers=doc).status_code == 200
    job.run_once()
    now = client.get(f"/api/v1/prescriptions/{warfarin['id']}", headers=doc).json()["latest_check"]
    assert now["trigger"] == "event" and any(a["kind"] == "interaction" for a in now["alerts"])


def test_an_allergy_recorded_after_signing_raises_an_alert_on_the_active_prescription(
        client: TestClient, doc: dict[str, str], clinic: Clinic, database: Database, clock: FixedClock) -> None:
    job = RecheckJob(database, clock)
    rx = _draft(client, doc, clinic.patient_id, [_item("amoxicillin", 500, 3)])
    assert client.post(f"/api/v1/prescriptions/{rx['id']}/sign", headers=doc).status_code == 200
    job.run_once()
    _record(client, doc, clinic.patient_id, "allergies", {"substance": "penicillin", "category": "medication"})
    job.run_once()
    alerts = client.get(f"/api/v1/patients/{clinic.patient_id}/prescription-alerts", headers=doc).json()
    assert [(a["status"], a["kind"], a["overridable"]) for a in alerts] == [("signed", "allergy", False)]
    items = alerts[0]["items"]
    override = client.post(f"/api/v1/prescriptions/{rx['id']}/alerts", headers=doc,
                           json={"kind": "allergy", "items": items, "action": "override", "reason": "tolerated"})
    assert override.status_code == 409  # contraindicated: acknowledge (and act), never override
    ack = client.post(f"/api/v1/prescriptions/{rx['id']}/alerts", headers=doc,
                      json={"kind": "allergy", "items": items, "action": "acknowledge",
                            "reason": "patient told to stop; cancelling"})
    assert ack.status_code == 200
    assert client.get(f"/api/v1/patients/{clinic.patient_id}/prescription-alerts", headers=doc).json() == []


def test_a_failing_event_gets_a_receipt_and_does_not_block_the_next(
        database: Database, clock: FixedClock, clinic: Clinic, monkeypatch: pytest.MonkeyPatch) -> None:
    job = RecheckJob(database, clock)
    job.run_once()
    real = reactions.recheck_patient

    def flaky(session: Session, *, patient_id: uuid.UUID, **kw: Any) -> int:
        if patient_id == clinic.other_patient_id:
            raise RuntimeError("boom")
        return real(session, patient_id=patient_id, **kw)

    monkeypatch.setattr(reactions, "recheck_patient", flaky)
    with database.unit_of_work() as s:
        bad = emit(s, "records.allergy.recorded", {"patient_id": str(clinic.other_patient_id)})
        ignored = emit(s, "records.condition.recorded", {"patient_id": "not-a-uuid"})
        good = emit(s, "records.allergy.recorded", {"patient_id": str(clinic.patient_id)})
    assert job.run_once() == 3
    with database.unit_of_work() as s:
        receipt = s.get(HandledEvent, bad)
        assert receipt is not None and receipt.type == "failed:RuntimeError"
        assert s.get(HandledEvent, ignored) is not None
        handled = s.get(HandledEvent, good)
        assert handled is not None and handled.type == "records.allergy.recorded"
    assert job.run_once() == 0
