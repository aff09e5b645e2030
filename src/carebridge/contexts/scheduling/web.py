"""Scheduling pages (no JavaScript): book a slot, my appointments and waitlist offers, the practitioner's day
and week, the front-desk queue with a public board, and the availability editor.

Every form posts to the same services as the JSON API. A refused action (slot just taken, cut-off passed)
comes back as a translated message on the page, not an error page.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Final

from fastapi import Form, Query
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select

from carebridge.contexts import facilities, practitioners
from carebridge.contexts.scheduling import availability, booking, calendar, queue, waitlist
from carebridge.contexts.scheduling.models import AvailabilityRule
from carebridge.contexts.scheduling.permissions import PATIENT_FACING, may_see_facility
from carebridge.contexts.scheduling.schemas import (
    AppointmentCancel,
    AppointmentCreate,
    AppointmentStatus,
    AvailabilityRuleCreate,
    QueueTokenCreate,
    WaitlistCreate,
)
from carebridge.engines import specialties
from carebridge.engines.slots import AppointmentKind
from carebridge.kernel.errors import Forbidden, Problem
from carebridge.security import Principal, Role
from carebridge.web.i18n import N_
from carebridge.web.render import Page, PageDep, SignedInPageDep, page_router, parse_uuid, signed_in

TEMPLATE_DIR: Final = Path(__file__).resolve().parent / "templates"
router = page_router()

Text = Annotated[str, Form(max_length=500)]
Q = Annotated[str | None, Query(max_length=64)]
PROBLEM_MESSAGES: Final = {
    "slot-taken": N_("Someone else has just taken that slot. Choose another."),
    "cutoff-passed": N_("It is too late to change this appointment online. Please call the clinic."),
    "no-offer": N_("This offer is no longer open."),
    "patient-busy": N_("You already have an appointment at that time."),
    "wrong-status": N_("This appointment cannot be changed any more."),
}
KIND_LABELS: Final = {
    "in_person": N_("In person"),
    "teleconsultation": N_("Video consultation"),
    "home_visit": N_("Home visit"),
}
STATUS_LABELS: Final = {
    "booked": N_("Booked"),
    "checked_in": N_("Checked in"),
    "completed": N_("Completed"),
    "no_show": N_("Did not come"),
    "cancelled": N_("Cancelled"),
    "waiting": N_("Waiting"),
    "offered": N_("Slot offered"),
    "expired": N_("Offer expired"),
}


def _message(page: Page, exc: Problem) -> str:
    key = exc.slug if exc.slug in PROBLEM_MESSAGES else ""
    return page._(PROBLEM_MESSAGES[key]) if key else page._(N_("That did not work. Check what you entered."))


def _patient_target(page: Page, principal: Principal, patient_id: str | None) -> uuid.UUID | None:
    if principal.role is Role.caregiver:
        return parse_uuid(patient_id)
    if principal.role is Role.patient:
        return principal.patient_id
    raise Forbidden("these pages are for patients and their caregivers")


def _back(principal: Principal, target: uuid.UUID | None, path: str = "/appointments") -> str:
    return f"{path}?patient_id={target}" if principal.role is Role.caregiver and target else path


@router.get("/appointments", summary="My appointments and waitlist offers")
def my_appointments(page: SignedInPageDep, patient_id: Q = None, error: Q = None) -> Response:
    principal, _me = signed_in(page)
    target = _patient_target(page, principal, patient_id)
    if target is None:
        return page.redirect("/dashboard")
    now = page.clock.now()
    items = [a for a in booking.list_for_patient(page.session, principal, patient_id=target, now=now)
             if a.status is not AppointmentStatus.cancelled]
    entries = waitlist.list_entries(page.session, principal, patient_id=target, now=now, settings=page.settings)
    msg = page._(PROBLEM_MESSAGES[error]) if error in PROBLEM_MESSAGES else ""
    return page.render("scheduling/appointments.html", items=items, entries=entries, kinds=KIND_LABELS,
                       statuses=STATUS_LABELS, patient_q=_back(principal, target, ""), message=msg,
                       feed_url=page.request.query_params.get("feed", "")[:200])


@router.post("/appointments/{appointment_id}/cancel", summary="Cancel one of my appointments")
def cancel_page(page: SignedInPageDep, appointment_id: uuid.UUID, patient_id: Text = "") -> Response:
    principal, _me = signed_in(page)
    target = parse_uuid(patient_id) if principal.role is Role.caregiver else principal.patient_id
    try:
        booking.cancel(page.session, principal, appointment_id=appointment_id, data=AppointmentCancel(),
                       now=page.clock.now(), settings=page.settings)
    except Problem as exc:
        if exc.status != 409:
            raise
        return page.redirect(_back(principal, target) + ("&" if "?" in _back(principal, target) else "?")
                             + f"error={exc.slug}")
    return page.redirect(_back(principal, target))


@router.post("/waitlist/{entry_id}/{action}", summary="Accept a held slot or leave the waitlist")
def waitlist_action(page: SignedInPageDep, entry_id: uuid.UUID, action: str, patient_id: Text = "") -> Response:
    principal, _me = signed_in(page)
    target = parse_uuid(patient_id) if principal.role is Role.caregiver else principal.patient_id
    back = _back(principal, target)
    try:
        if action == "accept":
            booking.accept_offer(page.session, principal, entry_id=entry_id, now=page.clock.now(),
                                 settings=page.settings)
        elif action == "leave":
            waitlist.decline(page.session, principal, entry_id=entry_id, now=page.clock.now(), settings=page.settings)
        else:
            return page.redirect(back)
    except Problem as exc:
        if exc.status != 409:
            raise
        return page.redirect(back + ("&" if "?" in back else "?") + f"error={exc.slug}")
    return page.redirect(back)


@router.post("/appointments/calendar-feed", summary="Make a secret calendar link for my appointments")
def feed_page(page: SignedInPageDep, patient_id: Text = "") -> Response:
    principal, _me = signed_in(page)
    target = parse_uuid(patient_id) if principal.role is Role.caregiver else principal.patient_id
    made = calendar.create_feed(page.session, principal, owner_kind="patient", owner_id=target, now=page.clock.now())
    back = _back(principal, target)
    return page.redirect(back + ("&" if "?" in back else "?") + "feed=" + made.url)


def _day(value: str | None, default: date) -> date:
    """A date from a form or link; anything unreadable or absurd (year 9999) falls back to the default."""
    try:
        day = date.fromisoformat(value) if value else default
    except ValueError:
        return default
    return day if 1970 <= day.year <= 2200 else default


@router.get("/book", summary="Find a free slot and book it")
def book_form(page: SignedInPageDep, specialty: Q = None, practitioner_id: Q = None, on: Q = None,
              patient_id: Q = None, error: Q = None) -> Response:
    principal, _me = signed_in(page)
    target = _patient_target(page, principal, patient_id)
    now = page.clock.now()
    first = _day(on, now.date())
    start = datetime.combine(first, time(), tzinfo=UTC)
    code = specialty if specialty and specialties.is_known(specialty) else None
    prac = parse_uuid(practitioner_id)
    found = availability.search_slots(page.session, principal, start=start, end=start + timedelta(days=14), now=now,
                                      specialty=code, practitioner_id=prac, limit=30)
    msg = page._(PROBLEM_MESSAGES[error]) if error in PROBLEM_MESSAGES else ""
    return page.render("scheduling/book.html", slots=found.items, specialty=code or "", on=first.isoformat(),
                       practitioner_id=str(prac) if prac else "", patient_id=str(target) if target else "",
                       specialties=specialties.all_specialties(), kinds=KIND_LABELS, message=msg)


@router.post("/book", summary="Book the chosen slot")
def book_submit(page: SignedInPageDep, practitioner_id: Text = "", start: Text = "", kind: Text = "in_person",
                reason: Text = "", patient_id: Text = "") -> Response:
    principal, _me = signed_in(page)
    target = parse_uuid(patient_id) if principal.role is Role.caregiver else None
    try:
        data = AppointmentCreate.model_validate({"practitioner_id": practitioner_id, "start": start, "kind": kind,
                                                 "reason": reason[:500], "patient_id": target})
        booking.book(page.session, principal, data=data, now=page.clock.now(), settings=page.settings)
    except ValidationError:
        return page.redirect("/book?error=slot-taken")
    except Problem as exc:
        if exc.status not in (409, 422):
            raise
        return page.redirect(f"/book?error={exc.slug if exc.status == 409 else 'slot-taken'}")
    return page.redirect(_back(principal, target))


@router.post("/book/waitlist", summary="Join the waitlist for a practitioner")
def waitlist_submit(page: SignedInPageDep, practitioner_id: Text = "", on: Text = "",
                    patient_id: Text = "") -> Response:
    principal, _me = signed_in(page)
    target = parse_uuid(patient_id) if principal.role is Role.caregiver else None
    prac = parse_uuid(practitioner_id)
    first = datetime.combine(_day(on, page.clock.now().date()), time(), tzinfo=UTC)
    if prac is None:
        return page.redirect("/book")
    waitlist.join(page.session, principal, data=WaitlistCreate(
        practitioner_id=prac, earliest=first, latest=first + timedelta(days=14), patient_id=target),
        now=page.clock.now())
    return page.redirect(_back(principal, target))


# --- staff ------------------------------------------------------------------------------------------------


def _staff(page: Page) -> Principal:
    principal, _me = signed_in(page)
    if principal.role in PATIENT_FACING:
        raise Forbidden("this page is for clinic staff")
    return principal


@dataclass(frozen=True, slots=True)
class Choice:
    id: str
    label: str


def _org_rules(page: Page, principal: Principal) -> list[AvailabilityRule]:
    rows = list(page.session.scalars(select(AvailabilityRule).where(AvailabilityRule.active.is_(True))
                                     .order_by(AvailabilityRule.created_at).limit(500)))
    orgs: dict[uuid.UUID, uuid.UUID | None] = {}
    for r in rows:
        if r.facility_id not in orgs:
            orgs[r.facility_id] = facilities.get_facility(page.session, facility_id=r.facility_id).organization_id
    return [r for r in rows if may_see_facility(principal, orgs[r.facility_id])]


def _choices(page: Page, principal: Principal) -> tuple[list[Choice], list[Choice]]:
    rules = _org_rules(page, principal)
    pracs: dict[uuid.UUID, str] = {}
    places: dict[uuid.UUID, str] = {}
    for r in rules:
        if r.practitioner_id not in pracs:
            p = practitioners.get_practitioner(page.session, principal, practitioner_id=r.practitioner_id)
            pracs[r.practitioner_id] = f"{p.given_name} {p.family_name}"
        if r.facility_id not in places:
            places[r.facility_id] = facilities.get_facility(page.session, facility_id=r.facility_id).name
    return ([Choice(str(k), v) for k, v in sorted(pracs.items(), key=lambda kv: kv[1])],
            [Choice(str(k), v) for k, v in sorted(places.items(), key=lambda kv: kv[1])])


@router.get("/schedule", summary="A practitioner's day or week")
def schedule_page(page: SignedInPageDep, practitioner_id: Q = None, on: Q = None, view: Q = None) -> Response:
    principal = _staff(page)
    pracs, _places = _choices(page, principal)
    prac = parse_uuid(practitioner_id) or (uuid.UUID(pracs[0].id) if pracs else None)
    first = _day(on, page.clock.now().date())
    days = 7 if view == "week" else 1
    if view == "week":
        first -= timedelta(days=first.weekday())
    items = []
    if prac is not None:
        start = datetime.combine(first, time(), tzinfo=UTC) - timedelta(hours=14)  # local days in any zone
        items = booking.list_for_practitioner(page.session, principal, practitioner_id=prac, start=start,
                                              end=start + timedelta(days=days, hours=28), now=page.clock.now())
        items = [a for a in items if first <= a.local_start.date() < first + timedelta(days=days)]
    return page.render("scheduling/schedule.html", items=items, practitioners=pracs,
                       practitioner_id=str(prac) if prac else "", on=first.isoformat(),
                       view="week" if view == "week" else "day", kinds=KIND_LABELS, statuses=STATUS_LABELS)


@router.post("/schedule/{appointment_id}/{new_status}", summary="Check in, mark no-show or completed")
def schedule_status(page: SignedInPageDep, appointment_id: uuid.UUID, new_status: str, back: Text = "") -> Response:
    principal = _staff(page)
    target = back if back.startswith("/schedule") else "/schedule"
    if new_status in ("checked_in", "no_show", "completed"):
        try:
            booking.set_status(page.session, principal, appointment_id=appointment_id,
                               status=AppointmentStatus(new_status), now=page.clock.now())
        except Problem as exc:
            if exc.status != 409:
                raise
    return page.redirect(target)


@router.get("/queue", summary="Front-desk queue: issue walk-in tokens and call the next")
def queue_page(page: SignedInPageDep, facility_id: Q = None, department: Q = None) -> Response:
    principal = _staff(page)
    _pracs, places = _choices(page, principal)
    fac = parse_uuid(facility_id) or (uuid.UUID(places[0].id) if places else None)
    dept = (department or "opd").strip().lower()[:64] or "opd"
    state = queue.staff_board(page.session, principal, facility_id=fac, department=dept, now=page.clock.now()) \
        if fac is not None else None
    return page.render("scheduling/queue.html", places=places, facility_id=str(fac) if fac else "",
                       department=dept, state=state)


@router.post("/queue/{action}", summary="Issue a token or call the next one")
def queue_action(page: SignedInPageDep, action: str, facility_id: Text = "", department: Text = "opd",
                 display_name: Text = "") -> Response:
    principal = _staff(page)
    fac = parse_uuid(facility_id)
    dept = department.strip().lower()[:64] or "opd"
    if fac is not None:
        try:
            if action == "token":
                queue.issue_token(page.session, principal, data=QueueTokenCreate(
                    facility_id=fac, department=dept, display_name=display_name[:100]), now=page.clock.now())
            elif action == "next":
                queue.call_next(page.session, principal, facility_id=fac, department=dept, now=page.clock.now())
        except ValidationError:
            pass
    return page.redirect(f"/queue?facility_id={fac or ''}&department={dept}")


@router.get("/queue/board", summary="The waiting-room board: numbers only, refreshes itself")
def queue_board(page: PageDep, facility_id: Q = None, department: Q = None) -> Response:
    fac = parse_uuid(facility_id)
    dept = (department or "opd").strip().lower()[:64]
    state = queue.board(page.session, facility_id=fac, department=dept, now=page.clock.now()) if fac else None
    page.extra_headers["Refresh"] = "15"
    return page.render("scheduling/board.html", state=state)


@router.get("/availability", summary="Availability editor: weekly rules of the clinic's practitioners")
def availability_page(page: SignedInPageDep, error: Q = None) -> Response:
    principal = _staff(page)
    rules = [availability.rule_read(r) for r in _org_rules(page, principal)]
    pracs, places = _choices(page, principal)
    return page.render("scheduling/availability.html", rules=rules, practitioners=pracs, places=places,
                       kinds=KIND_LABELS, error=bool(error))


@router.post("/availability", summary="Add a weekly rule")
def availability_submit(page: SignedInPageDep, practitioner_id: Text = "", facility_id: Text = "",
                        days: Annotated[list[str] | None, Form(max_length=7)] = None, start_time: Text = "",
                        end_time: Text = "", slot_minutes: Text = "15", capacity: Text = "1",
                        starts_on: Text = "", kind: Text = "in_person") -> Response:
    principal = _staff(page)
    byday = ",".join(d for d in (days or []) if d in ("MO", "TU", "WE", "TH", "FR", "SA", "SU")) or "MO,TU,WE,TH,FR"
    try:
        data = AvailabilityRuleCreate.model_validate({
            "practitioner_id": practitioner_id.strip(), "facility_id": facility_id.strip(),
            "rrule": f"FREQ=WEEKLY;BYDAY={byday}", "starts_on": starts_on or page.clock.now().date().isoformat(),
            "start_time": start_time, "end_time": end_time, "slot_minutes": slot_minutes, "capacity": capacity,
            "kinds": [kind if kind in KIND_LABELS else AppointmentKind.in_person.value]})
        availability.create_rule(page.session, principal, data=data, now=page.clock.now())
    except (ValidationError, Problem) as exc:
        if isinstance(exc, Problem) and exc.status not in (409, 422):
            raise
        return page.redirect("/availability?error=1")
    return page.redirect("/availability")


@router.post("/availability/{rule_id}/deactivate", summary="Stop a rule offering new slots")
def availability_deactivate(page: SignedInPageDep, rule_id: uuid.UUID) -> Response:
    principal = _staff(page)
    availability.deactivate_rule(page.session, principal, rule_id=rule_id, now=page.clock.now())
    return page.redirect("/availability")
