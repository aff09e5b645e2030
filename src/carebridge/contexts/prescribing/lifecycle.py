"""Writes on a prescription: create, change (draft only), check, alert decisions, sign, verify, cancel,
dispense, complete and refill requests. Each illegal transition answers 409 naming the status it is in."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from carebridge.contexts.prescribing import checks, notify, signing
from carebridge.contexts.prescribing.access import load, patient_for, trail
from carebridge.contexts.prescribing.models import DispenseRecord, Prescription, PrescriptionItem, RefillRequest
from carebridge.contexts.prescribing.schemas import (
    ACTIVE_STATUSES,
    AlertDecide,
    CheckRead,
    ClinicalInputs,
    DispenseCreate,
    DispenseRead,
    ItemCreate,
    PrescriptionCreate,
    PrescriptionRead,
    PrescriptionUpdate,
    RefillRead,
    RxStatus,
    SignedText,
    VerifyRead,
)
from carebridge.contexts.prescribing.service import to_read
from carebridge.engines.interactions.catalogue import load_catalogue
from carebridge.kernel.errors import Conflict, Forbidden, ValidationProblem
from carebridge.kernel.events import emit
from carebridge.kernel.keys import ServerKeys
from carebridge.security import Permission, Principal

VALID_DAYS = 30  # a signed prescription not dispensed within this many days expires


def _conflict(rx: Prescription, what: str) -> Conflict:
    return Conflict(f"a {rx.status} prescription cannot be {what}", extra={"status_now": rx.status})


def _items(rx_id: uuid.UUID, given: list[ItemCreate]) -> list[PrescriptionItem]:
    """Rows for the ordered items; each medicine must resolve in the catalogue (unknown ones are refused)."""
    cat = load_catalogue()
    rows, errors = [], []
    for pos, item in enumerate(given):
        res = cat.resolve(item.medication)
        if res is None:
            errors.append({"field": f"body.items.{pos}.medication",
                           "message": "not in the medicine catalogue; pick one from /api/v1/medications"})
            continue
        quantity = item.quantity or item.times_per_day * item.duration_days
        rows.append(PrescriptionItem(
            id=uuid.uuid4(), prescription_id=rx_id, position=pos, medication=item.medication.strip(),
            ingredients=list(res.ingredients), dose=item.dose, unit=item.unit, route=item.route,
            times_per_day=item.times_per_day, with_food=item.with_food, duration_days=item.duration_days,
            quantity=quantity, refills=item.refills, instructions=item.instructions))
    if errors:
        raise ValidationProblem("some medicines are not in the catalogue", errors=errors)
    return rows


def create(session: Session, principal: Principal, *, data: PrescriptionCreate, now: datetime) -> PrescriptionRead:
    patient = patient_for(session, principal, data.patient_id, Permission.prescription_write, now=now)
    rx = Prescription(id=uuid.uuid4(), patient_id=patient.id, prescriber_id=principal.user_id,
                      organization_id=principal.organization_id,
                      pharmacy_organization_id=data.pharmacy_organization_id, status=RxStatus.draft.value,
                      note=data.note, created_at=now, updated_at=now)
    session.add(rx)
    session.flush()
    items = _items(rx.id, data.items)
    session.add_all(items)
    session.flush()
    trail(session, principal, rx, "create", now=now, detail={"items": len(items)})
    checks.run(session, principal, rx, items, patient, clinical=data.clinical, trigger="create", now=now)
    emit(session, "prescription.created", {"prescription_id": str(rx.id), "patient_id": str(rx.patient_id)})
    return to_read(session, rx, items)


def update(session: Session, principal: Principal, *, rx_id: uuid.UUID, data: PrescriptionUpdate,
           now: datetime) -> PrescriptionRead:
    rx, old, patient = load(session, principal, rx_id, Permission.prescription_write, now=now)
    if rx.status != RxStatus.draft:
        raise _conflict(rx, "changed; cancel it and write a new one")
    for row in old:
        session.delete(row)
    session.flush()
    items = _items(rx.id, data.items)
    session.add_all(items)
    rx.note, rx.updated_at = data.note, now
    session.flush()
    trail(session, principal, rx, "update", now=now, detail={"items": len(items)})
    checks.run(session, principal, rx, items, patient, clinical=data.clinical, trigger="update", now=now)
    emit(session, "prescription.updated", {"prescription_id": str(rx.id), "patient_id": str(rx.patient_id)})
    return to_read(session, rx, items)


def run_check(session: Session, principal: Principal, *, rx_id: uuid.UUID, clinical: ClinicalInputs,
              now: datetime) -> CheckRead:
    rx, items, patient = load(session, principal, rx_id, Permission.prescription_write, now=now)
    return checks.run(session, principal, rx, items, patient, clinical=clinical, trigger="on_demand", now=now)


def decide_alert(session: Session, principal: Principal, *, rx_id: uuid.UUID, data: AlertDecide,
                 now: datetime) -> PrescriptionRead:
    rx, items, _ = load(session, principal, rx_id, Permission.prescription_write, now=now)
    if rx.status != RxStatus.draft and rx.status not in ACTIVE_STATUSES:
        raise _conflict(rx, "reviewed again")
    checks.decide(session, principal, rx, kind=data.kind, items=list(data.items), action=data.action,
                  reason=data.reason, now=now)
    return to_read(session, rx, items)


def sign(session: Session, principal: Principal, *, rx_id: uuid.UUID, keys: ServerKeys,
         now: datetime) -> PrescriptionRead:
    rx, items, patient = load(session, principal, rx_id, Permission.prescription_write, now=now)
    if rx.status != RxStatus.draft:
        raise _conflict(rx, "signed")
    if checks.latest(session, rx.id) is None:
        raise Conflict("run the decision-support check before signing")
    blocking = checks.blocking_alerts(session, rx.id)
    if blocking:
        trail(session, principal, rx, "sign", now=now, detail={"refused": len(blocking)})
        raise Conflict(
            "acknowledge or override (with a reason) every major or contraindicated alert before signing: "
            + "; ".join(f"{a['severity']} {a['kind']}: {' + '.join(a['items'])}" for a in blocking),
            slug="unresolved-alerts", title="Unresolved alerts",
            extra={"alerts": [{"kind": a["kind"], "severity": a["severity"], "items": a["items"],
                               "message": a["message"]} for a in blocking]})
    rx.content_hash, rx.signature = signing.sign(keys.signing_key, rx, items, prescriber=principal.user_id, at=now)
    rx.signed_by, rx.signed_at = principal.user_id, now
    rx.status, rx.updated_at = RxStatus.signed.value, now
    rx.expires_at = now + timedelta(days=VALID_DAYS)
    trail(session, principal, rx, "sign", now=now, detail={"content_hash": rx.content_hash})
    notify.queue_reminders(session, rx, items, patient, secret=keys.token_secret, now=now)
    emit(session, "prescription.signed", {"prescription_id": str(rx.id), "patient_id": str(rx.patient_id)})
    return to_read(session, rx, items)


def verify(session: Session, principal: Principal, *, rx_id: uuid.UUID, keys: ServerKeys,
           now: datetime) -> VerifyRead:
    rx, items, _ = load(session, principal, rx_id, Permission.prescription_read, now=now)
    ok, reason = signing.verify(keys.public_key, rx, items)
    trail(session, principal, rx, "verify", now=now, detail={"valid": ok})
    return VerifyRead(valid=ok, reason=reason, prescription_id=rx.id, content_hash=rx.content_hash,
                      signed_at=rx.signed_at, signed_by=rx.signed_by)


def signed_text(session: Session, principal: Principal, *, rx_id: uuid.UUID, now: datetime) -> SignedText:
    rx, _, _ = load(session, principal, rx_id, Permission.prescription_read, now=now)
    if rx.signature is None:
        raise _conflict(rx, "printed: sign it first")
    trail(session, principal, rx, "print", now=now)
    return SignedText(text=signing.qr_text(rx), valid=True)


def cancel(session: Session, principal: Principal, *, rx_id: uuid.UUID, reason: str,
           now: datetime) -> PrescriptionRead:
    rx, items, _ = load(session, principal, rx_id, Permission.prescription_write, now=now)
    if rx.status not in (RxStatus.draft, RxStatus.signed):
        raise _conflict(rx, "cancelled")
    rx.status, rx.closed_at, rx.updated_at, rx.close_reason = RxStatus.cancelled.value, now, now, reason
    trail(session, principal, rx, "cancel", now=now, detail={"reason": reason})
    notify.cancel_reminders(session, rx, now=now)
    emit(session, "prescription.cancelled", {"prescription_id": str(rx.id), "patient_id": str(rx.patient_id)})
    return to_read(session, rx, items)


def dispense(session: Session, principal: Principal, *, rx_id: uuid.UUID, data: DispenseCreate,
             now: datetime) -> list[DispenseRead]:
    rx, items, patient = load(session, principal, rx_id, Permission.prescription_dispense, now=now)
    if rx.pharmacy_organization_id is not None and principal.organization_id != rx.pharmacy_organization_id:
        raise Forbidden("this prescription was sent to another pharmacy")
    if rx.status == RxStatus.signed and rx.expires_at is not None and now >= rx.expires_at:
        raise Conflict("this prescription has expired", extra={"status_now": "expired"})
    if rx.status not in (RxStatus.signed, RxStatus.partially_dispensed):
        raise _conflict(rx, "dispensed")
    by_id = {i.id: i for i in items}
    out = []
    for line in data.lines:
        item = by_id.get(line.item_id)
        if item is None:
            raise ValidationProblem("no such item on this prescription",
                                    errors=[{"field": "body.lines.item_id", "message": "unknown item"}])
        if item.dispensed_quantity + line.quantity > item.quantity * (1 + item.refills_used):
            raise Conflict(f"{item.medication}: more than the prescribed quantity")
        item.dispensed_quantity += line.quantity
        rec = DispenseRecord(id=uuid.uuid4(), prescription_id=rx.id, item_id=item.id, quantity=line.quantity,
                             pharmacist_id=principal.user_id, organization_id=principal.organization_id, at=now)
        session.add(rec)
        out.append(DispenseRead.model_validate(rec, from_attributes=True))
    full = all(i.dispensed_quantity >= i.quantity * (1 + i.refills_used) for i in items)
    rx.status = (RxStatus.dispensed if full else RxStatus.partially_dispensed).value
    rx.updated_at = now
    session.flush()
    trail(session, principal, rx, "dispense", now=now, detail={"lines": len(out), "full": full})
    notify.queue_refill_due(session, rx, items, patient, now=now)
    emit(session, "prescription.dispensed", {"prescription_id": str(rx.id), "patient_id": str(rx.patient_id),
                                             "full": full})
    return out


def complete(session: Session, principal: Principal, *, rx_id: uuid.UUID, now: datetime) -> PrescriptionRead:
    rx, items, _ = load(session, principal, rx_id, Permission.prescription_write, now=now)
    if rx.status not in (RxStatus.dispensed, RxStatus.partially_dispensed):
        raise _conflict(rx, "completed")
    rx.status, rx.closed_at, rx.updated_at = RxStatus.completed.value, now, now
    trail(session, principal, rx, "complete", now=now)
    return to_read(session, rx, items)


def request_refill(session: Session, principal: Principal, *, rx_id: uuid.UUID, note: str,
                   now: datetime) -> RefillRead:
    rx, items, _ = load(session, principal, rx_id, Permission.prescription_refill, now=now)
    if rx.status not in (RxStatus.dispensed, RxStatus.partially_dispensed, RxStatus.completed):
        raise _conflict(rx, "refilled")
    if not any(i.refills_used < i.refills for i in items):
        raise Conflict("no refills are left on this prescription; ask the prescriber for a new one")
    req = RefillRequest(id=uuid.uuid4(), prescription_id=rx.id, requested_by=principal.user_id, note=note,
                        status="open", at=now)
    session.add(req)
    session.flush()
    trail(session, principal, rx, "refill_request", now=now)
    emit(session, "prescription.refill_requested", {"prescription_id": str(rx.id),
                                                    "patient_id": str(rx.patient_id)})
    return RefillRead.model_validate(req, from_attributes=True)


def doses_remaining(item: PrescriptionItem) -> int:
    return max(0, math.ceil(item.quantity - item.dispensed_quantity))
