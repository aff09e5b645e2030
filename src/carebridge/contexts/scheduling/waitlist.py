"""The waitlist: when a seat frees up, the first waiting patient it suits is offered it with a hold.

The freed `SlotSeat` row is not deleted but turned into a hold for the waitlist entry, so nobody else
can book the seat while the offer is open. The offered patient accepts (the hold becomes their
appointment's seat) or declines; a hold that expires passes to the next patient in line, or the seat
is released. Expiry is applied lazily whenever someone tries to book that slot and by `sweep_holds`
(run by the worker / `carebridge scheduling sweep`).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from carebridge.contexts import audit
from carebridge.contexts.scheduling import notify
from carebridge.contexts.scheduling.models import AvailabilityRule, SlotSeat, WaitlistEntry
from carebridge.contexts.scheduling.permissions import patient_for, patient_name
from carebridge.contexts.scheduling.schemas import WaitlistCreate, WaitlistRead, WaitlistStatus
from carebridge.engines.slots import AppointmentKind, SlotKey
from carebridge.kernel.errors import Conflict, NotFound
from carebridge.kernel.ids import new_id
from carebridge.security import Permission, Principal
from carebridge.settings import Settings

MAX_OPEN_ENTRIES = 10


class _Freed(Protocol):
    patient_id: uuid.UUID
    facility_id: uuid.UUID
    rule_id: uuid.UUID
    kind: str


def entry_read(e: WaitlistEntry) -> WaitlistRead:
    return WaitlistRead(id=e.id, patient_id=e.patient_id, practitioner_id=e.practitioner_id,
                        facility_id=e.facility_id, earliest=e.earliest, latest=e.latest, kind=AppointmentKind(e.kind),
                        status=WaitlistStatus(e.status), offered_start=e.offered_start_at,
                        offer_expires_at=e.offer_expires_at, created_at=e.created_at)


def join(session: Session, principal: Principal, *, data: WaitlistCreate, now: datetime) -> WaitlistRead:
    patient = patient_for(session, principal, data.patient_id, Permission.appointment_book, now=now, action="create")
    assert patient is not None  # noqa: S101 - patient_for raises rather than return None here
    open_count = len(list(session.scalars(select(WaitlistEntry.id).where(
        WaitlistEntry.patient_id == patient.id, WaitlistEntry.status.in_(("waiting", "offered"))))))
    if open_count >= MAX_OPEN_ENTRIES:
        raise Conflict(f"at most {MAX_OPEN_ENTRIES} open waitlist entries per patient", slug="too-many",
                       title="Too many waitlist entries")
    contact = notify.contact_for(principal, patient)
    entry = WaitlistEntry(id=new_id(), patient_id=patient.id, practitioner_id=data.practitioner_id,
                          facility_id=data.facility_id, earliest=data.earliest, latest=data.latest,
                          kind=data.kind.value, reason=data.reason, status=WaitlistStatus.waiting.value,
                          created_by=principal.user_id, patient_name=patient_name(patient),
                          notify_user_id=contact.user_id, contact_email=contact.email,
                          contact_phone=contact.phone, created_at=now)
    session.add(entry)
    session.flush()
    audit.record(session, principal, action="create", resource_type="WaitlistEntry", resource_id=entry.id,
                 patient_id=patient.id, at=now)
    return entry_read(entry)


def list_entries(session: Session, principal: Principal, *, patient_id: uuid.UUID | None, now: datetime,
                 settings: Settings) -> list[WaitlistRead]:
    """The patient's entries, after passing on any of their offers that lapsed (so the page tells the truth)."""
    patient = patient_for(session, principal, patient_id, Permission.appointment_read, now=now, action="read")
    assert patient is not None  # noqa: S101 - patient_for raises rather than return None here
    lapsed = session.scalars(select(WaitlistEntry).where(
        WaitlistEntry.patient_id == patient.id, WaitlistEntry.status == WaitlistStatus.offered.value,
        WaitlistEntry.offer_expires_at <= now))
    for entry in list(lapsed):
        if entry.offered_start_at is not None:
            release_expired(session, now=now, settings=settings,
                            slot_key=(entry.practitioner_id, entry.offered_start_at))
    stmt = select(WaitlistEntry).where(WaitlistEntry.patient_id == patient.id).order_by(
        WaitlistEntry.created_at.desc(), WaitlistEntry.id).limit(50)
    return [entry_read(e) for e in session.scalars(stmt)]


def load_entry(session: Session, principal: Principal, entry_id: uuid.UUID, *, now: datetime) -> WaitlistEntry:
    entry = session.get(WaitlistEntry, entry_id)
    if entry is None:
        raise NotFound("no such waitlist entry")
    patient_for(session, principal, entry.patient_id, Permission.appointment_book, now=now, action="update")
    return entry


def held_seat(session: Session, entry: WaitlistEntry) -> SlotSeat | None:
    return session.scalar(select(SlotSeat).where(SlotSeat.hold_entry_id == entry.id))


