"""The symptom checker pages (no JavaScript): say what is wrong and where you are, read how urgent it is in
plain words and colour, and see the nearest suitable facilities with distance, open or closed now, a phone
link and directions — then book or call.

The answer is the same care request the JSON API makes (`service.create_care_request`), so the page and
patient apps never disagree. Anyone may use it without signing in (rate-limited per address, as the API);
a signed-in patient's request is linked to their record and can be saved there.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final
from urllib.parse import urlencode

from fastapi import Form, Query
from fastapi.responses import Response
from pydantic import ValidationError

from carebridge.contexts import facilities, patients
from carebridge.contexts.care import service
from carebridge.contexts.care.config import config_from
from carebridge.contexts.care.schemas import CareRequestCreate, CareRequestRead, FacilityMatch, StepKind
from carebridge.engines.opening_hours import is_open
from carebridge.engines.triage import Level
from carebridge.kernel.errors import Problem
from carebridge.security import Principal, Role
from carebridge.web.i18n import N_
from carebridge.web.render import Page, PageDep, SignedInPageDep, page_router, signed_in

TEMPLATE_DIR: Final = Path(__file__).resolve().parent / "templates"
router = page_router()

Text = Annotated[str, Form(max_length=2000)]
Short = Annotated[str, Form(max_length=100)]

LEVEL_WORDS: Final = {
    Level.EMERGENCY: N_("Emergency: get help now"),
    Level.URGENT: N_("Urgent: see a doctor today"),
    Level.NON_URGENT: N_("See a doctor in the next few days"),
    Level.SELF_CARE: N_("You can probably look after this at home"),
}
ERRORS: Final = {
    "symptoms": N_("Tell us what is wrong, in your own words."),
    "place": N_("We could not find that place. Give a nearby town or city, or your coordinates."),
    "age": N_("Give the age in years (0 to 130)."),
    "busy": N_("Too many requests from this connection. Please wait a little and try again."),
}


@dataclass(frozen=True, slots=True)
class FacilityLine:
    match: FacilityMatch
    open_now: bool | None  # None: the hours are not known
    geo_uri: str
    map_url: str
    book_url: str | None


def _form_defaults(page: Page) -> dict[str, str]:
    """A signed-in patient's saved address position, so they need not type where they are."""
    principal = page.principal
    if principal is None or principal.role is not Role.patient or principal.patient_id is None:
        return {}
    try:
        record = patients.get_patient(page.session, principal, patient_id=principal.patient_id, now=page.clock.now(),
                                      purpose="patient_request")
    except Problem:
        return {}
    geo = record.address.geo if record.address else None
    city = record.address.city if record.address else None
    out = {"place": city or ""}
    if geo is not None:
        out.update(lat=f"{geo.lat:.5f}", lng=f"{geo.lng:.5f}")
    return out


@router.get("/find-care", summary="Symptom checker: how urgent is it and where to go")
def find_care_page(page: PageDep, saved: Annotated[str | None, Query(max_length=4)] = None) -> Response:
    return page.render("care/find.html", values=_form_defaults(page), errors={}, saved=saved == "1")


def _position(page: Page, place: str, lat: str, lng: str) -> tuple[float, float] | None:
    if lat.strip() and lng.strip():
        try:
            la, ln = float(lat), float(lng)
        except ValueError:
            return None
        return (la, ln) if -90 <= la <= 90 and -180 <= ln <= 180 else None
    return facilities.place_position(page.session, place) if place.strip() else None


def _lines(page: Page, answer: CareRequestRead, lat: float, lng: float) -> list[FacilityLine]:
    now = page.clock.now()
    book = next((s.href for s in answer.next_steps if s.kind is StepKind.book), None)
    out = []
    for match in answer.facilities:
        open_now: bool | None = None
        if match.source == "local":
            try:
                hours = facilities.get_facility(page.session, facility_id=uuid.UUID(match.id)).opening_hours
            except (ValueError, Problem):
                hours = None
            open_now = is_open(hours, now) if hours is not None else None
        route = urlencode({"route": f"{lat:.5f},{lng:.5f};{match.lat:.5f},{match.lng:.5f}"})
        query = {"specialty": answer.search.specialty} if answer.search.specialty else {}
        out.append(FacilityLine(
            match=match, open_now=open_now, geo_uri=f"geo:{match.lat:.5f},{match.lng:.5f}",
            map_url=f"https://www.openstreetmap.org/directions?{route}",
            book_url=("/book?" + urlencode(query)) if book and answer.triage.level is not Level.EMERGENCY else None))
    return out


@router.post("/find-care", summary="Triage what was entered and show where to go")
def find_care_submit(page: PageDep, symptoms: Text = "", age: Short = "", sex: Short = "", place: Short = "",
                     lat: Short = "", lng: Short = "") -> Response:
    values = {"symptoms": symptoms, "age": age, "sex": sex, "place": place, "lat": lat, "lng": lng}
    errors: dict[str, str] = {}
    if not symptoms.strip():
        errors["symptoms"] = page._(ERRORS["symptoms"])
    years: float | None = None
    if age.strip():
        try:
            years = float(age)
        except ValueError:
            errors["age"] = page._(ERRORS["age"])
    position = _position(page, place, lat, lng)
    if position is None:
        errors["place"] = page._(ERRORS["place"])
    if errors or position is None:
        return page.render("care/find.html", status_code=422, values=values, errors=errors, saved=False)
    try:
        data = CareRequestCreate.model_validate({
            "symptoms": symptoms, "age": years, "sex": sex if sex in ("male", "female", "other") else None,
            "location": {"lat": position[0], "lng": position[1]}, "limit": 5})
        answer = service.create_care_request(
            page.session, page.principal, data=data,
            client_address=page.request.client.host if page.request.client else None,
            config=config_from(page.settings), now=page.clock.now())
    except ValidationError as exc:
        fields = {str(e["loc"][0]) for e in exc.errors() if e.get("loc")}
        errors = {k: page._(ERRORS[k]) for k in ("symptoms", "age") if k in fields} or \
            {"symptoms": page._(ERRORS["symptoms"])}
        return page.render("care/find.html", status_code=422, values=values, errors=errors, saved=False)
    except Problem as exc:
        if exc.status != 429:
            raise
        return page.render("care/find.html", status_code=429, values=values,
                           errors={"general": page._(ERRORS["busy"])}, saved=False)
    return page.render("care/result.html", answer=answer, level_words=page._(LEVEL_WORDS[answer.triage.level]),
                       lines=_lines(page, answer, *position), can_save=_can_save(page.principal, answer))


def _can_save(principal: Principal | None, answer: CareRequestRead) -> bool:
    return principal is not None and answer.patient_id is not None and not answer.saved


@router.post("/find-care/{request_id}/save", summary="Keep this answer in my record")
def save_submit(page: SignedInPageDep, request_id: uuid.UUID) -> Response:
    principal, _me = signed_in(page)
    service.save_care_request(page.session, principal, request_id=request_id, now=page.clock.now())
    return page.redirect("/find-care?saved=1")
