"""Decision support on a prescription: run the engine, record the run, and decide whether signing may go on.

`clinical_facts` is the one place that knows where the patient's facts come from: allergies, active problems
(ICD-10), kidney function and weight from the clinical record (`records.decision_facts`), joined with what the
prescriber typed in `clinical` (facts not yet in the record, pregnancy, breastfeeding). Kidney function is the
latest of a recorded eGFR and an eGFR computed from the latest serum creatinine with CKD-EPI 2021 (engines/
prescribing_rules/egfr.py); an eGFR the prescriber types wins, since it is the newer judgement. Every run
stores where each fact came from (`inputs.sources`), so a reviewer can see why an alert fired.

Runs without a principal are the system's re-checks after a record change (see reactions.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from carebridge.contexts import records
from carebridge.contexts.patients.models import Patient
from carebridge.contexts.prescribing.access import age_years, trail
from carebridge.contexts.prescribing.models import AlertDecision, InteractionCheck, Prescription, PrescriptionItem
from carebridge.contexts.prescribing.schemas import ACTIVE_STATUSES, AlertRead, CheckRead, ClinicalInputs
from carebridge.engines.interactions import Alert, CheckRequest, MedicationOrder, Override, check
from carebridge.engines.prescribing_rules.egfr import ckd_epi_2021, creatinine_mg_dl
from carebridge.kernel.errors import Conflict, NotFound, ValidationProblem
from carebridge.kernel.events import emit
from carebridge.security import Principal

BLOCKING_SEVERITIES = frozenset({"major", "contraindicated"})

# Statements built once (see access.py): each check runs all four.
_OTHER_ACTIVE = (select(PrescriptionItem).join(Prescription, Prescription.id == PrescriptionItem.prescription_id)
                 .where(Prescription.patient_id == bindparam("patient_id"), Prescription.id != bindparam("rx_id"),
                        Prescription.status.in_([s.value for s in ACTIVE_STATUSES])))
_DECISIONS = (select(AlertDecision).where(AlertDecision.prescription_id == bindparam("rx_id"))
              .order_by(AlertDecision.at))
_LAST_SEQ = select(func.max(InteractionCheck.seq)).where(InteractionCheck.prescription_id == bindparam("rx_id"))
_LATEST = (select(InteractionCheck).where(InteractionCheck.prescription_id == bindparam("rx_id"))
           .order_by(InteractionCheck.seq.desc(), InteractionCheck.at.desc()).limit(1))


def alert_key(kind: str, items: list[str]) -> str:
    return kind + "|" + "|".join(sorted(i.casefold() for i in items))


def _merged(given: list[str], recorded: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for value in [*given, *recorded]:
        seen.setdefault(value.strip().casefold(), value.strip())
    return list(seen.values())[:100]


def _kidney(patient: Patient, facts: records.DecisionFacts, age: float | None
            ) -> tuple[float | None, dict[str, Any] | None]:
    """The latest kidney function in the record: a reported eGFR, or one computed from a newer creatinine."""
    computed: tuple[float, dict[str, Any]] | None = None
    if facts.creatinine is not None and age is not None:
        mg = creatinine_mg_dl(facts.creatinine.value, facts.creatinine.unit)
        value = ckd_epi_2021(creatinine_mg_dl=mg, age_years=age, sex=patient.sex) if mg is not None else None
        if value is not None:
            computed = (value, {"from": "creatinine", "equation": "CKD-EPI 2021 (Inker et al., NEJM 2021)",
                                "creatinine_mg_dl": round(mg or 0, 3), "code": facts.creatinine.code,
                                "observation_id": str(facts.creatinine.observation_id),
                                "at": facts.creatinine.at.isoformat()})
    reported = facts.egfr
    if reported is not None and (computed is None or facts.creatinine is None or reported.at >= facts.creatinine.at):
        return reported.value, {"from": "observation", "code": reported.code,
                                "observation_id": str(reported.observation_id), "at": reported.at.isoformat()}
    if computed is not None:
        return computed
    return None, None


def _weight(lab: records.LabValue | None) -> float | None:
    if lab is None:
        return None
    factor = {"kg": 1.0, "g": 0.001, "[lb_av]": 0.45359237, "lb": 0.45359237}.get(lab.unit.strip())
    value = lab.value * factor if factor is not None else None
    return value if value is not None and 0 < value <= 400 else None


def clinical_facts(session: Session, patient: Patient, given: ClinicalInputs,
                   now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """Everything the engine needs about the patient besides the medicines, and where each fact came from."""
    recorded = records.decision_facts(session, patient_id=patient.id)
    age = age_years(patient.birth_date, now)
    egfr, egfr_source = (given.egfr, {"from": "entered"}) if given.egfr is not None else _kidney(patient, recorded,
                                                                                                 age)
    weight = given.weight_kg if given.weight_kg is not None else _weight(recorded.weight)
    facts = {"allergies": _merged(list(given.allergies), recorded.allergies),
             "conditions": _merged(list(given.conditions), recorded.conditions), "egfr": egfr,
             "weight_kg": weight, "pregnant": given.pregnant, "breastfeeding": given.breastfeeding,
             "age_years": age}
    sources = {"allergies_recorded": recorded.allergies, "allergies_entered": list(given.allergies),
               "conditions_recorded": recorded.conditions, "conditions_entered": list(given.conditions),
               "egfr": egfr_source,
               "weight": {"from": "entered"} if given.weight_kg is not None else (
                   {"from": "observation", "at": recorded.weight.at.isoformat()} if weight is not None
                   and recorded.weight else None)}
    return facts, sources


def given_before(row: InteractionCheck | None) -> ClinicalInputs:
    """What the prescriber typed at the last check, reused when the system checks again after an event."""
    if row is None:
        return ClinicalInputs()
    try:
        return ClinicalInputs.model_validate(row.inputs.get("given") or {})
    except ValueError:
        return ClinicalInputs()


def _order(item: PrescriptionItem) -> MedicationOrder:
    return MedicationOrder(name=item.medication, dose_mg=item.dose if item.unit == "mg" else None,
                           doses_per_day=float(item.times_per_day), route=item.route)


def _other_active_items(session: Session, rx: Prescription) -> list[PrescriptionItem]:
    return list(session.scalars(_OTHER_ACTIVE, {"patient_id": rx.patient_id, "rx_id": rx.id}))


def decisions(session: Session, rx_id: uuid.UUID) -> dict[str, AlertDecision]:
    rows = session.scalars(_DECISIONS, {"rx_id": rx_id})
    return {d.alert_key: d for d in rows}


def _read_alert(a: Alert, decided: dict[str, AlertDecision]) -> AlertRead:
    d = decided.get(alert_key(a.kind, a.items))
    blocking = a.severity in BLOCKING_SEVERITIES and d is None
    return AlertRead(kind=a.kind, severity=a.severity, items=a.items, message=a.message, management=a.management,
                     sources=a.sources, interruptive=a.interruptive, overridable=a.overridable, blocking=blocking,
                     decision=d.action if d else None, reason=d.reason if d else None)


def run(session: Session, principal: Principal | None, rx: Prescription, items: list[PrescriptionItem],
        patient: Patient, *, clinical: ClinicalInputs, trigger: str, now: datetime,
        event: dict[str, Any] | None = None) -> CheckRead:
    """Check this prescription together with the patient's other active ones; the run is stored and audited."""
    others = _other_active_items(session, rx)
    facts, sources = clinical_facts(session, patient, clinical, now)
    decided = decisions(session, rx.id)
    overrides = [Override(kind=d.kind, items=d.items, reason=d.reason)
                 for d in decided.values() if d.action == "override"]
    request = CheckRequest(medications=[_order(i) for i in [*items, *others]][:100], overrides=overrides, **facts)
    result = check(request)
    alerts = [_read_alert(a, decided) for a in result.alerts]
    outcome = "blocking" if any(a.blocking for a in alerts) else ("warnings" if alerts else "clear")
    inputs = {**facts, "medications": [i.medication for i in items], "other_active": [i.medication for i in others],
              "given": clinical.model_dump(mode="json"), "sources": sources, "engine_inputs": result.inputs}
    if event is not None:
        inputs["event"] = event
    seq = (session.scalar(_LAST_SEQ, {"rx_id": rx.id}) or 0) + 1
    row = InteractionCheck(id=uuid.uuid4(), prescription_id=rx.id, patient_id=rx.patient_id, seq=seq,
                           by_user_id=principal.user_id if principal else None, trigger=trigger,
                           knowledge_version=result.knowledge_version, inputs=inputs,
                           alerts=[a.model_dump(mode="json") for a in alerts], outcome=outcome, at=now)
    session.add(row)
    session.flush()
    trail(session, principal, rx, "check", now=now,
          detail={"outcome": outcome, "alerts": len(alerts), "knowledge_version": result.knowledge_version,
                  "trigger": trigger})
    # an open prescriber page re-draws its alerts on this (stream.py); ids and counts only
    emit(session, "prescription.checked", {"prescription_id": str(rx.id), "patient_id": str(rx.patient_id),
                                           "outcome": outcome, "trigger": trigger,
                                           "blocking": sum(1 for a in alerts if a.blocking)})
    # the alerts as just built, not re-read from the stored JSON (the same values: the row was dumped from them)
    return CheckRead(id=row.id, prescription_id=rx.id, at=now, trigger=trigger, knowledge_version=row.knowledge_version,
                     outcome=outcome, alerts=alerts, inputs=inputs)


def to_read(row: InteractionCheck, decided: dict[str, AlertDecision] | None = None) -> CheckRead:
    """The stored run; with `decided`, each alert shows the decision recorded since (and whether it still blocks)."""
    alerts = [AlertRead.model_validate(a) for a in row.alerts]
    if decided is not None:
        for alert in alerts:
            d = decided.get(alert_key(alert.kind, alert.items))
            if d is not None:
                alert.decision, alert.reason, alert.blocking = d.action, d.reason, False
    return CheckRead(id=row.id, prescription_id=row.prescription_id, at=row.at, trigger=row.trigger,
                     knowledge_version=row.knowledge_version, outcome=row.outcome, alerts=alerts, inputs=row.inputs)


def latest(session: Session, rx_id: uuid.UUID) -> InteractionCheck | None:
    return session.scalars(_LATEST, {"rx_id": rx_id}).first()


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
