"""Scores and alerts from ingested readings: NEWS2 triggers (RCP 2017 Chart 3), qSOFA, threshold rules, the
open → acknowledged → resolved lifecycle, de-duplication, suppression and escalation."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts.monitoring import escalate_overdue
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.kernel.events import OutboxEvent
from carebridge.security import Role
from tests.api.monitoring.conftest import HIGH_7, MEDIUM_5, NORMAL, RED_SINGLE, Rig, readings
from tests.factories import Factory


def _send(client: TestClient, rig: Rig, clock: FixedClock, values: dict[str, Any]) -> None:
    r = client.post("/api/v1/vitals", headers=rig.key, json={"readings": readings(clock, values)})
    assert r.status_code == 200 and not r.json()["rejected"], r.text


def _alerts(client: TestClient, rig: Rig, *, kind: str | None = None, **params: str) -> list[dict[str, Any]]:
    r = client.get(f"/api/v1/patients/{rig.clinic.patient_id}/alerts", headers=rig.nurse, params=params)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return [a for a in items if kind is None or a["kind"] == kind]


def _event_types(database: Database) -> list[str]:
    with database.unit_of_work() as s:
        return list(s.scalars(select(OutboxEvent.type).where(OutboxEvent.type.startswith("monitoring."))
                              .order_by(OutboxEvent.created_at)))


def test_normal_observations_raise_nothing(client: TestClient, rig: Rig, clock: FixedClock) -> None:
    _send(client, rig, clock, NORMAL)
    assert _alerts(client, rig) == []
    news = client.get(f"/api/v1/patients/{rig.clinic.patient_id}/news2", headers=rig.nurse).json()
    assert (news["score"], news["risk"], news["band"], news["complete"]) == (0, "low", "green", True)


def test_aggregate_five_raises_a_medium_alert(client: TestClient, rig: Rig, clock: FixedClock,
                                              database: Database) -> None:
    _send(client, rig, clock, MEDIUM_5)
    [alert] = _alerts(client, rig)
    assert (alert["kind"], alert["severity"], alert["score"], alert["status"]) == ("news2", "medium", 5, "open")
    assert "monitoring.alert_raised" in _event_types(database)
    news = client.get(f"/api/v1/patients/{rig.clinic.patient_id}/news2", headers=rig.nurse).json()
    assert news["band"] == "amber"


def test_a_single_red_parameter_raises_an_alert(client: TestClient, rig: Rig, clock: FixedClock) -> None:
    _send(client, rig, clock, RED_SINGLE)
    [alert] = _alerts(client, rig)
    assert (alert["severity"], alert["score"]) == ("low_medium", 3)


def test_a_repeat_trigger_refreshes_the_live_alert_and_a_worse_one_escalates_it(
        client: TestClient, rig: Rig, clock: FixedClock) -> None:
    _send(client, rig, clock, MEDIUM_5)
    clock.advance(minutes=5)
    _send(client, rig, clock, MEDIUM_5)
    [alert] = _alerts(client, rig)
    assert alert["occurrences"] == 2
    clock.advance(minutes=5)
    _send(client, rig, clock, HIGH_7)  # also qSOFA 2 (RR 26, SBP 95): its own alert
    [alert] = _alerts(client, rig, kind="news2")
    assert (alert["severity"], alert["score"]) == ("high", 13)


def test_lifecycle_and_suppression_window(client: TestClient, rig: Rig, clock: FixedClock,
                                          database: Database) -> None:
    _send(client, rig, clock, MEDIUM_5)
    alert_id = _alerts(client, rig)[0]["id"]
    ack = client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=rig.nurse)
    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
    assert client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=rig.nurse).status_code == 409
    done = client.post(f"/api/v1/alerts/{alert_id}/resolve", headers=rig.nurse)
    assert done.status_code == 200 and done.json()["status"] == "resolved"
    assert client.post(f"/api/v1/alerts/{alert_id}/resolve", headers=rig.nurse).status_code == 409

    clock.advance(minutes=10)  # inside the 30-minute suppression window: the same severity stays quiet
    _send(client, rig, clock, MEDIUM_5)
    assert len(_alerts(client, rig)) == 1
    clock.advance(minutes=25)  # past it: a new alert
    _send(client, rig, clock, MEDIUM_5)
    assert len(_alerts(client, rig, status="open")) == 1
    types = _event_types(database)
    assert types.count("monitoring.alert_raised") == 2
    assert {"monitoring.alert_acknowledged", "monitoring.alert_resolved"} <= set(types)


def test_a_worse_severity_breaks_through_suppression(client: TestClient, rig: Rig, clock: FixedClock) -> None:
    _send(client, rig, clock, MEDIUM_5)
    alert_id = _alerts(client, rig)[0]["id"]
    client.post(f"/api/v1/alerts/{alert_id}/resolve", headers=rig.nurse)
    clock.advance(minutes=5)
    _send(client, rig, clock, HIGH_7)
    assert [a["severity"] for a in _alerts(client, rig, status="open", kind="news2")] == ["high"]


def test_unacknowledged_alerts_escalate_once(client: TestClient, rig: Rig, clock: FixedClock,
                                             session: Session) -> None:
    _send(client, rig, clock, MEDIUM_5)
    clock.advance(minutes=10)
    assert escalate_overdue(session, now=clock.now()) == 0
    clock.advance(minutes=6)
    assert escalate_overdue(session, now=clock.now()) == 1
    assert escalate_overdue(session, now=clock.now()) == 0
    session.flush()
    session.commit()
    assert _alerts(client, rig)[0]["escalated_at"] is not None


def test_qsofa_positive_raises_its_own_alert(client: TestClient, rig: Rig, clock: FixedClock) -> None:
    # Seymour 2016: RR ≥ 22, SBP ≤ 100, altered mentation (V) → qSOFA 3
    _send(client, rig, clock, {**NORMAL, "respiratory_rate": 22, "systolic_bp": 100, "consciousness": "V"})
    assert {a["kind"] for a in _alerts(client, rig)} == {"news2", "qsofa"}


def test_threshold_rule_set_by_the_care_team(client: TestClient, rig: Rig, clock: FixedClock,
                                             factory: Factory) -> None:
    url = f"/api/v1/patients/{rig.clinic.patient_id}/threshold-rules"
    r = client.put(f"{url}/spo2", headers=rig.nurse, json={"min": 98, "note": "post-op target"})
    assert r.status_code == 200, r.text
    assert client.put(f"{url}/spo2", headers=rig.nurse, json={"min": 99, "max": 90}).status_code == 422
    assert client.put(f"{url}/consciousness", headers=rig.nurse, json={"min": 1}).status_code == 422
    patient = factory.headers(rig.clinic.users[Role.patient])
    assert client.put(f"{url}/spo2", headers=patient, json={"min": 80}).status_code == 403
    _send(client, rig, clock, NORMAL)  # SpO2 97: NEWS2 0 but below the rule's 98
    assert [a["kind"] for a in _alerts(client, rig)] == ["threshold:spo2"]
    assert [x["type"] for x in client.get(url, headers=rig.nurse).json()["items"]] == ["spo2"]
    assert client.delete(f"{url}/spo2", headers=rig.nurse).status_code == 204
    assert client.delete(f"{url}/spo2", headers=rig.nurse).status_code == 404


def test_strangers_cannot_read_or_act_on_alerts(client: TestClient, rig: Rig, clock: FixedClock,
                                                factory: Factory) -> None:
    _send(client, rig, clock, MEDIUM_5)
    alert_id = _alerts(client, rig)[0]["id"]
    stranger = factory.headers(factory.user(Role.nurse, organization_id=rig.clinic.other_org))
    assert client.get(f"/api/v1/patients/{rig.clinic.patient_id}/alerts", headers=stranger).status_code == 403
    assert client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=stranger).status_code == 403
