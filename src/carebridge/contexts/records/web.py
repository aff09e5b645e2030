"""Record pages (no JavaScript): the patient timeline, the clinician's encounter note, and the printable
health summary (HTML with print CSS, and a PDF).

The pages call the same services as the JSON API, so the policy, the audit trail and the closed-encounter
lock are the same. A refused or invalid form comes back as a translated message on the page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Final
from urllib.parse import urlencode

from fastapi import Form, Query
from fastapi.responses import Response
from pydantic import ValidationError

from carebridge.contexts import prescribing
from carebridge.contexts.records import entries, service, summary, timeline
from carebridge.contexts.records.schemas import ConditionCreate, EncounterClose, EncounterCreate, ObservationCreate
from carebridge.contexts.records.terminology import CodeSystem, lookup, search
from carebridge.contexts.records.vocab import ConditionCategory, EncounterClass, RecordKind
from carebridge.kernel.errors import NotFound
from carebridge.security import Permission, has_permission
from carebridge.web.i18n import N_
from carebridge.web.render import SignedInPageDep, page_router, parse_uuid, signed_in

TEMPLATE_DIR: Final = Path(__file__).resolve().parent / "templates"
PAGE_SIZE: Final = 50
router = page_router()

KIND_LABELS: Final = {
    "encounter": N_("Visit"),
    "condition": N_("Condition"),
    "allergy": N_("Allergy"),
    "observation": N_("Measurement"),
    "immunization": N_("Vaccination"),
    "care_plan": N_("Care plan"),
    "discharge_summary": N_("Discharge summary"),
}
CLASS_LABELS: Final = {
    "AMB": N_("Clinic visit"),
    "VR": N_("Teleconsultation"),
    "IMP": N_("Admission"),
    "HH": N_("Home visit"),
}
SECTION_TITLES: Final = {
    "Active problems": N_("Active problems"),
    "Allergies and intolerances": N_("Allergies and intolerances"),
    "Latest measurements": N_("Latest measurements"),
    "Vaccinations": N_("Vaccinations"),
    "Recent visits": N_("Recent visits"),
    "Care plans": N_("Care plans"),
}
Text = Annotated[str, Form(max_length=20000)]
Short = Annotated[str, Form(max_length=500)]


def _day(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value[:10]).replace(tzinfo=UTC)
    except ValueError:
        return None


@router.get("/my-record", summary="The signed-in patient's own timeline")
def my_record(page: SignedInPageDep) -> Response:
    principal, _me = signed_in(page)
    if principal.patient_id is None:
        return page.redirect("/dashboard")
    return page.redirect(f"/record/{principal.patient_id}")


@router.get("/record/{patient_id}", summary="A patient's timeline")
def timeline_page(page: SignedInPageDep, patient_id: str,
                  kind: Annotated[str | None, Query(max_length=32)] = None,
                  from_: Annotated[str | None, Query(alias="from", max_length=10)] = None,
                  to: Annotated[str | None, Query(max_length=10)] = None,
                  cursor: Annotated[str | None, Query(max_length=512)] = None) -> Response:
    principal, _me = signed_in(page)
    pid = parse_uuid(patient_id)
    if pid is None:
        raise NotFound("no such patient")
    kinds = [RecordKind(kind)] if kind is not None and kind in set(RecordKind) else []
    start, end = _day(from_), _day(to)
    result = timeline.get_timeline(page.session, principal, patient_id=pid, now=page.clock.now(), limit=PAGE_SIZE,
                                   cursor=cursor, kinds=kinds, from_=start, to=end)
    query = {k: v for k, v in (("kind", kind if kinds else None), ("from", from_ if start else None),
                               ("to", to if end else None)) if v}
    more = f"/record/{pid}?" + urlencode({**query, "cursor": result.next_cursor}) if result.next_cursor else None
    rx = prescribing.chart_alerts(page.session, principal, patient_id=pid, now=page.clock.now())
    return page.render("records/timeline.html", patient_id=pid, items=result.items, kinds=KIND_LABELS,
                       kind=kind if kinds else "", from_=from_ if start else "", to=to if end else "",
                       more_url=more, may_write=principal.is_staff, rx=rx,
                       may_break_glass=has_permission(principal.role, Permission.break_glass))


def _note_form(page: SignedInPageDep, patient_id: str, *, errors: list[str] | None = None,
               values: dict[str, str] | None = None, status_code: int = 200, q: str = "") -> Response:
    found = search(CodeSystem.icd10, q, limit=10) if q.strip() else []
    return page.render("records/encounter_form.html", status_code=status_code, patient_id=patient_id,
                       classes=CLASS_LABELS, errors=errors or [], values=values or {}, q=q, found=found)


@router.get("/record/{patient_id}/note", summary="Write an encounter note (with a code finder that needs no script)")
def note_page(page: SignedInPageDep, patient_id: str,
              q: Annotated[str | None, Query(max_length=100)] = None) -> Response:
    signed_in(page)
    if parse_uuid(patient_id) is None:
        raise NotFound("no such patient")
    return _note_form(page, patient_id, q=q or "")


@router.post("/record/{patient_id}/note", summary="Save an encounter note")
def note_submit(page: SignedInPageDep, patient_id: str, encounter_class: Annotated[str, Form(max_length=4)] = "AMB",
                reason: Short = "", subjective: Text = "", objective: Text = "", assessment: Text = "",
                plan: Text = "", diagnosis: Annotated[str, Form(max_length=8)] = "",
                heart_rate: Annotated[str, Form(max_length=8)] = "",
                temperature: Annotated[str, Form(max_length=8)] = "",
                close: Annotated[str, Form(max_length=2)] = "") -> Response:
    principal, _me = signed_in(page)
    pid = parse_uuid(patient_id)
    if pid is None:
        raise NotFound("no such patient")
    values = {"encounter_class": encounter_class, "reason": reason, "subjective": subjective,
              "objective": objective, "assessment": assessment, "plan": plan, "diagnosis": diagnosis,
              "heart_rate": heart_rate, "temperature": temperature}
    now = page.clock.now()
    try:
        data = EncounterCreate(encounter_class=EncounterClass(encounter_class) if encounter_class in
                               CLASS_LABELS else EncounterClass.AMB, start_at=now, reason=reason,
                               subjective=subjective, objective=objective, assessment=assessment, plan=plan)
        vitals = [ObservationCreate(code=code, value=float(raw), effective_at=now)
                  for code, raw in (("8867-4", heart_rate), ("8310-5", temperature)) if raw.strip()]
        dx = ConditionCreate(code=diagnosis, category=ConditionCategory.encounter_diagnosis) if diagnosis else None
        if dx is not None and lookup(CodeSystem.icd10, dx.code.split(".")[0]) is None:
            raise ValueError("unknown ICD-10 code")
    except (ValidationError, ValueError):
        return _note_form(page, patient_id, errors=[page._(N_("Check the diagnosis code and the numbers."))],
                          values=values, status_code=422)
    # everything was checked above, so a Problem from here on (403, 404, 409) is an error page, not a form message
    enc = service.open_encounter(page.session, principal, patient_id=pid, data=data, now=now)
    for obs in vitals:
        entries.add_observation(page.session, principal, patient_id=pid, now=now,
                                data=obs.model_copy(update={"encounter_id": enc.id}))
    if dx is not None:
        entries.add_condition(page.session, principal, patient_id=pid, now=now,
                              data=dx.model_copy(update={"encounter_id": enc.id}))
    if close:
        service.close_encounter(page.session, principal, patient_id=pid, encounter_id=enc.id,
                                data=EncounterClose(), now=now)
    return page.redirect(f"/record/{pid}?done=saved")


@router.get("/record/{patient_id}/summary", summary="Printable health summary")
def summary_page(page: SignedInPageDep, patient_id: str) -> Response:
    principal, _me = signed_in(page)
    pid = parse_uuid(patient_id)
    if pid is None:
        raise NotFound("no such patient")
    data = summary.health_summary(page.session, principal, patient_id=pid, now=page.clock.now())
    sections = [(SECTION_TITLES[title], getattr(data, attr)) for title, attr in summary.SECTIONS]
    return page.render("records/summary.html", summary=data, sections=sections)


@router.get("/record/{patient_id}/summary.pdf", summary="Health summary as PDF")
def summary_pdf(page: SignedInPageDep, patient_id: str) -> Response:
    principal, _me = signed_in(page)
    pid = parse_uuid(patient_id)
    if pid is None:
        raise NotFound("no such patient")
    data = summary.health_summary(page.session, principal, patient_id=pid, now=page.clock.now())
    response = Response(summary.summary_pdf(data), media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="health-summary-{pid}.pdf"',
                                 "Cache-Control": "no-store"})
    page.finish(response)
    return response
