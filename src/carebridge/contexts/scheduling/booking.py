"""Booking, rescheduling, cancelling and the day's status changes (check-in, no-show, completed).

Double booking is stopped by the database, not by this process: a booking inserts a `SlotSeat` row
whose primary key is (practitioner, start, seat). Of two concurrent bookings of the last seat, one
insert fails on that key (after waiting for the other to commit on PostgreSQL; SQLite's BEGIN
IMMEDIATE queues writers so the second sees the seat taken) and that request answers 409.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from carebridge.contexts import audit
from carebridge.contexts.scheduling import notify, waitlist
from carebridge.contexts.scheduling.availability import find_slot
from carebridge.contexts.scheduling.models import Appointment, AvailabilityRule, SlotSeat
from carebridge.contexts.scheduling.permissions import (
    PATIENT_FACING,
    bad,
    facility_org,
    patient_for,
    patient_name,
    require_staff_at,
)
from carebridge.contexts.scheduling.schemas import (
    AppointmentCancel,
    AppointmentCreate,
    AppointmentRead,
    AppointmentReschedule,
    AppointmentStatus,
)
from carebridge.engines.slots import AppointmentKind, Slot, zone_of
from carebridge.kernel.errors import Conflict, Forbidden, NotFound
from carebridge.kernel.events import emit
from carebridge.kernel.ids import new_id
from carebridge.security import Permission, Principal, require
from carebridge.settings import Settings

ACTIVE = (AppointmentStatus.booked.value, AppointmentStatus.checked_in.value)
# status changes staff may make, from -> allowed targets
TRANSITIONS: dict[str, frozenset[str]] = {
    "booked": frozenset({"checked_in", "no_show"}),
    "checked_in": frozenset({"completed", "no_show"}),
}


def appointment_read(a: Appointment) -> AppointmentRead:
    return AppointmentRead(
        id=a.id, patient_id=a.patient_id, patient_name=a.patient_name, practitioner_id=a.practitioner_id,
        facility_id=a.facility_id, start=a.start_at, end=a.end_at, time_zone=a.time_zone,
        local_start=a.start_at.astimezone(zone_of(a.time_zone)), kind=AppointmentKind(a.kind),
        status=AppointmentStatus(a.status), reason=a.reason, care_request_id=a.care_request_id,
        meeting_link=a.meeting_link, rescheduled_from=a.rescheduled_from, created_at=a.created_at,
    )


def slot_full(slot: Slot) -> Conflict:
    return Conflict(f"the slot at {slot.start.isoformat()} is fully booked", slug="slot-taken", title="Slot taken",
                    extra={"practitioner_id": str(slot.practitioner_id), "start": slot.start.isoformat()})


def take_seat(session: Session, slot: Slot, *, appointment: Appointment | None = None,
              hold_entry_id: uuid.UUID | None = None, hold_expires_at: datetime | None = None) -> SlotSeat:
    """Insert the lowest free seat (and the appointment with it) in a savepoint; 409 when none is left."""
    for _attempt in range(slot.capacity):
        taken = set(session.scalars(select(SlotSeat.seat).where(SlotSeat.practitioner_id == slot.practitioner_id,
                                                                SlotSeat.start_at == slot.start)))
        free = [n for n in range(slot.capacity) if n not in taken]
        if not free:
            break
        seat = SlotSeat(practitioner_id=slot.practitioner_id, start_at=slot.start, seat=free[0],
                        appointment_id=appointment.id if appointment else None, hold_entry_id=hold_entry_id,
                        hold_expires_at=hold_expires_at)
        try:
            with session.begin_nested():
                if appointment is not None:
                    session.add(appointment)
                session.add(seat)
        except IntegrityError:
            continue  # another transaction took that seat first: look again
        return seat
    raise slot_full(slot)


def _resolve_slot(session: Session, *, practitioner_id: uuid.UUID, start: datetime, facility_id: uuid.UUID | None,
                  kind: AppointmentKind, now: datetime) -> Slot:
    slot = find_slot(session, practitioner_id=practitioner_id, start=start, facility_id=facility_id)
    if slot is None:
        raise bad("start", "the practitioner offers no slot starting then (see GET /api/v1/slots)")
    if slot.start <= now:
        raise bad("start", "that slot has already started")
    if kind not in slot.kinds:
        raise bad("kind", f"this slot offers {', '.join(k.value for k in slot.kinds)}")
    return slot


def _check_staff_or_patient(session: Session, principal: Principal, facility_id: uuid.UUID,
                            permission: Permission) -> None:
    if principal.role not in PATIENT_FACING:
        require_staff_at(session, principal, permission, facility_id)


def book(session: Session, principal: Principal, *, data: AppointmentCreate, now: datetime,
         settings: Settings) -> AppointmentRead:
    require(principal, Permission.appointment_book)
    slot = _resolve_slot(session, practitioner_id=data.practitioner_id, start=data.start,
                         facility_id=data.facility_id, kind=data.kind, now=now)
    _check_staff_or_patient(session, principal, slot.facility_id, Permission.appointment_book)
    patient = patient_for(session, principal, data.patient_id, Permission.appointment_book, now=now, action="book")
    assert patient is not None  # noqa: S101 - patient_for raises rather than return None here
    waitlist.release_expired(session, slot_key=slot.key, now=now, settings=settings)
    return _create(session, principal, slot=slot, patient_id=patient.id, name=patient_name(patient),
                   kind=data.kind, reason=data.reason, care_request_id=data.care_request_id, now=now,
                   settings=settings, contact=notify.contact_for(principal, patient))


def _create(session: Session, principal: Principal, *, slot: Slot, patient_id: uuid.UUID, name: str,
            kind: AppointmentKind, reason: str, care_request_id: uuid.UUID | None, now: datetime,
            settings: Settings, contact: notify.Contact, rescheduled_from: uuid.UUID | None = None,
            seat: SlotSeat | None = None) -> AppointmentRead:
    clash = session.scalar(select(Appointment.id).where(Appointment.patient_id == patient_id,
                                                        Appointment.start_at == slot.start,
                                                        Appointment.status.in_(ACTIVE)))
    if clash is not None:
        raise Conflict("this patient already has an appointment at that time", slug="patient-busy",
                       title="Patient already booked", extra={"appointment_id": str(clash)})
    link = None
    if kind is AppointmentKind.teleconsultation:
        link = f"{settings.scheduling_meeting_base_url.rstrip('/')}/{secrets.token_urlsafe(12)}"
    appt = Appointment(
        id=new_id(), patient_id=patient_id, practitioner_id=slot.practitioner_id, facility_id=slot.facility_id,
        organization_id=facility_org(session, slot.facility_id), rule_id=slot.rule_id, start_at=slot.start,
        end_at=slot.end, time_zone=slot.time_zone, kind=kind.value, status=AppointmentStatus.booked.value,
        reason=reason, care_request_id=care_request_id, meeting_link=link, patient_name=name,
        booked_by=principal.user_id, rescheduled_from=rescheduled_from, created_at=now, updated_at=now,
        notify_user_id=contact.user_id, contact_email=contact.email, contact_phone=contact.phone,
    )
    if seat is None:
        take_seat(session, slot, appointment=appt)
    else:  # a waitlist hold turns into the appointment's seat
        session.add(appt)
        session.flush()
        seat.appointment_id, seat.hold_entry_id, seat.hold_expires_at = appt.id, None, None
    session.flush()
    audit.record(session, principal, action="create", resource_type="Appointment", resource_id=appt.id,
                 patient_id=patient_id, purpose="treatment", detail={"start": slot.start.isoformat()}, at=now)
    emit(session, "appointment.booked", {"appointment_id": str(appt.id), "patient_id": str(patient_id),
                                         "practitioner_id": str(slot.practitioner_id),
                                         "start": slot.start.isoformat()})
    rule = session.get(AvailabilityRule, slot.rule_id)
    notify.schedule_reminders(session, appt, now=now, settings=settings,
                              practitioner=rule.practitioner_name if rule else "")
    return appointment_read(appt)


def load_for(session: Session, principal: Principal, appointment_id: uuid.UUID, permission: Permission, *,
             now: datetime, action: str) -> Appointment:
    """The appointment if the caller may act on it: patient side through the policy, staff by facility."""
    require(principal, permission)
    appt = session.get(Appointment, appointment_id)
    if appt is None:
        raise NotFound("no such appointment")
    if principal.role in PATIENT_FACING:
        try:
            patient_for(session, principal, appt.patient_id, permission, now=now, action=action)
        except Forbidden as exc:
            raise NotFound("no such appointment") from exc
        return appt
    if principal.organization_id is not None and principal.organization_id != appt.organization_id:
        raise NotFound("no such appointment")
    audit.record(session, principal, action=action, resource_type="Appointment", resource_id=appt.id,
                 patient_id=appt.patient_id, purpose="operations", at=now)
    return appt


def get_appointment(session: Session, principal: Principal, *, appointment_id: uuid.UUID,
                    now: datetime) -> AppointmentRead:
    return appointment_read(load_for(session, principal, appointment_id, Permission.appointment_read, now=now,
                                     action="read"))


def _within_cutoff(principal: Principal, appt: Appointment, now: datetime, settings: Settings) -> None:
    """Patients and caregivers change a booking only up to the cut-off; staff may at any time before it ends."""
    if principal.role in PATIENT_FACING:
        limit = appt.start_at - timedelta(minutes=settings.scheduling_cancel_cutoff_minutes)
        if now > limit:
            raise Conflict(f"changes close {settings.scheduling_cancel_cutoff_minutes} minutes before the start; "
                           "call the clinic", slug="cutoff-passed", title="Too late to change")
    if appt.status != AppointmentStatus.booked.value:
        raise Conflict(f"the appointment is {appt.status}", slug="wrong-status", title="Cannot change")


def _free_seat(session: Session, appt: Appointment, *, now: datetime, settings: Settings) -> None:
    """Release the seat: to the first waitlisted patient as a hold if one wants it, otherwise delete it."""
    seat = session.scalar(select(SlotSeat).where(SlotSeat.appointment_id == appt.id))
    if seat is None:
        return
    if appt.start_at > now and waitlist.offer_seat(session, seat, appt=appt, now=now, settings=settings):
        return
    session.execute(delete(SlotSeat).where(SlotSeat.practitioner_id == seat.practitioner_id,
                                           SlotSeat.start_at == seat.start_at, SlotSeat.seat == seat.seat))


def cancel(session: Session, principal: Principal, *, appointment_id: uuid.UUID, data: AppointmentCancel,
           now: datetime, settings: Settings) -> AppointmentRead:
    appt = load_for(session, principal, appointment_id, Permission.appointment_book, now=now, action="update")
    _within_cutoff(principal, appt, now, settings)
    appt.status = AppointmentStatus.cancelled.value
    appt.cancel_reason = data.reason or None
    appt.updated_at = now
    session.flush()
    _free_seat(session, appt, now=now, settings=settings)
    notify.cancel_reminders(session, appt, now=now)
    audit.record(session, principal, action="update", resource_type="Appointment", resource_id=appt.id,
                 patient_id=appt.patient_id, detail={"status": "cancelled"}, at=now)
    emit(session, "appointment.cancelled", {"appointment_id": str(appt.id), "patient_id": str(appt.patient_id)})
    return appointment_read(appt)


def reschedule(session: Session, principal: Principal, *, appointment_id: uuid.UUID, data: AppointmentReschedule,
               now: datetime, settings: Settings) -> AppointmentRead:
    """A new appointment in the new slot; the old one is cancelled and its seat freed, in one transaction."""
    old = load_for(session, principal, appointment_id, Permission.appointment_book, now=now, action="update")
    _within_cutoff(principal, old, now, settings)
    slot = _resolve_slot(session, practitioner_id=data.practitioner_id or old.practitioner_id, start=data.start,
                         facility_id=data.facility_id, kind=AppointmentKind(old.kind), now=now)
    _check_staff_or_patient(session, principal, slot.facility_id, Permission.appointment_book)
    old.status = AppointmentStatus.cancelled.value
    old.cancel_reason = "rescheduled"
    old.updated_at = now
    session.flush()
    new = _create(session, principal, slot=slot, patient_id=old.patient_id, name=old.patient_name,
                  kind=AppointmentKind(old.kind), reason=old.reason, care_request_id=old.care_request_id, now=now,
                  settings=settings, rescheduled_from=old.id,
                  contact=notify.Contact(user_id=old.notify_user_id, email=old.contact_email, phone=old.contact_phone))
    _free_seat(session, old, now=now, settings=settings)
    notify.cancel_reminders(session, old, now=now)
    return new


def set_status(session: Session, principal: Principal, *, appointment_id: uuid.UUID, status: AppointmentStatus,
               now: datetime) -> AppointmentRead:
    """Front-desk and clinical staff move an appointment through its day."""
    appt = load_for(session, principal, appointment_id, Permission.appointment_manage, now=now, action="update")
    if principal.role in PATIENT_FACING:  # pragma: no cover - the role table gives them no appointment_manage
        raise Forbidden("staff record check-in, no-show and completion")
    allowed = TRANSITIONS.get(appt.status, frozenset())
    if status.value not in allowed:
        raise Conflict(f"an appointment that is {appt.status} cannot become {status.value}", slug="wrong-status",
                       title="Cannot change")
    if status is AppointmentStatus.no_show and now < appt.start_at:
        raise Conflict("a no-show is recorded after the start time", slug="too-early", title="Too early")
    appt.status = status.value
    appt.updated_at = now
    if status is AppointmentStatus.no_show:
        notify.cancel_reminders(session, appt, now=now)
    audit.record(session, principal, action="update", resource_type="Appointment", resource_id=appt.id,
                 patient_id=appt.patient_id, detail={"status": status.value}, at=now)
    emit(session, f"appointment.{status.value}", {"appointment_id": str(appt.id)})
    return appointment_read(appt)


def list_for_patient(session: Session, principal: Principal, *, patient_id: uuid.UUID | None, now: datetime,
                     include_past: bool = False, limit: int = 100) -> list[AppointmentRead]:
    patient = patient_for(session, principal, patient_id, Permission.appointment_read, now=now, action="read")
    assert patient is not None  # noqa: S101 - patient_for raises rather than return None here
    stmt = select(Appointment).where(Appointment.patient_id == patient.id)
    if not include_past:
        stmt = stmt.where(Appointment.end_at >= now)
    stmt = stmt.order_by(Appointment.start_at, Appointment.id).limit(limit)
    return [appointment_read(a) for a in session.scalars(stmt)]


def list_for_practitioner(session: Session, principal: Principal, *, practitioner_id: uuid.UUID, start: datetime,
                          end: datetime, now: datetime, include_cancelled: bool = False,
                          limit: int = 500) -> list[AppointmentRead]:
    """A practitioner's day or week, for staff of the organizations where the appointments are."""
    require(principal, Permission.appointment_read)
    if principal.role in PATIENT_FACING:
        raise Forbidden("a practitioner's list is for clinic staff")
    stmt = select(Appointment).where(Appointment.practitioner_id == practitioner_id, Appointment.start_at >= start,
                                     Appointment.start_at < end)
    if principal.organization_id is not None:
        stmt = stmt.where(Appointment.organization_id == principal.organization_id)
    if not include_cancelled:
        stmt = stmt.where(Appointment.status != AppointmentStatus.cancelled.value)
    rows = list(session.scalars(stmt.order_by(Appointment.start_at, Appointment.id).limit(limit)))
    for a in rows:
        audit.record(session, principal, action="read", resource_type="Appointment", resource_id=a.id,
                     patient_id=a.patient_id, purpose="operations", at=now)
    return [appointment_read(a) for a in rows]


