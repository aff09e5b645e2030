"""The patient's consent page (no JavaScript): "who can see my record" — the organizations that treat them and
what each reads by default, explicit grants and restrictions with a revoke button, emergency (break-glass)
openings, and a form to grant or withhold access.

A caregiver the patient allowed to manage consent reaches the same page with `?patient_id=`. Clinicians have a
break-glass page (`/break-glass?patient_id=`): a reason, then the patient's record. Every form goes through the
same service as the JSON API, so the policy and the audit trail are the same.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Final

from fastapi import Form, Query
from fastapi.responses import Response
from pydantic import ValidationError

from carebridge.contexts.consent import service
from carebridge.contexts.consent.schemas import (
    BreakGlassCreate,
    ConsentCategory,
    ConsentCreate,
    ConsentEffect,
    GranteeType,
)
from carebridge.kernel.deps import SettingsDep
from carebridge.kernel.errors import Problem
from carebridge.security import Principal, Role
from carebridge.web.i18n import N_
from carebridge.web.render import Page, SignedInPageDep, page_router, parse_uuid, signed_in

TEMPLATE_DIR: Final = Path(__file__).resolve().parent / "templates"
PAGE_PATH: Final = "/consent"
router = page_router()
Short = Annotated[str, Form(max_length=100)]
Note = Annotated[str, Form(max_length=500)]

CATEGORY_LABELS: Final = {
    "all": N_("Everything"),
    "demographics": N_("Profile and contacts"),
    "clinical": N_("Visits, problems, allergies and tests"),
    "documents": N_("Documents"),
    "prescriptions": N_("Medicines"),
    "vitals": N_("Vital signs from devices"),
    "appointments": N_("Appointments"),
    "mental_health": N_("Mental health notes and mood journal"),
}
KIND_LABELS: Final = {"grant": N_("May see"), "restriction": N_("May not see"), "break_glass": N_("Emergency")}
ERRORS: Final = {
    "grantee_id": N_("Choose who this is for. For someone else, give the id their clinic gave you."),
    "expires_at": N_("The end date must be in the future."),
    "categories": N_("Choose at least one part of your record."),
    "general": N_("Check what you entered."),
    "reason": N_("Say why, in at least 10 characters: the patient will read it."),
}
GLASS_PATH: Final = "/break-glass"


def _target(page: Page, principal: Principal, patient_id: str | None) -> uuid.UUID:
    target = parse_uuid(patient_id) or (principal.patient_id if principal.role is Role.patient else None)
    if target is None:
        raise Problem("say whose record: ?patient_id=...", status=404, slug="not-found", title="Not found")
    return target


def _back(target: uuid.UUID, principal: Principal) -> str:
    return PAGE_PATH if principal.role is Role.patient else f"{PAGE_PATH}?patient_id={target}"


def _render(page: Page, principal: Principal, target: uuid.UUID, *, status_code: int = 200,
            errors: dict[str, str] | None = None, values: dict[str, object] | None = None) -> Response:
    now = page.clock.now()
    overview = service.list_consents(page.session, principal, patient_id=target, now=now)
    carers = service.caregiver_choices(page.session, principal, patient_id=target, now=now)
    return page.render("consent/manage.html", status_code=status_code, overview=overview, caregivers=carers,
                       category_labels=CATEGORY_LABELS, kind_labels=KIND_LABELS, errors=errors or {},
                       values=values or {}, patient_id=target, own=principal.role is Role.patient,
                       categories=[c.value for c in ConsentCategory])


@router.get(PAGE_PATH, summary="Who can see my record: organizations, grants, restrictions and emergency access")
def consent_page(page: SignedInPageDep,
                 patient_id: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    principal, _me = signed_in(page)
    return _render(page, principal, _target(page, principal, patient_id))


def _grantee(choice: str, other_type: str, other_id: str) -> tuple[str, uuid.UUID | None]:
    kind, _, ident = choice.partition(":")
    if kind in (GranteeType.organization.value, GranteeType.caregiver.value) and parse_uuid(ident):
        return kind, parse_uuid(ident)
    return (other_type if other_type in GranteeType.__members__ else GranteeType.practitioner.value,
            parse_uuid(other_id.strip()))


def _expiry(value: str) -> datetime | None:
    """An end date on the form means "until the end of that day" (UTC)."""
    if not value.strip():
        return None
    try:
        day = datetime.fromisoformat(value.strip()[:10]).date()
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)  # refused by the service as not in the future
    return datetime.combine(day, time(0, 0), tzinfo=UTC) + timedelta(days=1)


@router.post(PAGE_PATH + "/grant", summary="Grant or withhold access to parts of the record")
def grant_submit(page: SignedInPageDep, patient_id: Short = "", grantee: Short = "", other_type: Short = "",
                 other_id: Short = "", effect: Short = "allow", expires_on: Short = "", note: Note = "",
                 categories: Annotated[list[str] | None, Form()] = None) -> Response:
    principal, _me = signed_in(page)
    target = _target(page, principal, patient_id)
    chosen = [c for c in (categories or [])[:len(ConsentCategory)] if c in ConsentCategory.__members__]
    values: dict[str, object] = {"grantee": grantee, "other_type": other_type, "other_id": other_id,
                                 "effect": effect, "expires_on": expires_on, "note": note, "categories": chosen}
    grantee_type, grantee_id = _grantee(grantee, other_type, other_id)
    if grantee_id is None:
        return _render(page, principal, target, status_code=422, values=values,
                       errors={"grantee_id": page._(ERRORS["grantee_id"])})
    try:
        body = ConsentCreate(grantee_type=GranteeType(grantee_type), grantee_id=grantee_id,
                             effect=ConsentEffect.deny if effect == "deny" else ConsentEffect.allow,
                             categories=[ConsentCategory(c) for c in chosen], expires_at=_expiry(expires_on),
                             note=note.strip() or None)
        service.grant_consent(page.session, principal, patient_id=target, body=body, now=page.clock.now())
    except ValidationError as exc:
        fields = {str(e["loc"][0]) for e in exc.errors() if e.get("loc")}
        return _render(page, principal, target, status_code=422, values=values,
                       errors={f: page._(ERRORS.get(f, ERRORS["general"])) for f in fields or {"general"}})
    except Problem as exc:
        if exc.status != 422:
            raise
        fields = {str(e.get("field", "general")) for e in exc.errors} or {"general"}
        return _render(page, principal, target, status_code=422, values=values,
                       errors={f: page._(ERRORS.get(f, ERRORS["general"])) for f in fields})
    return page.redirect(_back(target, principal) + ("&" if "?" in _back(target, principal) else "?")
                         + "done=saved")


@router.post(PAGE_PATH + "/{consent_id}/revoke", summary="Revoke a grant or a restriction")
def revoke_submit(page: SignedInPageDep, consent_id: uuid.UUID, patient_id: Short = "") -> Response:
    principal, _me = signed_in(page)
    target = _target(page, principal, patient_id)
    service.revoke_consent(page.session, principal, patient_id=target, consent_id=consent_id, now=page.clock.now())
    back = _back(target, principal)
    return page.redirect(back + ("&" if "?" in back else "?") + "done=saved")


@router.get(GLASS_PATH, summary="Clinicians: open a record without consent in an emergency, with a reason")
def glass_page(page: SignedInPageDep, patient_id: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    _principal, _me = signed_in(page)
    return page.render("consent/break_glass.html", patient_id=patient_id or "", errors={}, values={})


@router.post(GLASS_PATH, summary="Open the record by break-glass and go to it")
def glass_submit(page: SignedInPageDep, settings: SettingsDep, patient_id: Short = "", reason: Note = "") -> Response:
    principal, _me = signed_in(page)
    target = parse_uuid(patient_id)
    if target is None:
        raise Problem("no such patient", status=404, slug="not-found", title="Not found")
    try:
        body = BreakGlassCreate(reason=reason)
    except ValidationError:
        return page.render("consent/break_glass.html", status_code=422, patient_id=patient_id,
                           errors={"reason": page._(ERRORS["reason"])}, values={"reason": reason})
    service.break_glass(page.session, principal, patient_id=target, body=body, now=page.clock.now(),
                        default_minutes=settings.consent_break_glass_minutes)
    return page.redirect(f"/record/{target}")
