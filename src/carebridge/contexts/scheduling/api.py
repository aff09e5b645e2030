"""JSON API of scheduling: availability, slots, appointments, waitlist, queue tokens and calendar feeds."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status

from carebridge.contexts.identity import CurrentPrincipal
from carebridge.contexts.scheduling import availability, booking, calendar, queue, waitlist
from carebridge.contexts.scheduling.permissions import bad
from carebridge.contexts.scheduling.schemas import (
    AppointmentCancel,
    AppointmentCreate,
    AppointmentPage,
    AppointmentRead,
    AppointmentReschedule,
    AppointmentStatus,
    AvailabilityRuleCreate,
    AvailabilityRuleRead,
    CalendarFeedRead,
    ExceptionCreate,
    ExceptionRead,
    QueueRead,
    QueueStatus,
    QueueTokenCreate,
    QueueTokenRead,
    SlotPage,
    WaitlistCreate,
    WaitlistRead,
)
from carebridge.engines.slots import AppointmentKind
from carebridge.kernel.deps import ClockDep, SessionDep, SettingsDep
from carebridge.kernel.text import NoControl

router = APIRouter(prefix="/api/v1", tags=["scheduling"])


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {}}}


READ_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _problem("Not signed in."),
    403: _problem("Your role or relationship does not allow this."),
    404: _problem("Not found."),
    422: _problem("Invalid input; `errors` lists the fields."),
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    409: _problem("The slot is taken, the change is past its cut-off, or the status does not allow it."),
}
Code = Annotated[str, NoControl]


def _aware(value: datetime | None, field: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise bad(field, "needs a UTC offset, e.g. 2026-03-10T09:30:00+05:30", "query")
    if value is not None and not 1970 <= value.year <= 2200:
        raise bad(field, "must be between the years 1970 and 2200", "query")
    return value


@router.get("/slots", summary="Search free slots (practitioner, specialty, facility, distance, language, dates)",
            response_model=SlotPage, responses=READ_ERRORS)
def search_slots(
    session: SessionDep, principal: CurrentPrincipal, clock: ClockDep, settings: SettingsDep,
    practitioner_id: uuid.UUID | None = None, facility_id: uuid.UUID | None = None,
    specialty: Annotated[Code | None, Query(min_length=1, max_length=64, description="A code from /specialties.")]
    = None,
    language: Annotated[Code | None, Query(min_length=2, max_length=16, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]
    = None,
    kind: AppointmentKind | None = None,
    lat: Annotated[float | None, Query(ge=-90, le=90, allow_inf_nan=False)] = None,
    lng: Annotated[float | None, Query(ge=-180, le=180, allow_inf_nan=False)] = None,
    radius_km: Annotated[float, Query(gt=0, le=200, allow_inf_nan=False)] = 25.0,
    from_: Annotated[datetime | None, Query(alias="from", description="Default: now.")] = None,
    to: Annotated[datetime | None, Query(description="Default: 30 days after `from`; at most 92 days.")] = None,
    next_available: Annotated[bool, Query(description="Only the earliest free slot.")] = False,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> SlotPage:
    now = clock.now()
    start = _aware(from_, "from") or now
    end = _aware(to, "to") or start + timedelta(days=30)
    if (lat is None) != (lng is None):
        raise bad("lat", "give lat and lng together", "query")
    near = (lat, lng, radius_km) if lat is not None and lng is not None else None
    size = 1 if next_available else (limit or settings.default_page_size)
    return availability.search_slots(session, principal, start=start.astimezone(UTC), end=end.astimezone(UTC),
                                     now=now, practitioner_id=practitioner_id, facility_id=facility_id,
                                     specialty=specialty, language=language, near=near, kind=kind, limit=size,
                                     cursor=cursor)


@router.post("/availability-rules", summary="Add a recurring availability rule (staff of the facility)",
             status_code=status.HTTP_201_CREATED, response_model=AvailabilityRuleRead, responses=WRITE_ERRORS)
def create_rule(data: AvailabilityRuleCreate, session: SessionDep, principal: CurrentPrincipal,
                clock: ClockDep) -> AvailabilityRuleRead:
    return availability.create_rule(session, principal, data=data, now=clock.now())


@router.get("/availability-rules", summary="List availability rules of a practitioner or facility",
            response_model=list[AvailabilityRuleRead], responses=READ_ERRORS)
def list_rules(session: SessionDep, principal: CurrentPrincipal, practitioner_id: uuid.UUID | None = None,
               facility_id: uuid.UUID | None = None, include_inactive: bool = False) -> list[AvailabilityRuleRead]:
    if practitioner_id is None and facility_id is None:
        raise bad("practitioner_id", "give practitioner_id or facility_id", "query")
    return availability.list_rules(session, principal, practitioner_id=practitioner_id, facility_id=facility_id,
                                   include_inactive=include_inactive)


@router.delete("/availability-rules/{rule_id}", summary="Stop a rule offering new slots (bookings stay)",
               status_code=status.HTTP_204_NO_CONTENT, responses=WRITE_ERRORS)
def deactivate_rule(rule_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                    clock: ClockDep) -> Response:
    availability.deactivate_rule(session, principal, rule_id=rule_id, now=clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/availability-exceptions", summary="Record leave or a holiday (removes slots in the span)",
             status_code=status.HTTP_201_CREATED, response_model=ExceptionRead, responses=WRITE_ERRORS)
def create_exception(data: ExceptionCreate, session: SessionDep, principal: CurrentPrincipal,
                     clock: ClockDep) -> ExceptionRead:
    return availability.create_exception(session, principal, data=data, now=clock.now())


@router.post("/appointments", summary="Book a slot (patient, caregiver with the scope, or front desk)",
             status_code=status.HTTP_201_CREATED, response_model=AppointmentRead, responses=WRITE_ERRORS)
def book(data: AppointmentCreate, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
         settings: SettingsDep, response: Response) -> AppointmentRead:
    appt = booking.book(session, principal, data=data, now=clock.now(), settings=settings)
    response.headers["Location"] = f"/api/v1/appointments/{appt.id}"
    return appt


@router.get("/appointments", summary="A patient's appointments, or a practitioner's between two instants",
            response_model=AppointmentPage, responses=READ_ERRORS)
def list_appointments(
    session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
    patient_id: uuid.UUID | None = None, practitioner_id: uuid.UUID | None = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None, to: datetime | None = None,
    include_past: bool = False,
) -> AppointmentPage:
    now = clock.now()
    if practitioner_id is not None:
        start = _aware(from_, "from") or now.replace(hour=0, minute=0, second=0, microsecond=0)
        end = _aware(to, "to") or start + timedelta(days=7)
        if end - start > timedelta(days=31):
            raise bad("to", "at most 31 days at a time", "query")
        items = booking.list_for_practitioner(session, principal, practitioner_id=practitioner_id, start=start,
                                              end=end, now=now)
    else:
        items = booking.list_for_patient(session, principal, patient_id=patient_id, now=now,
                                         include_past=include_past)
    return AppointmentPage(items=items)


@router.get("/appointments/{appointment_id}", summary="Read an appointment", response_model=AppointmentRead,
            responses=READ_ERRORS)
def get_appointment(appointment_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                    clock: ClockDep) -> AppointmentRead:
    return booking.get_appointment(session, principal, appointment_id=appointment_id, now=clock.now())


@router.post("/appointments/{appointment_id}/cancel", summary="Cancel (patients: until the cut-off)",
             response_model=AppointmentRead, responses=WRITE_ERRORS)
def cancel(appointment_id: uuid.UUID, data: AppointmentCancel, session: SessionDep, principal: CurrentPrincipal,
           clock: ClockDep, settings: SettingsDep) -> AppointmentRead:
    return booking.cancel(session, principal, appointment_id=appointment_id, data=data, now=clock.now(),
                          settings=settings)


@router.post("/appointments/{appointment_id}/reschedule", summary="Move to another slot (patients: until the "
             "cut-off)", response_model=AppointmentRead, status_code=status.HTTP_201_CREATED,
             responses=WRITE_ERRORS)
def reschedule(appointment_id: uuid.UUID, data: AppointmentReschedule, session: SessionDep,
               principal: CurrentPrincipal, clock: ClockDep, settings: SettingsDep) -> AppointmentRead:
    return booking.reschedule(session, principal, appointment_id=appointment_id, data=data, now=clock.now(),
                              settings=settings)


@router.post("/appointments/{appointment_id}/status/{new_status}",
             summary="Check in, mark no-show or completed (staff)", response_model=AppointmentRead,
             responses=WRITE_ERRORS)
def set_status(appointment_id: uuid.UUID, new_status: Literal["checked_in", "no_show", "completed"],
               session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> AppointmentRead:
    return booking.set_status(session, principal, appointment_id=appointment_id,
                              status=AppointmentStatus(new_status), now=clock.now())


@router.post("/waitlist", summary="Join the waitlist for a practitioner between two instants",
             status_code=status.HTTP_201_CREATED, response_model=WaitlistRead, responses=WRITE_ERRORS)
def join_waitlist(data: WaitlistCreate, session: SessionDep, principal: CurrentPrincipal,
                  clock: ClockDep) -> WaitlistRead:
    return waitlist.join(session, principal, data=data, now=clock.now())


@router.get("/waitlist", summary="A patient's waitlist entries and open offers", response_model=list[WaitlistRead],
            responses=READ_ERRORS)
def list_waitlist(session: SessionDep, principal: CurrentPrincipal, clock: ClockDep, settings: SettingsDep,
                  patient_id: uuid.UUID | None = None) -> list[WaitlistRead]:
    return waitlist.list_entries(session, principal, patient_id=patient_id, now=clock.now(), settings=settings)


@router.post("/waitlist/{entry_id}/accept", summary="Take the slot held for you", status_code=201,
             response_model=AppointmentRead, responses=WRITE_ERRORS)
def accept_offer(entry_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                 settings: SettingsDep) -> AppointmentRead:
    return booking.accept_offer(session, principal, entry_id=entry_id, now=clock.now(), settings=settings)


@router.post("/waitlist/{entry_id}/cancel", summary="Leave the waitlist (an open offer passes on)",
             response_model=WaitlistRead, responses=WRITE_ERRORS)
def leave_waitlist(entry_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                   settings: SettingsDep) -> WaitlistRead:
    return waitlist.decline(session, principal, entry_id=entry_id, now=clock.now(), settings=settings)


@router.post("/queue-tokens", summary="Issue a walk-in token (staff)", status_code=status.HTTP_201_CREATED,
             response_model=QueueTokenRead, responses=WRITE_ERRORS)
def issue_token(data: QueueTokenCreate, session: SessionDep, principal: CurrentPrincipal,
                clock: ClockDep) -> QueueTokenRead:
    return queue.issue_token(session, principal, data=data, now=clock.now())


@router.post("/queue-tokens/{token_id}/status/{new_status}", summary="Set a token's status (staff)",
             response_model=QueueTokenRead, responses=WRITE_ERRORS)
def set_token_status(token_id: uuid.UUID, new_status: QueueStatus, session: SessionDep,
                     principal: CurrentPrincipal, clock: ClockDep) -> QueueTokenRead:
    return queue.set_token_status(session, principal, token_id=token_id, status=new_status, now=clock.now())


Department = Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]{0,63}$")]


@router.post("/queues/{facility_id}/{department}/next", summary="Call the next token (staff)",
             response_model=QueueTokenRead | None, responses=WRITE_ERRORS)
def call_next(facility_id: uuid.UUID, department: str, session: SessionDep, principal: CurrentPrincipal,
              clock: ClockDep) -> QueueTokenRead | None:
    return queue.call_next(session, principal, facility_id=facility_id, department=department[:64],
                           now=clock.now())


@router.get("/queues/{facility_id}/{department}", summary="Today's queue (staff see names)", response_model=QueueRead,
            responses=READ_ERRORS)
def staff_queue(facility_id: uuid.UUID, department: str, session: SessionDep, principal: CurrentPrincipal,
                clock: ClockDep) -> QueueRead:
    return queue.staff_board(session, principal, facility_id=facility_id, department=department[:64],
                             now=clock.now())


@router.post("/calendar-feeds", summary="Create a secret iCalendar feed URL (patient's or practitioner's)",
             status_code=status.HTTP_201_CREATED, response_model=CalendarFeedRead, responses=WRITE_ERRORS)
def create_feed(session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                owner_kind: Literal["patient", "practitioner"] = "patient",
                owner_id: uuid.UUID | None = None) -> CalendarFeedRead:
    return calendar.create_feed(session, principal, owner_kind=owner_kind, owner_id=owner_id, now=clock.now())


@router.delete("/calendar-feeds/{feed_id}", summary="Revoke a calendar feed URL",
               status_code=status.HTTP_204_NO_CONTENT, responses=WRITE_ERRORS)
def revoke_feed(feed_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> Response:
    calendar.revoke_feed(session, principal, feed_id=feed_id, now=clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/calendar-feeds/{token}.ics", summary="The iCalendar feed (the URL is the credential)",
            responses={404: _problem("Unknown or revoked feed.")}, response_class=Response)
def feed(token: Annotated[str, NoControl], session: SessionDep, clock: ClockDep) -> Response:
    body = calendar.feed_ics(session, token=token, now=clock.now())
    return Response(body, media_type="text/calendar; charset=utf-8", headers={"Cache-Control": "no-store"})
