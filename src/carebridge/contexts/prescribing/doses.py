"""The dose schedule of a signed prescription, the patient's taken/skipped marks, and adherence.

Doses are not stored until marked: the schedule is computed from the item (times per day, duration) from
the signing day, in the clinic's zone (India by default; the patient record has no zone yet). A dose id is
`<item id>.<due unix seconds>`, so marking needs no schedule table and a replayed mark updates one row.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts.prescribing.access import load, patient_for, trail
from carebridge.contexts.prescribing.models import DoseEvent, Prescription, PrescriptionItem
from carebridge.contexts.prescribing.schemas import ACTIVE_STATUSES, AdherenceRead, DoseRead, RxStatus
from carebridge.kernel.errors import Conflict, NotFound, ValidationProblem
from carebridge.security import Permission, Principal

ZONE = ZoneInfo("Asia/Kolkata")
TIMES: dict[int, tuple[int, ...]] = {1: (9,), 2: (9, 21), 3: (8, 14, 20), 4: (8, 12, 16, 20)}
MARK_AHEAD = timedelta(hours=2)  # a dose may be marked taken at most this long before it is due
LINK_VALID = timedelta(hours=24)  # a reminder's link marks its dose until this long after it was due


def clock_hours(times_per_day: int) -> list[float]:
    if times_per_day in TIMES:
        return [float(h) for h in TIMES[times_per_day]]
    step = 24 / times_per_day
    return [(8 + k * step) % 24 for k in range(times_per_day)]


def schedule(item: PrescriptionItem, start: datetime) -> list[datetime]:
    """Every due time of the course, in UTC, starting on the signing day (past times of that day skipped)."""
    first = start.astimezone(ZONE).date()
    out = []
    for day in range(item.duration_days + 1):
        d = first + timedelta(days=day)
        for h in clock_hours(item.times_per_day):
            local = datetime.combine(d, time(int(h), int((h % 1) * 60)), ZONE)
            if local >= start:
                out.append(local.astimezone(UTC))
    return out[: item.times_per_day * item.duration_days]


def dose_id_of(item_id: uuid.UUID, due: datetime) -> str:
    return f"{item_id}.{int(due.timestamp())}"


def _active(session: Session, patient_id: uuid.UUID) -> list[tuple[Prescription, PrescriptionItem]]:
    stmt = (select(Prescription, PrescriptionItem)
            .join(PrescriptionItem, PrescriptionItem.prescription_id == Prescription.id)
            .where(Prescription.patient_id == patient_id,
                   Prescription.status.in_([s.value for s in ACTIVE_STATUSES]))
            .order_by(Prescription.signed_at, PrescriptionItem.position))
    return [(rx, item) for rx, item in session.execute(stmt).tuples()]


def _marks(session: Session, item_ids: list[uuid.UUID]) -> dict[tuple[uuid.UUID, datetime], str]:
    if not item_ids:
        return {}
    rows = session.scalars(select(DoseEvent).where(DoseEvent.item_id.in_(item_ids)))
    return {(r.item_id, r.due_at): r.status for r in rows}


def doses_on(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime) -> list[DoseRead]:
    """The patient's doses due today (in the clinic's zone) across active prescriptions."""
    patient_for(session, principal, patient_id, Permission.prescription_read, now=now)
    day = now.astimezone(ZONE).date()
    pairs = _active(session, patient_id)
    marks = _marks(session, [i.id for _, i in pairs])
    out = []
    for rx, item in pairs:
        assert rx.signed_at is not None  # noqa: S101 - active prescriptions are signed
        for due in schedule(item, rx.signed_at):
            if due.astimezone(ZONE).date() == day:
                status = marks.get((item.id, due), "due")
                out.append(DoseRead(id=dose_id_of(item.id, due), item_id=item.id, medication=item.medication,
                                    due_at=due, status=status))
    out.sort(key=lambda d: d.due_at)
    return out


def _parse(dose_id: str) -> tuple[uuid.UUID, datetime]:
    item_text, _, seconds = dose_id.partition(".")
    try:
        return uuid.UUID(item_text), datetime.fromtimestamp(int(seconds), UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise ValidationProblem("not a dose id", errors=[{"field": "dose_id", "message": "malformed"}]) from exc


def _markable(rx: Prescription, item: PrescriptionItem, due: datetime, now: datetime) -> None:
    if rx.status not in ACTIVE_STATUSES or rx.signed_at is None:
        raise Conflict(f"a {rx.status} prescription has no doses to mark")
    if due not in schedule(item, rx.signed_at):
        raise NotFound("no such dose")
    if due - now > MARK_AHEAD:
        raise Conflict("this dose is not due yet")


def _record(session: Session, rx: Prescription, item: PrescriptionItem, due: datetime, status: str,
            by: uuid.UUID | None, now: datetime) -> DoseRead:
    row = session.scalars(select(DoseEvent).where(DoseEvent.item_id == item.id, DoseEvent.due_at == due)).first()
    if row is None:
        row = DoseEvent(id=uuid.uuid4(), item_id=item.id, patient_id=rx.patient_id, due_at=due, status=status,
                        marked_by=by, at=now)
        session.add(row)
    else:
        row.status, row.marked_by, row.at = status, by, now
    session.flush()
    return DoseRead(id=dose_id_of(item.id, due), item_id=item.id, medication=item.medication, due_at=due,
                    status=status)


def mark(session: Session, principal: Principal, *, dose_id: str, status: str, now: datetime) -> DoseRead:
    item_id, due = _parse(dose_id)
    item = session.get(PrescriptionItem, item_id)
    if item is None:
        raise NotFound("no such dose")
    rx, _, _ = load(session, principal, item.prescription_id, Permission.prescription_refill, now=now)
    _markable(rx, item, due, now)
    out = _record(session, rx, item, due, status, principal.user_id, now)
    trail(session, principal, rx, "dose_" + status, now=now, detail={"item_id": str(item.id)})
    return out


def dose_by_link(session: Session, *, dose_id: str, token: str, secret: bytes,
                 now: datetime) -> tuple[DoseRead, Prescription]:
    """The dose a reminder's signed link names (see notify.dose_link), if the link is genuine and still valid."""
    if not hmac.compare_digest(token.encode(), link_token(secret, dose_id).encode()):
        raise NotFound("this link is not valid; open My medicines instead")
    item_id, due = _parse(dose_id)
    item = session.get(PrescriptionItem, item_id)
    rx = session.get(Prescription, item.prescription_id) if item is not None else None
    if item is None or rx is None or now - due > LINK_VALID:
        raise NotFound("this link has expired; open My medicines instead")
    marks = _marks(session, [item.id])
    return DoseRead(id=dose_id, item_id=item.id, medication=item.medication, due_at=due,
                    status=marks.get((item.id, due), "due")), rx


