"""Prescribing pages (no JavaScript needed): the prescriber's view of a patient (write, see the alerts with their
justification and source, acknowledge or override with a reason, sign, answer refill requests), the pharmacy
queue (dispense partly or fully), and the patient's medicines with today's doses and adherence, plus the page
a reminder's signed link opens.

The pages call the same services as the JSON API, so policy, audit and the signing rules are identical. Each
write runs in a savepoint: a refused form (409, 422) comes back as a message on the page with nothing half
written. Alerts raised after the page was drawn (a new allergy re-checks the prescription) show on the next
load or after "Check again", which re-posts the form.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Final, Literal, TypeVar

from fastapi import Form, Query
from fastapi.responses import Response
from pydantic import ValidationError

from carebridge.contexts.prescribing import access, doses, lifecycle, printing, refills, service
from carebridge.contexts.prescribing.assets import LIVE_CSP, LIVE_SCRIPT, PRINT_CSS, PRINT_CSS_PATH, SCRIPT_PATH
from carebridge.contexts.prescribing.schemas import (
    AlertDecide,
    ClinicalInputs,
    DispenseCreate,
    DispenseLine,
    ItemCreate,
    PrescriptionCreate,
    RefillDecide,
    RxStatus,
)
from carebridge.kernel.errors import NotFound, Problem
from carebridge.security import Permission, Role
from carebridge.web.i18n import N_
from carebridge.web.render import Page, PageDep, SignedInPageDep, page_router, parse_uuid, signed_in

TEMPLATE_DIR: Final = Path(__file__).resolve().parent / "templates"
router = page_router()
ROWS: Final = 3  # medicine rows on the new-prescription form
T = TypeVar("T")
Short = Annotated[str, Form(max_length=500)]
Tiny = Annotated[str, Form(max_length=200)]
Num = Annotated[str, Form(max_length=12)]
SEVERITY_LABELS: Final = {"contraindicated": N_("Contraindicated"), "major": N_("Major"),
                          "moderate": N_("Moderate"), "minor": N_("Minor"), "info": N_("Information")}


def _attempt(page: Page, action: Callable[[], T]) -> tuple[T | None, str | None]:
    """Run a write in a savepoint; a Problem becomes a message and leaves nothing behind."""
    try:
        with page.session.begin_nested():
            return action(), None
    except Problem as exc:
        return None, exc.detail


def _pid(value: str) -> uuid.UUID:
    pid = parse_uuid(value)
    if pid is None:
        raise NotFound("no such patient")
    return pid


# --- prescriber -------------------------------------------------------------------------------------------------


def _prescriber_page(page: Page, pid: uuid.UUID, *, error: str | None = None, q: str = "",
                     values: dict[str, str] | None = None, status_code: int = 200) -> Response:
    principal, _me = signed_in(page)
    now = page.clock.now()
    patient = access.patient_for(page.session, principal, pid, Permission.prescription_read, now=now)
    listed = service.list_for_patient(page.session, principal, patient_id=pid, status=None, limit=20,
                                      cursor=None, now=now)
    alerts = service.open_alerts(page.session, principal, patient_id=pid, now=now)
    open_refills = refills.list_for_patient(page.session, principal, patient_id=pid, status="open", now=now)
    hits = service.search_medications(principal, q=q, limit=10, cursor=None).items if q.strip() else []
    page.extra_headers["Content-Security-Policy"] = LIVE_CSP
    return page.render("prescribing/prescriber.html", status_code=status_code, patient=patient,
                       prescriptions=listed.items, alerts=alerts, refills=open_refills, hits=hits, q=q,
                       rows=range(ROWS), values=values or {}, error=error, severities=SEVERITY_LABELS,
                       may_write=principal.role is Role.practitioner)


@router.get(SCRIPT_PATH, summary="The prescriber page's live-alert script")
def live_script() -> Response:
    return Response(LIVE_SCRIPT, media_type="text/javascript", headers={"Cache-Control": "public, max-age=3600"})


@router.get("/prescribe/{patient_id}", summary="Prescriber's view of a patient's medicines")
def prescriber(page: SignedInPageDep, patient_id: str,
               q: Annotated[str | None, Query(max_length=100)] = None) -> Response:
    return _prescriber_page(page, _pid(patient_id), q=q or "")


def _items_from(values: dict[str, str]) -> list[ItemCreate]:
    items = []
    for i in range(ROWS):
        name = values.get(f"med_{i}", "").strip()
        if not name:
            continue
        items.append(ItemCreate(medication=name, dose=float(values.get(f"dose_{i}") or 0),
                                unit=values.get(f"unit_{i}") or "mg",
                                times_per_day=int(values.get(f"times_{i}") or 1),
                                duration_days=int(values.get(f"days_{i}") or 1),
                                refills=int(values.get(f"refills_{i}") or 0),
                                instructions=values.get(f"instructions_{i}", "")))
    return items


@router.post("/prescribe/{patient_id}", summary="Write a draft prescription from the form")
def prescribe(page: SignedInPageDep, patient_id: str, note: Short = "",
              med_0: Tiny = "", dose_0: Num = "", unit_0: Num = "mg", times_0: Num = "1", days_0: Num = "",
              refills_0: Num = "0", instructions_0: Short = "",
              med_1: Tiny = "", dose_1: Num = "", unit_1: Num = "mg", times_1: Num = "1", days_1: Num = "",
              refills_1: Num = "0", instructions_1: Short = "",
              med_2: Tiny = "", dose_2: Num = "", unit_2: Num = "mg", times_2: Num = "1", days_2: Num = "",
              refills_2: Num = "0", instructions_2: Short = "",
              allergies: Short = "", conditions: Short = "", egfr: Num = "") -> Response:
    principal, _me = signed_in(page)
    pid = _pid(patient_id)
    values = {k: v for k, v in locals().items() if isinstance(v, str) and k not in ("patient_id",)}
    try:
        items = _items_from(values)
        clinical = ClinicalInputs(allergies=[a.strip() for a in allergies.split(",") if a.strip()],
                                  conditions=[c.strip().upper() for c in conditions.split(",") if c.strip()],
                                  egfr=float(egfr) if egfr.strip() else None)
        data = PrescriptionCreate(patient_id=pid, items=items, note=note, clinical=clinical)
    except (ValidationError, ValueError):
        return _prescriber_page(page, pid, values=values, status_code=422, error=page._(N_(
            "Check the medicines: each needs a dose above 0, doses a day (1-24) and days (1-365).")))
    rx, error = _attempt(page, lambda: lifecycle.create(page.session, principal, data=data,
                                                        now=page.clock.now()))
    if rx is None:
        return _prescriber_page(page, pid, values=values, status_code=422, error=error)
    return page.redirect(f"/prescriptions/{rx.id}/review")


def _rx_id(value: str) -> uuid.UUID:
    rid = parse_uuid(value)
    if rid is None:
        raise NotFound("no such prescription")
    return rid


def _review(page: Page, rx_id: uuid.UUID, *, error: str | None = None, status_code: int = 200) -> Response:
    principal, _me = signed_in(page)
    rx = service.get_prescription(page.session, principal, rx_id=rx_id, now=page.clock.now())
    return page.render("prescribing/review.html", status_code=status_code, rx=rx, check=rx.latest_check,
                       error=error, severities=SEVERITY_LABELS, may_write=principal.role is Role.practitioner,
                       is_draft=rx.status is RxStatus.draft)


@router.get("/prescriptions/{rx_id}/review", summary="A prescription's alerts, decisions and signature")
def review(page: SignedInPageDep, rx_id: str) -> Response:
    return _review(page, _rx_id(rx_id))


@router.get("/prescriptions/{rx_id}/print", summary="Printable prescription with the QR code that verifies it")
def print_page(page: SignedInPageDep, rx_id: str) -> Response:
    principal, _me = signed_in(page)
    sheet = printing.printable(page.session, principal, rx_id=_rx_id(rx_id), now=page.clock.now())
    return page.render("prescribing/print.html", sheet=sheet, rx=sheet.rx)


@router.get(PRINT_CSS_PATH, summary="The printed prescription's style sheet")
def print_css() -> Response:
    return Response(PRINT_CSS, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


@router.post("/prescriptions/{rx_id}/review/check", summary="Check a prescription again")
def recheck(page: SignedInPageDep, rx_id: str) -> Response:
    principal, _me = signed_in(page)
    rid = _rx_id(rx_id)
    _, error = _attempt(page, lambda: lifecycle.run_check(page.session, principal, rx_id=rid,
                                                          clinical=ClinicalInputs(), now=page.clock.now()))
    return _review(page, rid, error=error, status_code=409 if error else 200)


@router.post("/prescriptions/{rx_id}/review/alerts", summary="Acknowledge or override one alert")
def decide(page: SignedInPageDep, rx_id: str, kind: Annotated[str, Form(max_length=16)],
           items: Annotated[str, Form(max_length=700)], action: Annotated[str, Form(max_length=16)],
           reason: Short = "") -> Response:
    principal, _me = signed_in(page)
    rid = _rx_id(rx_id)
    try:
        data = AlertDecide(kind=kind, items=[i for i in items.split("|") if i][:3],
                           action=action, reason=reason)
    except ValidationError:
        return _review(page, rid, error=page._(N_("Choose acknowledge or override.")), status_code=422)
    _, error = _attempt(page, lambda: lifecycle.decide_alert(page.session, principal, rx_id=rid, data=data,
                                                             now=page.clock.now()))
    if error:
        return _review(page, rid, error=error, status_code=422)
    return page.redirect(f"/prescriptions/{rid}/review")


@router.post("/prescriptions/{rx_id}/review/sign", summary="Sign the prescription")
def sign(page: SignedInPageDep, rx_id: str) -> Response:
    principal, _me = signed_in(page)
    rid = _rx_id(rx_id)
    keys = page.request.app.state.keys
    _, error = _attempt(page, lambda: lifecycle.sign(page.session, principal, rx_id=rid, keys=keys,
                                                     now=page.clock.now()))
    if error:
        return _review(page, rid, error=error, status_code=409)
    return page.redirect(f"/prescriptions/{rid}/review?done=saved")


@router.post("/refill-requests/{request_id}/decide", summary="Approve or refuse a refill request")
def decide_refill(page: SignedInPageDep, request_id: str, action: Annotated[str, Form(max_length=16)],
                  patient_id: Annotated[str, Form(max_length=64)], reason: Short = "") -> Response:
    principal, _me = signed_in(page)
    rid, pid = parse_uuid(request_id), _pid(patient_id)
    if rid is None:
        raise NotFound("no such refill request")
    try:
        data = RefillDecide(action=action, reason=reason)
    except ValidationError:
        return _prescriber_page(page, pid, error=page._(N_("Choose approve or refuse.")), status_code=422)
    _, error = _attempt(page, lambda: refills.decide(page.session, principal, request_id=rid, data=data,
                                                     now=page.clock.now()))
    if error:
        return _prescriber_page(page, pid, error=error, status_code=422)
    return page.redirect(f"/prescribe/{pid}?done=saved")


# --- pharmacy ---------------------------------------------------------------------------------------------------


def _queue(page: Page, *, error: str | None = None, status_code: int = 200) -> Response:
    principal, _me = signed_in(page)
    waiting = service.pharmacy_queue(page.session, principal, limit=50, now=page.clock.now())
    return page.render("prescribing/pharmacy.html", status_code=status_code, queue=waiting, error=error)


@router.get("/pharmacy", summary="Prescriptions waiting to be dispensed here")
def pharmacy(page: SignedInPageDep) -> Response:
    return _queue(page)


@router.post("/pharmacy/{rx_id}/dispense", summary="Dispense some or all of a prescription")
async def dispense(page: SignedInPageDep, rx_id: str) -> Response:
    principal, _me = signed_in(page)
    rid = _rx_id(rx_id)
    form = await page.request.form()
    lines = []
    try:
        for key, raw in form.multi_items():
            if key.startswith("qty_") and isinstance(raw, str) and raw.strip() and raw.strip() != "0":
                lines.append(DispenseLine(item_id=uuid.UUID(key[4:]), quantity=int(raw)))
        data = DispenseCreate(lines=lines[:30])
    except (ValidationError, ValueError):
        return _queue(page, error=page._(N_("Enter whole quantities of at least 1 to dispense.")), status_code=422)
    _, error = _attempt(page, lambda: lifecycle.dispense(page.session, principal, rx_id=rid, data=data,
                                                         now=page.clock.now()))
    if error:
        return _queue(page, error=error, status_code=409)
    return page.redirect("/pharmacy?done=saved")


# --- the patient's medicines ------------------------------------------------------------------------------------


def _whose(page: Page, patient: str | None) -> uuid.UUID | None:
    principal, _me = signed_in(page)
    if patient:
        return _pid(patient)
    if principal.patient_id is not None:
        return principal.patient_id
    cared = list(principal.caregiver_of)
    return cared[0] if len(cared) == 1 else None


def _medicines(page: Page, pid: uuid.UUID, *, error: str | None = None, status_code: int = 200) -> Response:
    principal, _me = signed_in(page)
    now = page.clock.now()
    today = doses.doses_on(page.session, principal, patient_id=pid, now=now)
    adherence = doses.adherence(page.session, principal, patient_id=pid, now=now)
    listed = service.list_for_patient(page.session, principal, patient_id=pid, status=None, limit=20,
                                      cursor=None, now=now)
    return page.render("prescribing/medicines.html", status_code=status_code, patient_id=pid, doses=today,
                       adherence=adherence, prescriptions=listed.items, error=error,
                       own=principal.patient_id == pid)


@router.get("/medications", summary="My medicines: today's doses, adherence, refills")
def medicines(page: SignedInPageDep, patient: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    pid = _whose(page, patient)
    if pid is None:
        raise NotFound("open this page from the patient you care for")
    return _medicines(page, pid)


@router.post("/medications/{rx_id}/refill", summary="Ask for a refill")
def ask_refill(page: SignedInPageDep, rx_id: str, patient_id: Annotated[str, Form(max_length=64)],
               note: Short = "") -> Response:
    principal, _me = signed_in(page)
    rid, pid = _rx_id(rx_id), _pid(patient_id)
    _, error = _attempt(page, lambda: lifecycle.request_refill(page.session, principal, rx_id=rid, note=note,
                                                               now=page.clock.now()))
    if error:
        return _medicines(page, pid, error=error, status_code=409)
    return page.redirect(f"/medications?patient={pid}&done=saved")


def _link_page(page: Page, dose_id: str, t: str, *, error: str | None = None, status_code: int = 200) -> Response:
    secret = page.request.app.state.keys.token_secret
    dose, _rx = doses.dose_by_link(page.session, dose_id=dose_id, token=t, secret=secret, now=page.clock.now())
    return page.render("prescribing/dose_link.html", status_code=status_code, dose=dose, token=t, error=error)


@router.get("/medications/doses/{dose_id}", summary="The dose a reminder's link names")
def dose_link(page: PageDep, dose_id: str, t: Annotated[str, Query(max_length=64)] = "") -> Response:
    if len(dose_id) > 60:
        raise NotFound("no such dose")
    return _link_page(page, dose_id, t)


@router.post("/medications/doses/{dose_id}", summary="Mark a dose taken or skipped")
def mark_dose(page: PageDep, dose_id: str, status: Annotated[Literal["taken", "skipped"], Form()],
              t: Annotated[str, Query(max_length=64)] = "",
              patient_id: Annotated[str, Form(max_length=64)] = "") -> Response:
    """From the patient's page (signed in), or from a reminder's signed link (no sign-in, this dose only)."""
    if len(dose_id) > 60:
        raise NotFound("no such dose")
    if t:
        secret = page.request.app.state.keys.token_secret
        _, error = _attempt(page, lambda: doses.mark_by_link(page.session, dose_id=dose_id, token=t, status=status,
                                                             secret=secret, now=page.clock.now()))
        return _link_page(page, dose_id, t, error=error, status_code=409 if error else 200)
    principal, _me = signed_in(page) if page.principal is not None else (None, None)
    if principal is None:
        return page.redirect("/login?next=/medications")
    pid = _pid(patient_id)
    _, error = _attempt(page, lambda: doses.mark(page.session, principal, dose_id=dose_id, status=status,
                                                 now=page.clock.now()))
    if error:
        return _medicines(page, pid, error=error, status_code=409)
    return page.redirect(f"/medications?patient={pid}&done=saved")
