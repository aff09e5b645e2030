"""Refill approval/refusal by the prescriber, reminders to the patient's account with a signed dose link,
refill-due alerts after dispensing, and a caregiver reading adherence."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from carebridge.contexts.audit.models import AuditEntry
from carebridge.contexts.notifications.models import Notification
from carebridge.contexts.prescribing.doses import link_token
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.security import CaregiverScope, Role
from tests.factories import Clinic, Factory


def _item(name: str, dose: float, times: int = 1, days: int = 10, **extra: Any) -> dict[str, Any]:
    return {"medication": name, "dose": dose, "unit": "mg", "route": "oral", "times_per_day": times,
            "duration_days": days, **extra}


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


def _h(factory: Factory, clinic: Clinic, role: Role) -> dict[str, str]:
    return factory.headers(clinic.users[role])


def _signed(client: TestClient, doc: dict[str, str], patient: uuid.UUID, items: list[dict[str, Any]]
            ) -> dict[str, Any]:
    rx = client.post("/api/v1/prescriptions", json={"patient_id": str(patient), "items": items}, headers=doc)
    assert rx.status_code == 201, rx.text
    r = client.post(f"/api/v1/prescriptions/{rx.json()['id']}/sign", headers=doc)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _dispense_all(client: TestClient, h: dict[str, str], rx: dict[str, Any]) -> None:
    lines = [{"item_id": i["id"], "quantity": i["quantity"]} for i in rx["items"]]
    r = client.post(f"/api/v1/prescriptions/{rx['id']}/dispense", headers=h, json={"lines": lines})
    assert r.status_code == 201, r.text


def test_prescriber_approves_a_refill_and_the_pharmacy_can_fill_it_again(
        client: TestClient, factory: Factory, clinic: Clinic, database: Database) -> None:
    doc, pharm, pat = (_h(factory, clinic, r) for r in (Role.practitioner, Role.pharmacist, Role.patient))
    rx = _signed(client, doc, clinic.patient_id, [_item("amlodipine", 5, days=30, refills=1)])
    _dispense_all(client, pharm, rx)
    req = client.post(f"/api/v1/prescriptions/{rx['id']}/refill-requests", headers=pat, json={"note": "running low"})
    assert req.status_code == 201
    rid = req.json()["id"]
    listed = client.get(f"/api/v1/patients/{clinic.patient_id}/refill-requests", headers=doc,
                        params={"status": "open"}).json()
    assert [r["id"] for r in listed] == [rid]
    assert client.post(f"/api/v1/refill-requests/{rid}/decision", headers=pat,
                       json={"action": "approve"}).status_code == 403
    ok = client.post(f"/api/v1/refill-requests/{rid}/decision", headers=doc, json={"action": "approve"})
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    assert client.get(f"/api/v1/prescriptions/{rx['id']}", headers=doc).json()["status"] == "partially_dispensed"
    assert rx["id"] in [q["id"] for q in client.get("/api/v1/pharmacy/queue", headers=pharm).json()]
    _dispense_all(client, pharm, rx)  # exactly one more quantity
    again = client.post(f"/api/v1/prescriptions/{rx['id']}/dispense", headers=pharm,
                        json={"lines": [{"item_id": rx["items"][0]["id"], "quantity": 1}]})
    assert again.status_code == 409
    assert client.post(f"/api/v1/refill-requests/{rid}/decision", headers=doc,
                       json={"action": "refuse", "reason": "too late"}).status_code == 409
    with database.unit_of_work() as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.resource_id == rx["id"])).all()
        told = s.scalars(select(Notification.template).where(
            Notification.user_id == clinic.users[Role.patient].id)).all()
    assert "refill_approve" in actions
    assert "prescription.refill_decided" in told


def test_refusing_needs_a_reason_and_tells_the_patient(client: TestClient, factory: Factory, clinic: Clinic,
                                                       database: Database) -> None:
    doc, pharm, pat = (_h(factory, clinic, r) for r in (Role.practitioner, Role.pharmacist, Role.patient))
    rx = _signed(client, doc, clinic.patient_id, [_item("amlodipine", 5, days=30, refills=2)])
    _dispense_all(client, pharm, rx)
    rid = client.post(f"/api/v1/prescriptions/{rx['id']}/refill-requests", headers=pat, json={}).json()["id"]
    no_reason = client.post(f"/api/v1/refill-requests/{rid}/decision", headers=doc, json={"action": "refuse"})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "body.reason"
    r = client.post(f"/api/v1/refill-requests/{rid}/decision", headers=doc,
                    json={"action": "refuse", "reason": "book a review visit first"})
    assert r.status_code == 200 and r.json()["status"] == "refused"
    assert r.json()["decision_reason"] == "book a review visit first"
    assert client.get(f"/api/v1/prescriptions/{rx['id']}", headers=doc).json()["status"] == "dispensed"
    assert client.post(f"/api/v1/refill-requests/{uuid.uuid4()}/decision", headers=doc,
                       json={"action": "approve"}).status_code == 404
    with database.unit_of_work() as s:
        n = s.scalars(select(Notification).where(Notification.template == "prescription.refill_decided")).one()
    assert n.user_id == clinic.users[Role.patient].id and "review visit" in n.params["reason"]


def test_reminders_reach_the_account_and_their_link_marks_the_dose(
        client: TestClient, factory: Factory, clinic: Clinic, database: Database, clock: FixedClock) -> None:
    doc = _h(factory, clinic, Role.practitioner)
    rx = _signed(client, doc, clinic.patient_id, [_item("paracetamol", 500, times=2, days=3)])
    with database.unit_of_work() as s:
        rows = list(s.scalars(select(Notification).where(Notification.template == "prescription.dose_reminder")
                              .order_by(Notification.next_attempt_at)))
    assert rows and all(r.user_id == clinic.users[Role.patient].id for r in rows)
    link = rows[0].params["link"]
    path, _, token = link.partition("?t=")
    dose_id = path.rsplit("/", 1)[1]
    clock.advance(hours=6)  # 21:00 in India on the signing day: the first reminder's dose is due
    page = client.get(link)
    assert page.status_code == 200 and "paracetamol" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    forged = client.post(f"{path}?t={'0' * 32}", data={"status": "taken", "csrf_token": csrf.group(1)},
                         follow_redirects=False)
    assert forged.status_code == 404
    assert client.get(f"{path}?t={'0' * 32}").status_code == 404
    # the page's form (anonymous CSRF) marks the dose; the patient then sees it taken
    marked = client.post(link, data={"status": "taken", "csrf_token": csrf.group(1)}, follow_redirects=False)
    assert marked.status_code in (200, 303), marked.text
    doses = client.get(f"/api/v1/patients/{clinic.patient_id}/doses", headers=_h(factory, clinic, Role.patient))
    assert {d["id"]: d["status"] for d in doses.json()}[dose_id] == "taken"
    assert token == link_token(factory.app.state.keys.token_secret, dose_id)
    assert rx["status"] == "signed"


def test_dispensing_queues_a_refill_due_alert_only_with_refills_left(
        client: TestClient, factory: Factory, clinic: Clinic, database: Database) -> None:
    doc, pharm = _h(factory, clinic, Role.practitioner), _h(factory, clinic, Role.pharmacist)
    with_refill = _signed(client, doc, clinic.patient_id, [_item("amlodipine", 5, days=30, refills=1)])
    without = _signed(client, doc, clinic.patient_id, [_item("paracetamol", 500, days=5)])
    _dispense_all(client, pharm, with_refill)
    _dispense_all(client, pharm, without)
    with database.unit_of_work() as s:
        due = list(s.scalars(select(Notification).where(Notification.template == "prescription.refill_due")))
    assert len(due) == 1 and due[0].params["medication"] == "amlodipine"
    signed_at = with_refill["signed_at"]
    assert due[0].next_attempt_at.isoformat()[:10] == "2026-04-06" and signed_at.startswith("2026-03-10")


def test_a_linked_caregiver_reads_adherence_and_a_stranger_cannot(
        client: TestClient, factory: Factory, clinic: Clinic) -> None:
    _signed(client, _h(factory, clinic, Role.practitioner), clinic.patient_id, [_item("paracetamol", 500, 2, 3)])
    care = client.get(f"/api/v1/patients/{clinic.patient_id}/adherence", headers=_h(factory, clinic, Role.caregiver))
    assert care.status_code == 200 and care.json()[0]["medication"] == "paracetamol"
    stranger = factory.user(Role.caregiver)
    assert client.get(f"/api/v1/patients/{clinic.patient_id}/adherence",
                      headers=factory.headers(stranger)).status_code == 403
    # reading is not marking: a read-only caregiver cannot mark doses
    helper = factory.user(Role.caregiver)
    factory.link_caregiver(helper, clinic.patient_id, scopes=(CaregiverScope.read_record,))
    doses = client.get(f"/api/v1/patients/{clinic.patient_id}/doses", headers=factory.headers(helper)).json()
    assert doses
    assert client.post(f"/api/v1/doses/{doses[0]['id']}", headers=factory.headers(helper),
                       json={"status": "taken"}).status_code == 403
