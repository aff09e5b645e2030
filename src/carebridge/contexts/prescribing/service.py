"""Use cases of prescribing: the picker, the e-prescription lifecycle, signing and verification, dispensing.

Status moves one way: draft -> signed -> partially_dispensed -> dispensed -> completed, with cancelled (from
draft or signed) and expired (a signed prescription not dispensed in time) as the other ends. Anything else
answers 409. Services never commit; each write leaves an audit entry and an outbox event.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts import audit, patients
from carebridge.contexts.prescribing import checks, expiry
from carebridge.contexts.prescribing.access import RESOURCE, items_of, load, patient_for, trail
from carebridge.contexts.prescribing.models import Prescription, PrescriptionItem
from carebridge.contexts.prescribing.schemas import (
    ACTIVE_STATUSES,
    ItemRead,
    MedicationHit,
    MedicationPage,
    OpenAlert,
    PrescriptionPage,
    PrescriptionRead,
    RxStatus,
)
from carebridge.engines.interactions import search
from carebridge.kernel.errors import ValidationProblem
from carebridge.kernel.pagination import decode_cursor, encode_cursor
from carebridge.security import (
    DataCategory,
    Permission,
    Principal,
    decide_patient_access,
    has_permission,
    require,
)

MAX_PICKER = 50  # the engine's picker ranks at most this many hits


# --- picker -------------------------------------------------------------------------------------------------

def search_medications(principal: Principal, *, q: str, limit: int, cursor: str | None) -> MedicationPage:
    """The catalogue picker, paged by offset over the engine's ranked hits (at most 50 per query)."""
    require(principal, Permission.prescription_read)
    keys = decode_cursor(cursor, arity=1)
    offset = keys[0] if keys else 0
    if not isinstance(offset, int) or not 0 <= offset < MAX_PICKER:
        raise ValidationProblem("cursor is not one this server issued",
                                errors=[{"field": "cursor", "message": "malformed"}])
    hits = search(q, limit=min(MAX_PICKER, offset + limit + 1))
    page = hits[offset:offset + limit]
    more = len(hits) > offset + limit
    items = [MedicationHit(label=h.label, kind=h.kind, ingredients=list(h.ingredients), atc=list(h.atc),
                           manufacturer=h.manufacturer, routes=sorted({f.route for f in h.forms}),
                           strengths=sorted({s for f in h.forms for s in f.strengths}))
             for h in page]
    return MedicationPage(items=items, next_cursor=encode_cursor([offset + limit]) if more else None, limit=limit)


# --- reading --------------------------------------------------------------------------------------------------

def to_read(session: Session, rx: Prescription, items: list[PrescriptionItem]) -> PrescriptionRead:
    last = checks.latest(session, rx.id)
    return PrescriptionRead(
        id=rx.id, patient_id=rx.patient_id, prescriber_id=rx.prescriber_id, organization_id=rx.organization_id,
        pharmacy_organization_id=rx.pharmacy_organization_id, status=RxStatus(rx.status), note=rx.note,
        items=[ItemRead.model_validate(i, from_attributes=True) for i in items], created_at=rx.created_at,
        signed_at=rx.signed_at, expires_at=rx.expires_at, content_hash=rx.content_hash,
        latest_check=checks.to_read(last, checks.decisions(session, rx.id)) if last else None)


def get_prescription(session: Session, principal: Principal, *, rx_id: uuid.UUID, now: datetime) -> PrescriptionRead:
    rx, items, _ = load(session, principal, rx_id, Permission.prescription_read, now=now)
    expiry.expire(session, rx, now=now, via="read")
    trail(session, principal, rx, "read", now=now)
    return to_read(session, rx, items)


def list_for_patient(session: Session, principal: Principal, *, patient_id: uuid.UUID, status: RxStatus | None,
                     limit: int, cursor: str | None, now: datetime) -> PrescriptionPage:
    patient_for(session, principal, patient_id, Permission.prescription_read, now=now)
    stmt = select(Prescription).where(Prescription.patient_id == patient_id)
    if status is not None:
        stmt = stmt.where(Prescription.status == status.value)
    keys = decode_cursor(cursor, arity=2)
    if keys:
        try:
            at, last_id = datetime.fromisoformat(str(keys[0])), uuid.UUID(str(keys[1]))
        except ValueError as exc:
            raise ValidationProblem("cursor is not one this server issued",
                                    errors=[{"field": "cursor", "message": "malformed"}]) from exc
        stmt = stmt.where((Prescription.created_at < at)
                          | ((Prescription.created_at == at) & (Prescription.id < last_id)))
    rows = list(session.scalars(stmt.order_by(Prescription.created_at.desc(), Prescription.id.desc())
                                .limit(limit + 1)))
    more, rows = len(rows) > limit, rows[:limit]
    trail_patient(session, principal, patient_id, now=now, count=len(rows))
    items = [to_read(session, r, items_of(session, r.id)) for r in rows]
    nxt = encode_cursor([rows[-1].created_at.isoformat(), str(rows[-1].id)]) if more and rows else None
    return PrescriptionPage(items=items, next_cursor=nxt, limit=limit)