def mark_by_link(session: Session, *, dose_id: str, token: str, status: str, secret: bytes,
                 now: datetime) -> DoseRead:
    """Mark one dose from the reminder's link, without signing in; audited as done through the link."""
    dose, rx = dose_by_link(session, dose_id=dose_id, token=token, secret=secret, now=now)
    item = session.get(PrescriptionItem, dose.item_id)
    assert item is not None  # noqa: S101 - found by dose_by_link
    _markable(rx, item, dose.due_at, now)
    out = _record(session, rx, item, dose.due_at, status, None, now)
    trail(session, None, rx, "dose_" + status, now=now, detail={"item_id": str(item.id), "via": "reminder_link"})
    return out


def link_token(secret: bytes, dose_id: str) -> str:
    return hmac.new(secret, b"rx-dose:" + dose_id.encode(), hashlib.sha256).hexdigest()[:32]


def adherence(session: Session, principal: Principal, *, patient_id: uuid.UUID,
              now: datetime) -> list[AdherenceRead]:
    """Per medication: of the doses already due, the share marked taken (unmarked doses count as missed)."""
    patient_for(session, principal, patient_id, Permission.prescription_read, now=now)
    stmt = (select(Prescription, PrescriptionItem)
            .join(PrescriptionItem, PrescriptionItem.prescription_id == Prescription.id)
            .where(Prescription.patient_id == patient_id, Prescription.signed_at.is_not(None),
                   Prescription.status != RxStatus.cancelled.value))
    pairs = list(session.execute(stmt).tuples())
    marks = _marks(session, [i.id for _, i in pairs])
    out = []
    for rx, item in pairs:
        assert rx.signed_at is not None  # noqa: S101 - filtered above
        due = [d for d in schedule(item, rx.signed_at) if d <= now]
        taken = sum(1 for d in due if marks.get((item.id, d)) == "taken")
        skipped = sum(1 for d in due if marks.get((item.id, d)) == "skipped")
        out.append(AdherenceRead(item_id=item.id, medication=item.medication, due=len(due), taken=taken,
                                 skipped=skipped, percent=round(100 * taken / len(due), 1) if due else None))
    return out