def _next_entry(session: Session, seat: SlotSeat, *, facility_id: uuid.UUID, kind: str,
                not_patient: uuid.UUID | None) -> WaitlistEntry | None:
    stmt = select(WaitlistEntry).where(
        WaitlistEntry.practitioner_id == seat.practitioner_id, WaitlistEntry.status == WaitlistStatus.waiting.value,
        WaitlistEntry.earliest <= seat.start_at, WaitlistEntry.latest > seat.start_at, WaitlistEntry.kind == kind,
        or_(WaitlistEntry.facility_id.is_(None), WaitlistEntry.facility_id == facility_id),
    )
    if not_patient is not None:
        stmt = stmt.where(WaitlistEntry.patient_id != not_patient)
    return session.scalar(stmt.order_by(WaitlistEntry.created_at, WaitlistEntry.id).limit(1))


def _offer(session: Session, seat: SlotSeat, *, facility_id: uuid.UUID, rule_id: uuid.UUID, kind: str,
           not_patient: uuid.UUID | None, now: datetime, settings: Settings) -> bool:
    entry = _next_entry(session, seat, facility_id=facility_id, kind=kind, not_patient=not_patient)
    if entry is None:
        return False
    expires = now + timedelta(minutes=settings.scheduling_waitlist_hold_minutes)
    seat.appointment_id, seat.hold_entry_id, seat.hold_expires_at = None, entry.id, expires
    entry.status = WaitlistStatus.offered.value
    entry.offered_start_at, entry.offer_expires_at = seat.start_at, expires
    entry.offered_facility_id, entry.offered_rule_id = facility_id, rule_id
    session.flush()
    zone = session.scalar(select(AvailabilityRule.time_zone).where(AvailabilityRule.id == rule_id)) or "UTC"
    notify.waitlist_offer(session, entry, now=now, zone=zone)
    return True


def offer_seat(session: Session, seat: SlotSeat, *, appt: _Freed, now: datetime, settings: Settings) -> bool:
    """Hand a freed seat to the first suitable waiting patient; False when nobody is waiting for it."""
    return _offer(session, seat, facility_id=appt.facility_id, rule_id=appt.rule_id, kind=appt.kind,
                  not_patient=appt.patient_id, now=now, settings=settings)


def _pass_on(session: Session, seat: SlotSeat, entry: WaitlistEntry, *, status: WaitlistStatus, now: datetime,
             settings: Settings) -> None:
    entry.status = status.value
    facility_id = entry.offered_facility_id or entry.facility_id
    rule_id = entry.offered_rule_id
    if facility_id is not None and rule_id is not None and seat.start_at > now and _offer(
            session, seat, facility_id=facility_id, rule_id=rule_id, kind=entry.kind, not_patient=entry.patient_id,
            now=now, settings=settings):
        return
    session.execute(delete(SlotSeat).where(SlotSeat.practitioner_id == seat.practitioner_id,
                                           SlotSeat.start_at == seat.start_at, SlotSeat.seat == seat.seat))


def decline(session: Session, principal: Principal, *, entry_id: uuid.UUID, now: datetime,
            settings: Settings) -> WaitlistRead:
    entry = load_entry(session, principal, entry_id, now=now)
    if entry.status not in (WaitlistStatus.waiting.value, WaitlistStatus.offered.value):
        raise Conflict(f"the entry is {entry.status}", slug="wrong-status", title="Cannot change")
    seat = held_seat(session, entry)
    if seat is not None:
        _pass_on(session, seat, entry, status=WaitlistStatus.cancelled, now=now, settings=settings)
    entry.status = WaitlistStatus.cancelled.value
    audit.record(session, principal, action="update", resource_type="WaitlistEntry", resource_id=entry.id,
                 patient_id=entry.patient_id, detail={"status": "cancelled"}, at=now)
    return entry_read(entry)


def release_expired(session: Session, *, now: datetime, settings: Settings, slot_key: SlotKey | None = None) -> int:
    """Expire lapsed holds (of one slot, or all), passing each seat on; returns how many expired."""
    stmt = select(SlotSeat).where(SlotSeat.hold_entry_id.is_not(None), SlotSeat.hold_expires_at <= now)
    if slot_key is not None:
        stmt = stmt.where(SlotSeat.practitioner_id == slot_key[0], SlotSeat.start_at == slot_key[1])
    count = 0
    for seat in list(session.scalars(stmt.limit(500))):
        entry = session.get(WaitlistEntry, seat.hold_entry_id)
        if entry is None:  # pragma: no cover - the foreign key keeps the entry
            continue
        _pass_on(session, seat, entry, status=WaitlistStatus.expired, now=now, settings=settings)
        count += 1
    return count


def sweep_holds(session: Session, *, now: datetime, settings: Settings) -> int:
    """The worker's entry point: every lapsed hold in one go."""
    return release_expired(session, now=now, settings=settings)
