"""Early-warning scores over a patient's latest readings, and the alerts they raise.

Against alert fatigue: one live (open or acknowledged) alert per patient and kind, which later triggers refresh
rather than duplicate; after a clinician resolves one, the same kind at the same or a lower severity stays quiet
for `SUPPRESSION` (a worse severity breaks through at once). An alert left open past `ESCALATE_AFTER` is escalated.
A new alert and an escalation each notify the care team (notify.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, union_all
from sqlalchemy.orm import Session

from carebridge.contexts import audit
from carebridge.contexts.monitoring import notify
from carebridge.contexts.monitoring.models import Alert, ThresholdRule, VitalReading
from carebridge.contexts.monitoring.schemas import AlertList, AlertRead, News2Read
from carebridge.contexts.patients import load_patient_for
from carebridge.engines import news2, qsofa
from carebridge.engines.vitals import catalog, news2_input
from carebridge.kernel.errors import Conflict, NotFound
from carebridge.kernel.events import emit
from carebridge.security import DataCategory, Permission, Principal

LATEST_WINDOW = timedelta(hours=1)  # readings older than this before the newest are not "the latest set"
SUPPRESSION = timedelta(minutes=30)
ESCALATE_AFTER = timedelta(minutes=15)
SEVERITY_RANK = {"low_medium": 1, "medium": 2, "high": 3}
BAND_FOR_RISK = {"low": "green", "low_medium": "yellow", "medium": "amber", "high": "red"}
LIVE = ("open", "acknowledged")


def latest_values(session: Session, patient_id: uuid.UUID) -> tuple[dict[str, float], int, datetime | None]:
    """The newest value of each reading type (by measurement time, so late arrivals never overwrite newer
    values), limited to the hour before the newest reading; with the SpO2 scale and the newest time."""
    # one index probe per reading type (newest first on (patient, type, observed_at)), not a scan of the
    # patient's whole series, so the cost does not grow with the stored history
    probes = [select(VitalReading.type, VitalReading.value, VitalReading.observed_at, VitalReading.spo2_scale)
              .where(VitalReading.patient_id == patient_id, VitalReading.type == kind)
              .order_by(VitalReading.observed_at.desc()).limit(1).subquery().select()
              for kind in catalog()]
    rows = session.execute(union_all(*probes)).tuples().all()
    if not rows:
        return {}, 1, None
    top = max(r[2] for r in rows)
    values: dict[str, float] = {}
    scale = 1
    for kind, value, at, row_scale in rows:
        if at >= top - LATEST_WINDOW:
            values[kind] = value
            if kind == "spo2" and row_scale:
                scale = row_scale
    return values, scale, top


def news2_of(values: Mapping[str, float], scale: int) -> news2.News2Result | None:
    data = news2_input(values, spo2_scale=scale)
    if len(data) == 1:
        return None
    try:
        return news2.score_news2(data, allow_partial=True)
    except ValidationError:
        return None


def _to_read(row: Alert) -> AlertRead:
    return AlertRead(id=row.id, patient_id=row.patient_id, kind=row.kind, severity=row.severity,
                     status=row.status,
                     score=row.score, detail=row.detail, occurrences=row.occurrences, raised_at=row.raised_at,
                     last_seen_at=row.last_seen_at, acknowledged_at=row.acknowledged_at, resolved_at=row.resolved_at,
                     escalated_at=row.escalated_at)


def _event(row: Alert) -> dict[str, Any]:
    return {"alert_id": str(row.id), "patient_id": str(row.patient_id), "kind": row.kind, "severity": row.severity,
            "status": row.status, "score": row.score}


def raise_or_refresh(session: Session, *, patient_id: uuid.UUID, kind: str, severity: str, score: int | None,
                     detail: dict[str, Any], now: datetime) -> Alert | None:
    """The new alert, or None when an existing live alert absorbed the trigger or a suppression window holds."""
    live = session.scalars(select(Alert).where(Alert.patient_id == patient_id, Alert.kind == kind,
                                               Alert.status.in_(LIVE))).first()
    if live is not None:
        live.last_seen_at = now
        live.occurrences += 1
        if SEVERITY_RANK[severity] > SEVERITY_RANK[live.severity]:
            live.severity, live.score, live.detail, live.status = severity, score, detail, "open"
            emit(session, "monitoring.alert_updated", _event(live))
        return None
    recent = session.scalars(select(Alert).where(Alert.patient_id == patient_id, Alert.kind == kind,
                                                 Alert.status == "resolved", Alert.resolved_at >= now - SUPPRESSION)
                             .order_by(Alert.resolved_at.desc())).first()
    if recent is not None and SEVERITY_RANK[severity] <= SEVERITY_RANK[recent.severity]:
        return None
    row = Alert(patient_id=patient_id, kind=kind, severity=severity, status="open", score=score, detail=detail,
                occurrences=1, raised_at=now, last_seen_at=now)
    session.add(row)
    session.flush()
    emit(session, "monitoring.alert_raised", _event(row))
    notify.notify_care_team(session, row, template=notify.ALERT_RAISED, now=now)
    return row


def evaluate(session: Session, *, patient_id: uuid.UUID, now: datetime) -> list[Alert]:
    """Score the patient's latest readings and raise what they call for (NEWS2 ≥ 5 or a red single parameter,
    a positive qSOFA, any breached threshold rule). Returns the alerts newly raised."""
    values, scale, _ = latest_values(session, patient_id)
    raised: list[Alert | None] = []
    result = news2_of(values, scale)
    if result is not None and result.risk != "low":
        raised.append(raise_or_refresh(session, patient_id=patient_id, kind="news2", severity=result.risk,
                                       score=result.score, now=now,
                                       detail={"parameters": result.parameters, "complete": result.complete}))
    if {"respiratory_rate", "systolic_bp", "consciousness"} <= values.keys():
        data = news2_input(values)
        q = qsofa.score_qsofa({k: data[k] for k in ("respiratory_rate", "systolic_bp", "consciousness")})
        if q.positive:
            raised.append(raise_or_refresh(session, patient_id=patient_id, kind="qsofa", severity="medium",
                                           score=q.score, detail=q.criteria.model_dump(), now=now))
    for rule in session.scalars(select(ThresholdRule).where(ThresholdRule.patient_id == patient_id)):
        value = values.get(rule.type)
        if value is None:
            continue
        if (rule.min is not None and value < rule.min) or (rule.max is not None and value > rule.max):
            raised.append(raise_or_refresh(session, patient_id=patient_id, kind=f"threshold:{rule.type}",
                                           severity="medium", score=None, now=now,
                                           detail={"type": rule.type, "value": value, "min": rule.min,
                                                   "max": rule.max}))
    return [a for a in raised if a is not None]


def current_news2(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime) -> News2Read:
    load_patient_for(session, principal, patient_id, Permission.record_read, now=now, action="read",
                     category=DataCategory.vitals)
    values, scale, at = latest_values(session, patient_id)
    result = news2_of(values, scale)
    if result is None:
        return News2Read(patient_id=patient_id, score=None, risk=None, band="grey", complete=False,
                         missing=list(news2.PARAMETERS), parameters={}, at=at)
    return News2Read(patient_id=patient_id, score=result.score, risk=result.risk, band=BAND_FOR_RISK[result.risk],
                     complete=result.complete, missing=list(result.missing), parameters=result.parameters, at=at)


def list_alerts(session: Session, principal: Principal, *, patient_id: uuid.UUID, status: str | None,
                now: datetime) -> AlertList:
    load_patient_for(session, principal, patient_id, Permission.record_read, now=now, action="read",
                     category=DataCategory.vitals)
    stmt = select(Alert).where(Alert.patient_id == patient_id)
    if status:
        stmt = stmt.where(Alert.status == status)
    rows = session.scalars(stmt.order_by(Alert.raised_at.desc()).limit(200))
    return AlertList(items=[_to_read(r) for r in rows])


def _transition(session: Session, principal: Principal, *, alert_id: uuid.UUID, to: str, now: datetime) -> AlertRead:
    row = session.get(Alert, alert_id)
    if row is None:
        raise NotFound("no such alert")
    load_patient_for(session, principal, row.patient_id, Permission.record_write, now=now, audit_success=False,
                     action="update", category=DataCategory.vitals)
    allowed_from = {"acknowledged": ("open",), "resolved": LIVE}[to]
    if row.status not in allowed_from:
        raise Conflict(f"a {row.status} alert cannot be {to}")
    row.status = to
    if to == "acknowledged":
        row.acknowledged_at, row.acknowledged_by = now, principal.user_id
    else:
        row.resolved_at, row.resolved_by = now, principal.user_id
    audit.record(session, principal, action="update", resource_type="Alert", resource_id=row.id,
                 patient_id=row.patient_id, detail={"status": to}, at=now)
    emit(session, f"monitoring.alert_{to}", _event(row))
    return _to_read(row)


def acknowledge(session: Session, principal: Principal, *, alert_id: uuid.UUID, now: datetime) -> AlertRead:
    return _transition(session, principal, alert_id=alert_id, to="acknowledged", now=now)


def resolve(session: Session, principal: Principal, *, alert_id: uuid.UUID, now: datetime) -> AlertRead:
    return _transition(session, principal, alert_id=alert_id, to="resolved", now=now)


def escalate_overdue(session: Session, *, now: datetime, after: timedelta = ESCALATE_AFTER) -> int:
    """Background job: mark alerts still open (unacknowledged) past `after` as escalated, once each, and tell
    the care team again."""
    rows = session.scalars(select(Alert).where(Alert.status == "open", Alert.escalated_at.is_(None),
                                               Alert.raised_at <= now - after)).all()
    for row in rows:
        row.escalated_at = now
        emit(session, "monitoring.alert_escalated", _event(row))
        notify.notify_care_team(session, row, template=notify.ALERT_ESCALATED, now=now)
    return len(rows)
