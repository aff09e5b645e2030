"""Prescribing through the HTTP API: the picker, the lifecycle, decision support blocking signing, the
signature, dispensing by the right pharmacy, and dose marks moving adherence."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from carebridge.contexts.audit.models import AuditEntry
from carebridge.contexts.notifications.models import Notification
from carebridge.contexts.prescribing.models import PrescriptionItem
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.security import Role
from tests.factories import Clinic, Factory


def _item(name: str, dose: float = 75, times: int = 1, days: int = 10, **extra: Any) -> dict[str, Any]:
    return {"medication": name, "dose": dose, "unit": "mg", "route": "oral", "times_per_day": times,
            "duration_days": days, **extra}


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


def _h(factory: Factory, clinic: Clinic, role: Role) -> dict[str, str]:
    return factory.headers(clinic.users[role])


def _create(client: TestClient, headers: dict[str, str], patient_id: uuid.UUID,
            items: list[dict[str, Any]]) -> dict[str, Any]:
    r = client.post("/api/v1/prescriptions", json={"patient_id": str(patient_id), "items": items}, headers=headers)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def _signed(client: TestClient, factory: Factory, clinic: Clinic, items: list[dict[str, Any]]) -> dict[str, Any]:
    doc = _h(factory, clinic, Role.practitioner)
    rx = _create(client, doc, clinic.patient_id, items)
    r = client.post(f"/api/v1/prescriptions/{rx['id']}/sign", headers=doc)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_picker_finds_generic_indian_brand_and_atc(client: TestClient, factory: Factory, clinic: Clinic) -> None:
    h = _h(factory, clinic, Role.practitioner)
    brand = client.get("/api/v1/medications", params={"q": "Ecosprin"}, headers=h).json()
    assert brand["items"][0]["ingredients"] == ["aspirin"]
    generic = client.get("/api/v1/medications", params={"q": "warfarin"}, headers=h).json()
    assert generic["items"][0]["label"] == "warfarin"
    page1 = client.get("/api/v1/medications", params={"q": "par", "limit": 2}, headers=h).json()
    assert len(page1["items"]) == 2 and page1["next_cursor"]
    page2 = client.get("/api/v1/medications", params={"q": "par", "limit": 2, "cursor": page1["next_cursor"]},
                       headers=h).json()
    assert {i["label"] for i in page2["items"]}.isdisjoint({i["label"] for i in page1["items"]})
    assert client.get("/api/v1/medications", params={"q": ""}, headers=h).status_code == 422
    assert client.get("/api/v1/medications", params={"q": "x", "cursor": "!!"}, headers=h).status_code == 422
    assert client.get("/api/v1/medications", params={"q": "warfarin"}).status_code == 401


def test_unknown_medicine_is_refused_with_the_field(client: TestClient, factory: Factory, clinic: Clinic) -> None:
    r = client.post("/api/v1/prescriptions", headers=_h(factory, clinic, Role.practitioner),
                    json={"patient_id": str(clinic.patient_id), "items": [_item("Notadrugzzz")]})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.items.0.medication"


def test_warfarin_aspirin_blocks_signing_until_overridden_and_override_is_audited(
    client: TestClient, factory: Factory, clinic: Clinic, database: Database
) -> None:
    doc = _h(factory, clinic, Role.practitioner)
    rx = _create(client, doc, clinic.patient_id, [_item("warfarin", 5), _item("Ecosprin", 75)])
    alerts = rx["latest_check"]["alerts"]
    hit = next(a for a in alerts if a["kind"] == "interaction")
    assert hit["severity"] == "major" and hit["blocking"] and set(hit["items"]) == {"warfarin", "Ecosprin"}
    assert rx["latest_check"]["outcome"] == "blocking"

    refused = client.post(f"/api/v1/prescriptions/{rx['id']}/sign", headers=doc)
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert any(a["kind"] == "interaction" for a in refused.json()["alerts"])
    open_ = client.get(f"/api/v1/patients/{clinic.patient_id}/prescription-alerts", headers=doc).json()
    assert [a["prescription_id"] for a in open_] == [rx["id"]]

    no_reason = client.post(f"/api/v1/prescriptions/{rx['id']}/alerts", headers=doc,
                            json={"kind": "interaction", "items": hit["items"], "action": "override"})
    assert no_reason.status_code == 422
    ok = client.post(f"/api/v1/prescriptions/{rx['id']}/alerts", headers=doc,
                     json={"kind": "interaction", "items": hit["items"], "action": "override",
                           "reason": "post-stent, INR monitored weekly"})
    assert ok.status_code == 200, ok.text
    assert client.get(f"/api/v1/patients/{clinic.patient_id}/prescription-alerts", headers=doc).json() == []
    signed = client.post(f"/api/v1/prescriptions/{rx['id']}/sign", headers=doc)
    assert signed.status_code == 200 and signed.json()["status"] == "signed"

    with database.unit_of_work() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.resource_id == rx["id"],
                                                     AuditEntry.action == "alert_override")).all()
        assert len(entries) == 1 and entries[0].detail["reason"] == "post-stent, INR monitored weekly"


def test_check_sees_the_patients_other_active_prescriptions(client: TestClient, factory: Factory,
                                                            clinic: Clinic) -> None:
    _signed(client, factory, clinic, [_item("warfarin", 5)])
    doc = _h(factory, clinic, Role.practitioner)
    rx = _create(client, doc, clinic.patient_id, [_item("aspirin", 75)])
    assert any(a["kind"] == "interaction" for a in rx["latest_check"]["alerts"])
    again = client.post(f"/api/v1/prescriptions/{rx['id']}/check", headers=doc,
                        json={"clinical": {"allergies": ["aspirin"]}}).json()
    assert any(a["kind"] == "allergy" and a["severity"] == "contraindicated" for a in again["alerts"])
    assert again["knowledge_version"] and again["inputs"]["allergies"] == ["aspirin"]


def test_lifecycle_and_illegal_transitions(client: TestClient, factory: Factory, clinic: Clinic) -> None:
    doc = _h(factory, clinic, Role.practitioner)
    rx = _signed(client, factory, clinic, [_item("paracetamol", 500, times=3, days=2)])
    rid = rx["id"]
    assert client.post(f"/api/v1/prescriptions/{rid}/sign", headers=doc).status_code == 409
    assert client.put(f"/api/v1/prescriptions/{rid}", headers=doc,
                      json={"items": [_item("paracetamol", 500)]}).status_code == 409
    assert client.post(f"/api/v1/prescriptions/{rid}/complete", headers=doc).status_code == 409
    pharm = _h(factory, clinic, Role.pharmacist)
    item = rx["items"][0]
    part = client.post(f"/api/v1/prescriptions/{rid}/dispense", headers=pharm,
                       json={"lines": [{"item_id": item["id"], "quantity": 2}]})
    assert part.status_code == 201
    assert client.get(f"/api/v1/prescriptions/{rid}", headers=doc).json()["status"] == "partially_dispensed"
    assert client.post(f"/api/v1/prescriptions/{rid}/cancel", headers=doc,
                       json={"reason": "changed mind"}).status_code == 409
    too_many = client.post(f"/api/v1/prescriptions/{rid}/dispense", headers=pharm,
                           json={"lines": [{"item_id": item["id"], "quantity": 99}]})
    assert too_many.status_code == 409
    client.post(f"/api/v1/prescriptions/{rid}/dispense", headers=pharm,
                json={"lines": [{"item_id": item["id"], "quantity": item["quantity"] - 2}]})
    assert client.get(f"/api/v1/prescriptions/{rid}", headers=doc).json()["status"] == "dispensed"
    assert client.post(f"/api/v1/prescriptions/{rid}/complete", headers=doc).json()["status"] == "completed"
    assert client.post(f"/api/v1/prescriptions/{rid}/dispense", headers=pharm,
                       json={"lines": [{"item_id": item["id"], "quantity": 1}]}).status_code == 409

    draft = _create(client, doc, clinic.patient_id, [_item("paracetamol", 500)])
    assert client.post(f"/api/v1/prescriptions/{draft['id']}/dispense", headers=pharm,
                       json={"lines": [{"item_id": draft["items"][0]["id"], "quantity": 1}]}).status_code == 409
    assert client.post(f"/api/v1/prescriptions/{draft['id']}/cancel", headers=doc,
                       json={"reason": "duplicate order"}).json()["status"] == "cancelled"


def test_roles_and_strangers_are_refused(client: TestClient, factory: Factory, clinic: Clinic) -> None:
    rx = _signed(client, factory, clinic, [_item("paracetamol", 500)])
    rid, item_id = rx["id"], rx["items"][0]["id"]
    line = {"lines": [{"item_id": item_id, "quantity": 1}]}
    other_pharm = factory.user(Role.pharmacist, organization_id=clinic.other_org)
    assert client.post(f"/api/v1/prescriptions/{rid}/dispense", headers=factory.headers(other_pharm),
                       json=line).status_code == 403
    assert client.post(f"/api/v1/prescriptions/{rid}/dispense", headers=_h(factory, clinic, Role.practitioner),
                       json=line).status_code == 403
    other_patient = factory.user(Role.patient, patient_id=clinic.other_patient_id)
    assert client.get(f"/api/v1/prescriptions/{rid}", headers=factory.headers(other_patient)).status_code == 403
    assert client.get(f"/api/v1/prescriptions/{rid}", headers=_h(factory, clinic, Role.patient)).status_code == 200
    assert client.get(f"/api/v1/prescriptions/{rid}",
                      headers=_h(factory, clinic, Role.caregiver)).status_code == 200
    assert client.post("/api/v1/prescriptions", headers=_h(factory, clinic, Role.pharmacist),
                       json={"patient_id": str(clinic.patient_id), "items": [_item("aspirin")]}).status_code == 403


def test_tampered_prescription_fails_verification(client: TestClient, factory: Factory, clinic: Clinic,
                                                  database: Database) -> None:
    rx = _signed(client, factory, clinic, [_item("warfarin", 5)])
    doc = _h(factory, clinic, Role.practitioner)
    good = client.get(f"/api/v1/prescriptions/{rx['id']}/verify", headers=doc).json()
    assert good["valid"] is True
    text = client.get(f"/api/v1/prescriptions/{rx['id']}/signed-text", headers=doc).json()["text"]
    assert client.post("/api/v1/prescriptions/verify-text", headers=doc, json={"text": text}).json()["valid"]
    svg = client.get(f"/api/v1/prescriptions/{rx['id']}/qr.svg", headers=doc)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    forged = text.replace(rx["content_hash"], "0" * 64)
    assert not client.post("/api/v1/prescriptions/verify-text", headers=doc, json={"text": forged}).json()["valid"]
    with database.unit_of_work() as s:
        s.execute(update(PrescriptionItem).where(PrescriptionItem.id == uuid.UUID(rx["items"][0]["id"]))
                  .values(dose=50.0))
    bad = client.get(f"/api/v1/prescriptions/{rx['id']}/verify", headers=doc).json()
    assert bad["valid"] is False and "changed" in bad["reason"]


def test_marking_doses_moves_adherence(client: TestClient, factory: Factory, clinic: Clinic,
                                       clock: FixedClock) -> None:
    _signed(client, factory, clinic, [_item("paracetamol", 500, times=2, days=3)])
    clock.advance(days=1)  # 15:00 in India the day after signing: the 09:00 dose is due, 21:00 is not
    pat = _h(factory, clinic, Role.patient)
    doses = client.get(f"/api/v1/patients/{clinic.patient_id}/doses", headers=pat).json()
    assert len(doses) == 2 and all(d["status"] == "due" for d in doses)
    first = doses[0]
    marked = client.post(f"/api/v1/doses/{first['id']}", headers=pat, json={"status": "taken"})
    assert marked.json()["status"] == "taken"
    assert client.post(f"/api/v1/doses/{doses[1]['id']}", headers=pat, json={"status": "taken"}).status_code == 409
    adh = client.get(f"/api/v1/patients/{clinic.patient_id}/adherence", headers=pat).json()[0]
    assert adh["due"] == 2 and adh["taken"] == 1 and adh["percent"] == 50.0
    before = adh["percent"]
    client.post(f"/api/v1/doses/{first['id']}", headers=pat, json={"status": "skipped"})
    adh2 = client.get(f"/api/v1/patients/{clinic.patient_id}/adherence", headers=pat).json()[0]
    assert adh2["taken"] == 0 and adh2["skipped"] == 1 and adh2["percent"] < before
    assert client.post("/api/v1/doses/not-a-dose", headers=pat, json={"status": "taken"}).status_code == 422


def test_signing_queues_dose_reminders_and_cancelling_withdraws_them(
    client: TestClient, factory: Factory, clinic: Clinic, database: Database
) -> None:
    rx = _signed(client, factory, clinic, [_item("paracetamol", 500, times=2, days=30)])

    def pending() -> list[str]:
        with database.unit_of_work() as s:
            rows = s.scalars(select(Notification).where(Notification.dedupe_key.startswith(f"rx:{rx['id']}:"),
                                                        Notification.status == "pending"))
            return [r.dedupe_key or "" for r in rows]

    assert len(pending()) == 14  # one week of twice-daily doses, not the whole month
    r = client.post(f"/api/v1/prescriptions/{rx['id']}/cancel", headers=_h(factory, clinic, Role.practitioner),
                    json={"reason": "wrong patient"})
    assert r.status_code == 200
    assert pending() == []
