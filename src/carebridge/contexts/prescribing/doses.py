"""The dose schedule of a signed prescription, the patient's taken/skipped marks, and adherence.

Doses are not stored until marked: the schedule is computed from the item (times per day, duration) from
the signing day, in the clinic's zone (India by default; the patient record has no zone yet). A dose id is
`<item id>.<due unix seconds>`, so marking needs no schedule table and a replayed mark updates one row.
"""

from __future__ import annotations

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


def _dose_id(item_id: uuid.UUID, due: datetime) -> str:
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
                out.append(DoseRead(id=_dose_id(item.id, due), item_id=item.id, medication=item.medication,
                                    due_at=due, status=status))
    out.sort(key=lambda d: d.due_at)
    return out


def mark(session: Session, principal: Principal, *, dose_id: str, status: str, now: datetime) -> DoseRead:
    item_text, _, seconds = dose_id.partition(".")
    try:
        item_id, due = uuid.UUID(item_text), datetime.fromtimestamp(int(seconds), UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise ValidationProblem("not a dose id", errors=[{"field": "dose_id", "message": "malformed"}]) from exc
    item = session.get(PrescriptionItem, item_id)
    if item is None:
        raise NotFound("no such dose")
    rx, _, _ = load(session, principal, item.prescription_id, Permission.prescription_refill, now=now)
    if rx.status not in ACTIVE_STATUSES or rx.signed_at is None:
        raise Conflict(f"a {rx.status} prescription has no doses to mark")
    if due not in schedule(item, rx.signed_at):
        raise NotFound("no such dose")
    if due - now > MARK_AHEAD:
        raise Conflict("this dose is not due yet")
    row = session.scalars(select(DoseEvent).where(DoseEvent.item_id == item.id, DoseEvent.due_at == due)).first()
    if row is None:
        row = DoseEvent(id=uuid.uuid4(), item_id=item.id, patient_id=rx.patient_id, due_at=due, status=status,
                        marked_by=principal.user_id, at=now)
        session.add(row)
    else:
        row.status, row.marked_by, row.at = status, principal.user_id, now
    session.flush()
    trail(session, principal, rx, "dose_" + status, now=now, detail={"item_id": str(item.id)})
    return DoseRead(id=dose_id, item_id=item.id, medication=item.medication, due_at=due,
                    status=status)


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