def booked_seats(session: Session, practitioner_id: uuid.UUID, start: datetime) -> int:
    return int(session.scalar(select(func.count()).select_from(SlotSeat).where(
        SlotSeat.practitioner_id == practitioner_id, SlotSeat.start_at == start.astimezone(UTC))) or 0)


def accept_offer(session: Session, principal: Principal, *, entry_id: uuid.UUID, now: datetime,
                 settings: Settings) -> AppointmentRead:
    """The offered patient takes the held seat: the hold becomes their appointment's seat."""
    entry = waitlist.load_entry(session, principal, entry_id, now=now)
    waitlist.release_expired(session, now=now, settings=settings,
                             slot_key=(entry.practitioner_id, entry.offered_start_at) if entry.offered_start_at
                             else None)
    seat = waitlist.held_seat(session, entry)
    if entry.status != "offered" or seat is None or entry.offered_start_at is None:
        raise Conflict("there is no open offer on this waitlist entry (it may have expired)", slug="no-offer",
                       title="No open offer")
    slot = find_slot(session, practitioner_id=entry.practitioner_id, start=entry.offered_start_at,
                     facility_id=entry.offered_facility_id)
    if slot is None:
        raise Conflict("the offered slot is no longer offered", slug="no-offer", title="No open offer")
    entry.status = "booked"
    return _create(session, principal, slot=slot, patient_id=entry.patient_id, name=entry.patient_name,
                   kind=AppointmentKind(entry.kind), reason=entry.reason, care_request_id=None, now=now,
                   settings=settings, seat=seat,
                   contact=notify.Contact(user_id=entry.notify_user_id, email=entry.contact_email,
                                          phone=entry.contact_phone))
