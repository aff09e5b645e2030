"""Facility pages (no JavaScript): staff keep their facilities' beds and opening hours current, and an
administrator imports a registry file and reads its report.

Beds and hours are what patients see in the nearest-facility search, so the staff page is built for a
busy ward clerk on a phone: one short form per facility, the last update time beside it. Every form posts
to the same services as the JSON API; a refused value comes back as a message on the page.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final, Literal

from fastapi import File, Form, Query, UploadFile
from fastapi.responses import Response
from pydantic import ValidationError

from carebridge.contexts.facilities import importers, service
from carebridge.contexts.facilities.schemas import BedsUpdate, FacilityRead, HoursUpdate, ImportReport
from carebridge.engines.opening_hours import WEEKDAYS, DateException, OpeningHours, TimeRange, Weekday
from carebridge.kernel.errors import Forbidden, Problem
from carebridge.security import Permission, Principal, has_permission
from carebridge.web.i18n import N_
from carebridge.web.render import Page, SignedInPageDep, page_router, signed_in

TEMPLATE_DIR: Final = Path(__file__).resolve().parent / "templates"
IMPORT_PAGE_PATH: Final = "/admin/facilities/import"
"""A page route whose body may be as large as an API import (see main.py's body limits)."""

router = page_router()

Text = Annotated[str, Form(max_length=200)]
Q = Annotated[str | None, Query(max_length=64)]
PAGE_SIZE: Final = 50
FORMATS: Final[dict[str, Literal["csv", "geojson", "fhir"]]] = {"csv": "csv", "geojson": "geojson", "fhir": "fhir"}
DAY_LABELS: Final = {
    Weekday.mon: N_("Monday"), Weekday.tue: N_("Tuesday"), Weekday.wed: N_("Wednesday"),
    Weekday.thu: N_("Thursday"), Weekday.fri: N_("Friday"), Weekday.sat: N_("Saturday"),
    Weekday.sun: N_("Sunday"),
}
ERRORS: Final = {
    "beds": N_("Those bed numbers were not saved: available beds must be a whole number, not more than the total."),
    "hours": N_("Those hours were not saved: use HH:MM times and a time zone such as Asia/Kolkata."),
    "stale": N_("Someone else changed these hours while you were editing. Here they are now; change them again."),
}


@dataclass(frozen=True, slots=True)
class DayRow:
    key: str
    label: str
    opens: str
    closes: str


@dataclass(frozen=True, slots=True)
class FacilityCard:
    facility: FacilityRead
    days: list[DayRow]
    time_zone: str
    always_open: bool
    closed_dates: list[str]


def _staff(page: Page) -> Principal:
    principal, _me = signed_in(page)
    if not has_permission(principal.role, Permission.facility_update_beds):
        raise Forbidden("this page is for the staff of a facility")
    return principal


def _admin(page: Page) -> Principal:
    principal, _me = signed_in(page)
    service.require_import(principal)
    return principal


def _card(f: FacilityRead, default_zone: str) -> FacilityCard:
    hours = f.opening_hours
    days = []
    for day in WEEKDAYS:
        ranges = hours.weekly.get(day, []) if hours else []
        first = ranges[0] if ranges else None
        days.append(DayRow(day.value, DAY_LABELS[day], first.opens if first else "", first.closes if first else ""))
    return FacilityCard(
        facility=f, days=days, time_zone=hours.time_zone if hours else default_zone,
        always_open=bool(hours and hours.always_open),
        closed_dates=[e.date.isoformat() for e in (hours.exceptions if hours else []) if e.closed])


def _own_facilities(page: Page, principal: Principal) -> list[FacilityRead]:
    """The staff member's organization's facilities; an administrator without one sees the first page of all."""
    if principal.organization_id is None and not has_permission(principal.role, Permission.facility_write):
        return []
    listing = service.list_facilities(page.session, limit=PAGE_SIZE, organization_id=principal.organization_id)
    return listing.items


@router.get("/facilities/manage", summary="Beds and opening hours of my organization's facilities")
def manage_page(page: SignedInPageDep, error: Q = None, facility: Q = None) -> Response:
    principal = _staff(page)
    cards = [_card(f, importers.DEFAULT_TIME_ZONE) for f in _own_facilities(page, principal)]
    message = page._(ERRORS[error]) if error in ERRORS else None
    return page.render("facilities/manage.html", cards=cards, error=message, error_facility=facility or "")


def _back(facility_id: uuid.UUID, error: str | None = None) -> str:
    anchor = f"#f-{facility_id}"
    return f"/facilities/manage?error={error}&facility={facility_id}{anchor}" if error else \
        f"/facilities/manage{anchor}"


@router.post("/facilities/{facility_id}/beds", summary="Report the beds available now")
def beds_submit(page: SignedInPageDep, facility_id: uuid.UUID, available: Text = "", total: Text = "") -> Response:
    principal = _staff(page)
    try:
        data = BedsUpdate.model_validate({"available": available.strip() or None,
                                          "total": total.strip() or None})
        service.update_beds(page.session, principal, facility_id=facility_id, data=data, now=page.clock.now())
    except (ValidationError, Problem) as exc:
        if isinstance(exc, Problem) and exc.status != 422:
            raise
        return page.redirect(_back(facility_id, "beds"))
    return page.redirect(_back(facility_id))


def hours_from_form(*, time_zone: str, always_open: bool, days: dict[str, tuple[str, str]],
                    closed_dates: list[str], kept: OpeningHours | None) -> OpeningHours:
    """The weekly form as opening hours: one range per day (empty: closed); exceptions that are not whole
    closed days (special hours set through the API) are kept, so the simple form never loses them."""
    weekly: dict[Weekday, list[TimeRange]] = {}
    for day in WEEKDAYS:
        opens, closes = days.get(day.value, ("", ""))
        if opens.strip() or closes.strip():
            weekly[day] = [TimeRange(opens=opens.strip(), closes=closes.strip())]
    special = [e for e in (kept.exceptions if kept else []) if not e.closed]
    closed = [DateException.model_validate({"date": d.strip(), "closed": True})
              for d in dict.fromkeys(closed_dates) if d.strip()]
    taken = {e.date for e in closed}
    return OpeningHours(time_zone=time_zone.strip(), always_open=always_open, weekly=weekly,
                        exceptions=sorted([*closed, *(e for e in special if e.date not in taken)],
                                          key=lambda e: e.date))


@router.post("/facilities/{facility_id}/hours", summary="Change the weekly opening hours")
def hours_submit(page: SignedInPageDep, facility_id: uuid.UUID, version: Text = "", time_zone: Text = "",
                 always_open: Text = "", closed_dates: Text = "",
                 mon_opens: Text = "", mon_closes: Text = "", tue_opens: Text = "", tue_closes: Text = "",
                 wed_opens: Text = "", wed_closes: Text = "", thu_opens: Text = "", thu_closes: Text = "",
                 fri_opens: Text = "", fri_closes: Text = "", sat_opens: Text = "", sat_closes: Text = "",
                 sun_opens: Text = "", sun_closes: Text = "") -> Response:
    principal = _staff(page)
    days = {"mon": (mon_opens, mon_closes), "tue": (tue_opens, tue_closes), "wed": (wed_opens, wed_closes),
            "thu": (thu_opens, thu_closes), "fri": (fri_opens, fri_closes), "sat": (sat_opens, sat_closes),
            "sun": (sun_opens, sun_closes)}
    current = service.get_facility(page.session, facility_id=facility_id)
    try:
        hours = hours_from_form(time_zone=time_zone, always_open=always_open == "on", days=days,
                                closed_dates=closed_dates.replace(",", " ").split(), kept=current.opening_hours)
        data = HoursUpdate(opening_hours=hours, version=int(version) if version.strip().isdigit() else None)
        service.update_hours(page.session, principal, facility_id=facility_id, data=data, now=page.clock.now())
    except (ValidationError, ValueError, Problem) as exc:
        if isinstance(exc, Problem) and exc.status == 409:
            return page.redirect(_back(facility_id, "stale"))
        if isinstance(exc, Problem) and exc.status != 422:
            raise
        return page.redirect(_back(facility_id, "hours"))
    return page.redirect(_back(facility_id))


@router.get(IMPORT_PAGE_PATH, summary="Import facilities from a file (administrators)")
def import_page(page: SignedInPageDep) -> Response:
    _admin(page)
    return page.render("facilities/import.html", report=None, error=None,
                       default_time_zone=importers.DEFAULT_TIME_ZONE)


@router.post(IMPORT_PAGE_PATH, summary="Import the chosen file and show what was taken and refused")
def import_submit(page: SignedInPageDep, file: Annotated[UploadFile, File()], format_: Annotated[
        str, Form(alias="format", max_length=16)] = "csv", profile: Text = "",
                  time_zone: Text = importers.DEFAULT_TIME_ZONE) -> Response:
    principal = _admin(page)
    limit = page.settings.facility_import_max_bytes
    raw = file.file.read(limit + 1)
    error: str | None = None
    report: ImportReport | None = None
    fmt = FORMATS.get(format_)
    if fmt is None:
        error = page._(N_("Choose CSV, GeoJSON or FHIR."))
    elif len(raw) > limit:
        error = page._(N_("This file is too large for the page; use the command `carebridge facilities import`."))
    elif not raw:
        error = page._(N_("The file is empty."))
    else:
        try:
            # a savepoint: a file that turns out unreadable half-way leaves none of its rows behind
            with page.session.begin_nested():
                used, records, notes = importers.read(fmt, raw, profile=profile.strip() or None,
                                                      default_time_zone=time_zone.strip()
                                                      or importers.DEFAULT_TIME_ZONE)
                report = service.import_facilities(page.session, principal, fmt=fmt, profile=used,
                                                   records=records, notes=notes, now=page.clock.now())
        except importers.ImportFormatError as exc:
            error = page._(N_("The file could not be read: {reason}")).format(reason=exc)
    return page.render("facilities/import.html", status_code=200 if error is None else 422, report=report,
                       error=error, default_time_zone=importers.DEFAULT_TIME_ZONE)
