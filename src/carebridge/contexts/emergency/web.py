"""SOS and emergency-card pages (no JavaScript): the dashboard's SOS button lands here, the result lists the
nearest emergency care with distance, a call link and directions; staff see open SOS and acknowledge or close
them; the card page shows the signed card as a QR code and as text, ready to print.

Every page goes through the same services as the JSON API.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final
from urllib.parse import urlencode

from fastapi import Form, Query
from fastapi.responses import Response
from pydantic import ValidationError

from carebridge.contexts import facilities
from carebridge.contexts.emergency import profile, service
from carebridge.contexts.emergency.schemas import SosAction, SosCreate, SosFacility, SosRead, SosTransitionCreate
from carebridge.kernel.deps import KeysDep
from carebridge.kernel.errors import Problem
from carebridge.security import Role
from carebridge.web.i18n import N_
from carebridge.web.render import Page, SignedInPageDep, page_router, parse_uuid, signed_in

TEMPLATE_DIR: Final = Path(__file__).resolve().parent / "templates"
router = page_router()
Short = Annotated[str, Form(max_length=100)]
Note = Annotated[str, Form(max_length=500)]

ERRORS: Final = {
    "place": N_("We do not know where you are. Give a nearby town or city, or your coordinates."),
    "busy": N_("You have raised several SOS just now. Call 112 if you need more help."),
}
STATUS_WORDS: Final = {"raised": N_("Raised"), "acknowledged": N_("Acknowledged"), "closed": N_("Closed"),
                       "cancelled": N_("Cancelled")}


@dataclass(frozen=True, slots=True)
class Line:
    facility: SosFacility
    geo_uri: str
    map_url: str
    tel: str | None


def _lines(sos: SosRead) -> list[Line]:
    here = f"{sos.location.lat:.5f},{sos.location.lng:.5f}"
    return [Line(facility=f, geo_uri=f"geo:{f.lat:.5f},{f.lng:.5f}",
                 map_url="https://www.openstreetmap.org/directions?"
                         + urlencode({"route": f"{here};{f.lat:.5f},{f.lng:.5f}"}),
                 tel=f.phone.replace(" ", "") if f.phone else None) for f in sos.facilities]


def _form(page: Page, *, status_code: int = 200, values: dict[str, str] | None = None,
          errors: dict[str, str] | None = None) -> Response:
    return page.render("emergency/sos_form.html", status_code=status_code, values=values or {}, errors=errors or {})


@router.get("/sos", summary="SOS: say where you are and raise it")
def sos_page(page: SignedInPageDep,
             patient_id: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    return _form(page, values={"patient_id": patient_id or ""})


@router.post("/sos", summary="Raise an SOS and show the nearest emergency care")
def sos_submit(page: SignedInPageDep, place: Short = "", lat: Short = "", lng: Short = "", message: Note = "",
               patient_id: Short = "") -> Response:
    principal, _me = signed_in(page)
    values = {"place": place, "lat": lat, "lng": lng, "message": message, "patient_id": patient_id}
    location: dict[str, float] | None = None
    if lat.strip() or lng.strip():
        try:
            location = {"lat": float(lat), "lng": float(lng)}
        except ValueError:
            return _form(page, status_code=422, values=values, errors={"place": page._(ERRORS["place"])})
    elif place.strip():
        position = facilities.place_position(page.session, place)
        if position is None:
            return _form(page, status_code=422, values=values, errors={"place": page._(ERRORS["place"])})
        location = {"lat": position[0], "lng": position[1]}
    try:
        body = SosCreate.model_validate({"patient_id": parse_uuid(patient_id), "location": location,
                                         "message": message.strip() or None})
        sos = service.raise_sos(page.session, principal, body=body, now=page.clock.now())
    except ValidationError:
        return _form(page, status_code=422, values=values, errors={"place": page._(ERRORS["place"])})
    except Problem as exc:
        if exc.status == 429:
            return _form(page, status_code=429, values=values, errors={"general": page._(ERRORS["busy"])})
        if exc.status != 422:
            raise
        return _form(page, status_code=422, values=values, errors={"place": page._(ERRORS["place"])})
    return page.redirect(f"/sos/{sos.id}")


@router.get("/sos/open", summary="Staff: open SOS of your organization's patients")
def open_page(page: SignedInPageDep) -> Response:
    principal, _me = signed_in(page)
    items = service.list_open_sos(page.session, principal, now=page.clock.now())
    return page.render("emergency/open.html", items=items, status_words=STATUS_WORDS)


@router.get("/sos/{sos_id}", summary="One SOS: nearest emergency care and its status")
def sos_result(page: SignedInPageDep, sos_id: uuid.UUID) -> Response:
    principal, _me = signed_in(page)
    sos = service.get_sos(page.session, principal, sos_id=sos_id, now=page.clock.now())
    return page.render("emergency/sos_result.html", sos=sos, lines=_lines(sos), status_words=STATUS_WORDS,
                       staff=principal.is_staff)


@router.post("/sos/{sos_id}/{action}", summary="Acknowledge, close or cancel an SOS")
def sos_move(page: SignedInPageDep, sos_id: uuid.UUID, action: str, note: Note = "") -> Response:
    principal, _me = signed_in(page)
    if action not in SosAction.__members__:
        raise Problem("no such action", status=404, slug="not-found", title="Not found")
    body = SosTransitionCreate(action=SosAction(action), note=note.strip()[:500] or None)
    service.transition_sos(page.session, principal, sos_id=sos_id, body=body, now=page.clock.now())
    return page.redirect("/sos/open" if principal.is_staff else f"/sos/{sos_id}")


@router.get("/emergency-card", summary="Your emergency card: a QR code any phone reads, ready to print")
def card_page(page: SignedInPageDep, keys: KeysDep,
              patient_id: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    principal, _me = signed_in(page)
    target = parse_uuid(patient_id) or (principal.patient_id if principal.role is Role.patient else None)
    if target is None:
        raise Problem("say whose card: ?patient_id=...", status=404, slug="not-found", title="Not found")
    card = profile.issue_card(page.session, principal, patient_id=target, signing_key=keys.signing_key,
                              now=page.clock.now(), qr_title=page._("Emergency card"))
    return page.render("emergency/card.html", card=card, qr_src=_svg_data_uri(card.qr_svg))


def _svg_data_uri(svg: str) -> str:
    """The QR code as an <img> source: the page's policy allows data: images and no inline SVG styling."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
