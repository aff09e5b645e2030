"""Decision support on a prescription: run the engine, record the run, and decide whether signing may go on.

`clinical_facts` is the one place that knows where allergies, conditions and kidney function come from; the
records context does not yet export readers for them, so they come from the request's `clinical` fields and
the patient's age from the patient row. Wiring the record in is a change to that function alone.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts.patients.models import Patient
from carebridge.contexts.prescribing.access import age_years, trail
from carebridge.contexts.prescribing.models import AlertDecision, InteractionCheck, Prescription, PrescriptionItem
from carebridge.contexts.prescribing.schemas import ACTIVE_STATUSES, AlertRead, CheckRead, ClinicalInputs
from carebridge.engines.interactions import Alert, CheckRequest, MedicationOrder, Override, check
from carebridge.kernel.errors import Conflict, NotFound, ValidationProblem
from carebridge.security import Principal

BLOCKING_SEVERITIES = frozenset({"major", "contraindicated"})


def alert_key(kind: str, items: list[str]) -> str:
    return kind + "|" + "|".join(sorted(i.casefold() for i in items))


def clinical_facts(session: Session, patient: Patient, given: ClinicalInputs, now: datetime) -> dict[str, Any]:
    """Everything the engine needs about the patient, besides the medicines."""
    return {"allergies": list(given.allergies), "conditions": list(given.conditions), "egfr": given.egfr,
            "weight_kg": given.weight_kg, "pregnant": given.pregnant, "breastfeeding": given.breastfeeding,
            "age_years": age_years(patient.birth_date, now)}


def _order(item: PrescriptionItem) -> MedicationOrder:
    return MedicationOrder(name=item.medication, dose_mg=item.dose if item.unit == "mg" else None,
                           doses_per_day=float(item.times_per_day), route=item.route)


def _other_active_items(session: Session, rx: Prescription) -> list[PrescriptionItem]:
    stmt = (select(PrescriptionItem).join(Prescription, Prescription.id == PrescriptionItem.prescription_id)
            .where(Prescription.patient_id == rx.patient_id, Prescription.id != rx.id,
                   Prescription.status.in_([s.value for s in ACTIVE_STATUSES])))
    return list(session.scalars(stmt))


def decisions(session: Session, rx_id: uuid.UUID) -> dict[str, AlertDecision]:
    rows = session.scalars(select(AlertDecision).where(AlertDecision.prescription_id == rx_id)
                           .order_by(AlertDecision.at))
    return {d.alert_key: d for d in rows}


def _read_alert(a: Alert, decided: dict[str, AlertDecision]) -> AlertRead:
    d = decided.get(alert_key(a.kind, a.items))
    blocking = a.severity in BLOCKING_SEVERITIES and d is None
    return AlertRead(kind=a.kind, severity=a.severity, items=a.items, message=a.message, management=a.management,
                     sources=a.sources, interruptive=a.interruptive, overridable=a.overridable, blocking=blocking,
                     decision=d.action if d else None, reason=d.reason if d else None)


def run(session: Session, principal: Principal, rx: Prescription, items: list[PrescriptionItem], patient: Patient,
        *, clinical: ClinicalInputs, trigger: str, now: datetime) -> CheckRead:
    """Check this prescription together with the patient's other active ones; the run is stored and audited."""
    others = _other_active_items(session, rx)
    facts = clinical_facts(session, patient, clinical, now)
    decided = decisions(session, rx.id)
    overrides = [Override(kind=d.kind, items=d.items, reason=d.reason)
                 for d in decided.values() if d.action == "override"]
    request = CheckRequest(medications=[_order(i) for i in [*items, *others]][:100], overrides=overrides, **facts)
    result = check(request)
    alerts = [_read_alert(a, decided) for a in result.alerts]
    outcome = "blocking" if any(a.blocking for a in alerts) else ("warnings" if alerts else "clear")
    inputs = {**facts, "medications": [i.medication for i in items], "other_active": [i.medication for i in others],
              "engine_inputs": result.inputs}
    row = InteractionCheck(id=uuid.uuid4(), prescription_id=rx.id, patient_id=rx.patient_id,
                           by_user_id=principal.user_id, trigger=trigger, knowledge_version=result.knowledge_version,
                           inputs=inputs, alerts=[a.model_dump(mode="json") for a in alerts], outcome=outcome, at=now)
    session.add(row)
    session.flush()
    trail(session, principal, rx, "check", now=now,
          detail={"outcome": outcome, "alerts": len(alerts), "knowledge_version": result.knowledge_version})
    return to_read(row)


def to_read(row: InteractionCheck) -> CheckRead:
    return CheckRead(id=row.id, prescription_id=row.prescription_id, at=row.at, trigger=row.trigger,
                     knowledge_version=row.knowledge_version, outcome=row.outcome,
                     alerts=[AlertRead.model_validate(a) for a in row.alerts], inputs=row.inputs)


def latest(session: Session, rx_id: uuid.UUID) -> InteractionCheck | None:
    return session.scalars(select(InteractionCheck).where(InteractionCheck.prescription_id == rx_id)
                           .order_by(InteractionCheck.at.desc(), InteractionCheck.id.desc()).limit(1)).first()


def decide(session: Session, principal: Principal, rx: Prescription, *, kind: str, items: list[str], action: str,
           reason: str, now: datetime) -> None:
    """Acknowledge or override one alert of the latest check; a major/contraindicated one needs a reason."""
    last = latest(session, rx.id)
    key = alert_key(kind, items)
    match = next((a for a in (last.alerts if last else []) if alert_key(a["kind"], a["items"]) == key), None)
    if match is None:
        raise NotFound("the latest check of this prescription has no such alert")
    if len(reason.strip()) < 3 and (action == "override" or match["severity"] in BLOCKING_SEVERITIES):
        raise ValidationProblem("give a reason (at least 3 characters)",
                                errors=[{"field": "body.reason", "message": "required for this alert"}])
    if action == "override" and not match["overridable"]:
        raise Conflict("this alert cannot be overridden; change the prescription or acknowledge it with a reason")
    previous = decisions(session, rx.id).get(key)
    if previous is not None:
        session.delete(previous)
        session.flush()
    session.add(AlertDecision(id=uuid.uuid4(), prescription_id=rx.id, alert_key=key, kind=kind, items=list(items),
                              action=action, reason=reason.strip(), by_user_id=principal.user_id, at=now))
    session.flush()
    trail(session, principal, rx, "alert_" + action, now=now,
          detail={"kind": kind, "items": list(items), "severity": match["severity"], "reason": reason.strip()})


def blocking_alerts(session: Session, rx_id: uuid.UUID) -> list[dict[str, Any]]:
    """Alerts of the latest check still blocking once the recorded decisions are applied."""
    last = latest(session, rx_id)
    if last is None:
        return []
    decided = decisions(session, rx_id)
    return [a for a in last.alerts
            if a["severity"] in BLOCKING_SEVERITIES and alert_key(a["kind"], a["items"]) not in decided]