def trail_patient(session: Session, principal: Principal, patient_id: uuid.UUID, *, now: datetime,
                  count: int) -> None:
    audit.record(session, principal, action="search", resource_type=RESOURCE, patient_id=patient_id,
                 detail={"count": count}, at=now)


def open_alerts(session: Session, principal: Principal, *, patient_id: uuid.UUID,
                now: datetime) -> list[OpenAlert]:
    """Major/contraindicated alerts on the patient's draft and active prescriptions not yet acknowledged or
    overridden, including those a re-check after a record change raised (a new allergy, a falling eGFR)."""
    patient_for(session, principal, patient_id, Permission.prescription_read, now=now)
    open_rx = session.scalars(select(Prescription).where(
        Prescription.patient_id == patient_id,
        Prescription.status.in_([RxStatus.draft.value, *[s.value for s in ACTIVE_STATUSES]]))
        .order_by(Prescription.created_at, Prescription.id))
    out = []
    for rx in open_rx:
        last = checks.latest(session, rx.id)
        for a in checks.blocking_alerts(session, rx.id):
            out.append(OpenAlert(prescription_id=rx.id, status=RxStatus(rx.status), kind=a["kind"],
                                 severity=a["severity"], items=a["items"], message=a["message"],
                                 management=a.get("management", ""), sources=a.get("sources", []),
                                 overridable=bool(a.get("overridable", True)),
                                 checked_at=last.at if last else None,
                                 trigger=last.trigger if last else ""))
    trail_patient(session, principal, patient_id, now=now, count=len(out))
    return out


class ChartAlerts(BaseModel):
    """What a patient's chart shows about prescribing: the open alerts and whether the viewer may prescribe."""

    alerts: list[OpenAlert]
    may_prescribe: bool


def chart_alerts(session: Session, principal: Principal, *, patient_id: uuid.UUID,
                 now: datetime) -> ChartAlerts | None:
    """The open alerts for the records chart, or None for a viewer who does not see them there.

    Patients and caregivers see their medicines on /medications; staff whose role or the patient's consent
    keeps out of prescriptions get None without a refusal entry, since the chart did not ask for prescriptions
    (a request that did, e.g. the alerts API, is refused and recorded as usual)."""
    if not principal.is_staff or not has_permission(principal.role, Permission.prescription_read):
        return None
    facts = patients.get_patient_facts(session, patient_id, principal=principal, now=now)
    if not decide_patient_access(principal, Permission.prescription_read, facts, DataCategory.prescriptions,
                                 purpose="treatment").allowed:
        return None
    return ChartAlerts(alerts=open_alerts(session, principal, patient_id=patient_id, now=now),
                       may_prescribe=has_permission(principal.role, Permission.prescription_write))


def authorize_stream(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime) -> None:
    """Opening the live alert stream is a read of the patient's prescriptions: the same policy, one audit entry."""
    patient_for(session, principal, patient_id, Permission.prescription_read, now=now)
    audit.record(session, principal, action="read", resource_type=RESOURCE, patient_id=patient_id,
                 detail={"stream": "prescription-alerts"}, at=now)


def pharmacy_queue(session: Session, principal: Principal, *, limit: int, now: datetime) -> list[PrescriptionRead]:
    """Signed prescriptions waiting at the caller's pharmacy (sent to it, or unassigned for its patients)."""
    require(principal, Permission.prescription_dispense)
    stmt = (select(Prescription)
            .where(Prescription.status.in_([RxStatus.signed.value, RxStatus.partially_dispensed.value]))
            .order_by(Prescription.signed_at).limit(limit * 4))
    out: list[PrescriptionRead] = []
    for rx in session.scalars(stmt):
        if rx.pharmacy_organization_id not in (None, principal.organization_id):
            continue
        facts = patients.get_patient_facts(session, rx.patient_id)
        if not decide_patient_access(principal, Permission.prescription_dispense, facts,
                                     DataCategory.prescriptions).allowed:
            continue
        out.append(to_read(session, rx, items_of(session, rx.id)))
        if len(out) >= limit:
            break
    audit.record(session, principal, action="search", resource_type=RESOURCE, detail={"queue": len(out)}, at=now)
    return out
