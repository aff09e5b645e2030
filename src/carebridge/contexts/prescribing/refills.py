"""The prescriber's answer to a refill request: approve (one more fill of every item with refills left) or
refuse with a reason. Both are audited, emitted and told to the patient; a decided request is final (409).

Approving reopens a dispensed or completed prescription as `partially_dispensed`, so it is back in the
pharmacy's queue for exactly one more prescribed quantity per item (dispensing allows quantity x (1 + refills
used)). Expiry is not reset: a refill of an expired prescription needs a new prescription.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts.prescribing import notify
from carebridge.contexts.prescribing.access import load, patient_for, trail
from carebridge.contexts.prescribing.models import Prescription, RefillRequest
from carebridge.contexts.prescribing.schemas import RefillDecide, RefillRead, RxStatus
from carebridge.contexts.prescribing.service import trail_patient
from carebridge.kernel.errors import Conflict, NotFound, ValidationProblem
from carebridge.kernel.events import emit
from carebridge.security import Permission, Principal

REFILLABLE = frozenset({RxStatus.dispensed, RxStatus.partially_dispensed, RxStatus.completed})


def to_read(req: RefillRequest) -> RefillRead:
    return RefillRead.model_validate(req, from_attributes=True)


def decide(session: Session, principal: Principal, *, request_id: uuid.UUID, data: RefillDecide,
           now: datetime) -> RefillRead:
    req = session.get(RefillRequest, request_id)
    if req is None:
        raise NotFound("no such refill request")
    rx, items, patient = load(session, principal, req.prescription_id, Permission.prescription_write, now=now)
    if req.status != "open":
        raise Conflict(f"this refill request was already {req.status}", extra={"status_now": req.status})
    reason = data.reason.strip()
    if data.action == "refuse" and len(reason) < 3:
        raise ValidationProblem("give the patient a reason (at least 3 characters)",
                                errors=[{"field": "body.reason", "message": "required to refuse"}])
    if data.action == "approve":
        if rx.status not in REFILLABLE:
            raise Conflict(f"a {rx.status} prescription cannot be refilled", extra={"status_now": rx.status})
        refillable = [i for i in items if i.refills_used < i.refills]
        if not refillable:
            raise Conflict("no refills are left on this prescription; write a new one")
        for item in refillable:
            item.refills_used += 1
        rx.status, rx.closed_at = RxStatus.partially_dispensed.value, None
    req.status = "approved" if data.action == "approve" else "refused"
    req.decided_by, req.decided_at, req.decision_reason = principal.user_id, now, reason
    rx.updated_at = now
    session.flush()
    trail(session, principal, rx, "refill_" + data.action, now=now,
          detail={"refill_request_id": str(req.id), "reason": reason})
    notify.refill_decided(session, rx, patient, approved=data.action == "approve", reason=reason, now=now)
    emit(session, "prescription.refill_decided", {"prescription_id": str(rx.id), "patient_id": str(rx.patient_id),
                                                  "refill_request_id": str(req.id), "status": req.status})
    return to_read(req)


def list_for_patient(session: Session, principal: Principal, *, patient_id: uuid.UUID, status: str | None,
                     now: datetime) -> list[RefillRead]:
    """A patient's refill requests, newest first (at most 100)."""
    patient_for(session, principal, patient_id, Permission.prescription_read, now=now)
    stmt = (select(RefillRequest).join(Prescription, Prescription.id == RefillRequest.prescription_id)
            .where(Prescription.patient_id == patient_id))
    if status is not None:
        stmt = stmt.where(RefillRequest.status == status)
    rows = list(session.scalars(stmt.order_by(RefillRequest.at.desc(), RefillRequest.id.desc()).limit(100)))
    trail_patient(session, principal, patient_id, now=now, count=len(rows))
    return [to_read(r) for r in rows]
