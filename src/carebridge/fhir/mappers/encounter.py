"""Encounter and CarePlan <-> the records context's encounters (with their SOAP note) and care plans.

A finished Encounter is created by opening it and closing it at `period.end` in the same transaction, so the
record's rule (a closed encounter's entries are read-only) holds for imported history too. A participant,
location or organization that is not stored here is dropped rather than failing the whole resource.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time
from typing import Any, cast

from carebridge.contexts import facilities, practitioners, records
from carebridge.contexts.records import (
    CarePlanCreate,
    CarePlanRead,
    EncounterClose,
    EncounterCreate,
    EncounterRead,
    RecordKind,
)
from carebridge.fhir.mappers.clinical import add_keeping, ref_test, validated
from carebridge.fhir.mappers.common import (
    NONE,
    by_id,
    day,
    day_test,
    instant,
    iso,
    one_code,
    optional_id,
    patient_id,
    prune,
    ref,
    stored,
    subject_id,
    text_of,
    unknown_code,
    window,
)
from carebridge.fhir.outcome import FhirError
from carebridge.fhir.registry import Context, Found, Mapper, Query, ReferenceParam, SearchParam, SortParam, Stored
from carebridge.fhir.search import collect, uuid_param
from carebridge.fhir.validate import check

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CLASSES = ("AMB", "VR", "IMP", "HH")


def encounter(e: EncounterRead) -> Stored:
    body: dict[str, Any] = {
        "resourceType": "Encounter", "id": str(e.id), "status": e.status.value,
        "class": {"system": ACT_CODE, "code": e.encounter_class.value},
        "subject": ref("Patient", e.patient_id),
        "participant": [{"individual": ref("Practitioner", e.practitioner_id)}] if e.practitioner_id else None,
        "appointment": [ref("Appointment", e.appointment_id)] if e.appointment_id else None,
        "period": prune({"start": iso(e.start_at), "end": iso(e.end_at) if e.end_at else None}),
        "reasonCode": [{"text": e.reason}] if e.reason else None,
        "diagnosis": [{"condition": ref("Condition", d.id)} for d in e.diagnoses] or None,
        "location": [{"location": ref("Location", e.facility_id)}] if e.facility_id else None,
        "serviceProvider": ref("Organization", e.organization_id),
    }
    return stored(prune(body), e.updated_at, e.closed_at or e.start_at)


def read_encounter(ctx: Context, rid: uuid.UUID) -> Stored:
    return encounter(cast(EncounterRead, records.get_entry(ctx.session, ctx.principal, kind=RecordKind.encounter,
                                                           record_id=rid, now=ctx.now)))


def search_encounters(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    if (found := by_id(ctx, query, read_encounter)) is not None:
        return found
    pid = patient_id(query, "patient", "subject")
    status_ok, status = one_code(query, "status", None)
    class_ok, klass = one_code(query, "class", ACT_CODE)
    when = window(query, "date")
    practitioner: uuid.UUID | None = None
    values = query.params.get("practitioner", []) + query.params.get("participant", [])
    if values:
        wanted = {uuid_param("practitioner", v) for v in values}
        if len(wanted) != 1 or None in wanted:
            return NONE
        practitioner = next(iter(wanted))
    if pid is None or not (status_ok and class_ok) or when.empty:
        return NONE
    tests = [ref_test("serviceProvider", f"Organization/{v.rpartition('/')[2]}")
             for v in query.params.get("service-provider", [])]
    if when.holes:
        tests.append(lambda s: when.keep(instant(s.body["period"].get("start"), "Encounter", "period.start")))

    def fetch(cur: str | None, limit: int) -> tuple[list[Any], str | None]:
        page = records.find_encounters(ctx.session, ctx.principal, patient_id=pid, now=ctx.now, limit=limit,
                                       cursor=cur, status=status, encounter_class=klass,
                                       practitioner_id=practitioner, since=when.since, before=when.before)
        return list(page.items), page.next_cursor

    return collect(fetch, lambda r: all(t(encounter(r)) for t in tests), encounter, count, cursor,
                   filtered=bool(tests))


def _known(ctx: Context, kind: str, rid: uuid.UUID | None) -> uuid.UUID | None:
    """The id if that practitioner or facility is stored here (the record's foreign keys need it)."""
    if rid is None:
        return None
    if kind == "Practitioner":
        found = practitioners.practitioner_exists(ctx.session, ctx.principal, practitioner_id=rid)
    else:
        found = facilities.facility_exists(ctx.session, facility_id=rid)
    return rid if found else None


def create_encounter(ctx: Context, body: dict[str, Any], resource_id: uuid.UUID | None,
                     if_match: str | None) -> Stored:
    check("Encounter", body)
    pid = subject_id(body, "subject", "Encounter")
    klass = str((body.get("class") or {}).get("code") or "")
    if klass not in CLASSES:
        raise unknown_code("Encounter", "class", f"class {klass[:20]!r} is not kept; one of {', '.join(CLASSES)}")
    status = body.get("status")
    if status not in ("in-progress", "finished", "arrived", "triaged", "onleave"):
        raise FhirError(422, f"status {str(status)[:20]!r} cannot be kept: only in-progress and finished encounters "
                        "are recorded", code="value", expression=["Encounter.status"])
    period = body.get("period") or {}
    start = instant(period.get("start"), "Encounter", "period.start")
    if start is None:
        raise FhirError(422, "an encounter needs period.start", code="required", expression=["Encounter.period"])
    end = instant(period.get("end"), "Encounter", "period.end")
    participants = [optional_id(p, "individual", "Practitioner") for p in body.get("participant") or []]
    practitioner = next((p for p in (_known(ctx, "Practitioner", p) for p in participants) if p), None)
    facility = next((f for f in (_known(ctx, "Location", optional_id(loc, "location", "Location"))
                                 for loc in body.get("location") or []) if f), None)
    reason = "; ".join(filter(None, (text_of(r) for r in body.get("reasonCode") or [])))
    if not reason:
        reason = "; ".join(filter(None, (text_of(t) for t in body.get("type") or [])))
    data = validated(EncounterCreate, {"encounter_class": klass, "start_at": start, "practitioner_id": practitioner,
                                        "facility_id": facility, "reason": reason[:500]},
                      "Encounter", {"start_at": "period.start", "reason": "reasonCode"})
    if status != "finished":
        return encounter(records.open_encounter(ctx.session, ctx.principal, patient_id=pid, data=data, now=ctx.now))
    close = validated(EncounterClose, {"end_at": end or start}, "Encounter", {"end_at": "period.end"})
    return encounter(records.record_finished_encounter(ctx.session, ctx.principal, patient_id=pid, data=data,
                                                       end_at=close.end_at or start, now=ctx.now))


ENCOUNTER = Mapper(
    type="Encounter", documentation="Visits, teleconsultations, admissions and home visits, per patient.",
    search_params=(SearchParam("_id", "token", "The encounter's id."),
                   SearchParam("patient", "reference", "Patient/<id>: required (or subject)."),
                   SearchParam("subject", "reference", "Patient/<id>."),
                   SearchParam("status", "token", "in-progress | finished."),
                   SearchParam("class", "token", "AMB | VR | IMP | HH (v3-ActCode)."),
                   SearchParam("date", "date", "Start time; eq, ne, gt, lt, ge, le, sa, eb."),
                   SearchParam("practitioner", "reference", "Practitioner/<id>."),
                   SearchParam("participant", "reference", "Practitioner/<id>."),
                   SearchParam("service-provider", "reference", "Organization/<id>.")),
    search=search_encounters, read=read_encounter, create=create_encounter, patient_param="patient",
    references=(ReferenceParam("patient", ("Patient",), "subject"), ReferenceParam("subject", ("Patient",), "subject"),
                ReferenceParam("practitioner", ("Practitioner",), "participant.individual"),
                ReferenceParam("participant", ("Practitioner",), "participant.individual"),
                ReferenceParam("service-provider", ("Organization",), "serviceProvider")),
    sort_params=(SortParam("date", lambda b: (b.get("period") or {}).get("start")),),
    not_kept=("text", "identifier", "statusHistory", "classHistory", "type (its text becomes the reason when there "
              "is no reasonCode)", "serviceType", "priority", "participant beyond the first stored practitioner",
              "participant.type/period", "basedOn", "episodeOfCare", "length", "reasonReference", "diagnosis (read "
              "from the conditions recorded during it)", "account", "hospitalization", "location beyond the first "
              "stored facility", "serviceProvider (the creator's organization)", "partOf", "appointment on create",
              "the SOAP note (subjective/objective/assessment/plan)"))


# --- CarePlan -------------------------------------------------------------------------------------------------

_ACTIVITY = {"not-started": "not-started", "scheduled": "scheduled", "in-progress": "in-progress",
             "completed": "completed", "cancelled": "cancelled", "stopped": "cancelled", "on-hold": "scheduled"}
_GOAL = {"proposed": "proposed", "planned": "proposed", "accepted": "active", "active": "active",
         "on-hold": "active", "completed": "achieved", "cancelled": "cancelled", "rejected": "cancelled"}


def care_plan(c: CarePlanRead) -> Stored:
    goals = [prune({"resourceType": "Goal", "id": f"goal{n}", "lifecycleStatus": _goal_status(g.get("status")),
                    "description": {"text": g.get("description")}, "subject": ref("Patient", c.patient_id),
                    "target": [{"dueDate": g["target_date"]}] if g.get("target_date") else None})
             for n, g in enumerate(c.goals, 1)]
    body = {"resourceType": "CarePlan", "id": str(c.id), "status": c.status.value, "intent": c.intent.value,
            "title": c.title, "description": c.description or None, "subject": ref("Patient", c.patient_id),
            "encounter": ref("Encounter", c.encounter_id),
            "period": prune({"start": c.period_start.isoformat(),
                             "end": c.period_end.isoformat() if c.period_end else None}),
            "contained": goals or None, "goal": [{"reference": f"#{g['id']}"} for g in goals] or None,
            "activity": [{"detail": {"status": a.get("status", "not-started"), "description": a.get("description")}}
                         for a in c.activities] or None,
            "note": [prune({"text": n.text, "time": iso(n.at)}) for n in c.notes] or None}
    return stored(prune(body), c.updated_at, datetime.combine(c.period_start, time(12), tzinfo=UTC))


def _goal_status(status: Any) -> str:
    return {"achieved": "completed", "active": "active", "proposed": "proposed", "cancelled": "cancelled"}.get(
        str(status), "active")


def read_care_plan(ctx: Context, rid: uuid.UUID) -> Stored:
    return care_plan(cast(CarePlanRead, records.get_entry(ctx.session, ctx.principal, kind=RecordKind.care_plan,
                                                          record_id=rid, now=ctx.now)))


def search_care_plans(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    if (found := by_id(ctx, query, read_care_plan)) is not None:
        return found
    pid = patient_id(query, "patient", "subject")
    status_ok, status = one_code(query, "status", None)
    intent_ok, intent = one_code(query, "intent", None)
    when = window(query, "date")
    if pid is None or not (status_ok and intent_ok) or when.empty:
        return NONE
    since, before = when.days()
    tests = [ref_test("encounter", f"Encounter/{v.rpartition('/')[2]}") for v in query.params.get("encounter", [])]
    if when.holes:
        keep_day = day_test(when)
        tests.append(lambda s: keep_day(day(s.body["period"]["start"], "CarePlan", "period.start")))

    def fetch(cur: str | None, limit: int) -> tuple[list[Any], str | None]:
        page = records.find_care_plans(ctx.session, ctx.principal, patient_id=pid, now=ctx.now, limit=limit,
                                       cursor=cur, status=status, intent=intent, since=since, before=before)
        return list(page.items), page.next_cursor

    return collect(fetch, lambda r: all(t(care_plan(r)) for t in tests), care_plan, count, cursor,
                   filtered=bool(tests))


def create_care_plan(ctx: Context, body: dict[str, Any], resource_id: uuid.UUID | None,
                     if_match: str | None) -> Stored:
    check("CarePlan", body)
    pid = subject_id(body, "subject", "CarePlan")
    start = day((body.get("period") or {}).get("start"), "CarePlan", "period.start")
    if start is None:
        raise FhirError(422, "a care plan needs period.start", code="required", expression=["CarePlan.period"])
    title = body.get("title") or text_of(body.get("category")) or "Care plan"
    contained = {f"#{r.get('id')}": r for r in body.get("contained") or [] if r.get("resourceType") == "Goal"}
    goals = []
    for g in body.get("goal") or []:
        goal = contained.get(str(g.get("reference")))
        if goal and text_of(goal.get("description")):
            goals.append({"description": str(text_of(goal.get("description")))[:200],
                          "status": _GOAL.get(str(goal.get("lifecycleStatus")), "active")})
    activities = []
    for a in body.get("activity") or []:
        detail = a.get("detail") or {}
        words = detail.get("description") or text_of(detail.get("code"))
        if words:
            activities.append({"description": str(words)[:200],
                               "status": _ACTIVITY.get(str(detail.get("status")), "not-started")})
    fields = {"title": str(title)[:200], "status": body.get("status"), "intent": body.get("intent"),
              "description": str(body.get("description") or "")[:4000], "period_start": start,
              "period_end": day((body.get("period") or {}).get("end"), "CarePlan", "period.end"),
              "goals": goals[:30], "activities": activities[:50],
              "encounter_id": optional_id(body, "encounter", "Encounter")}
    data = validated(CarePlanCreate, fields, "CarePlan", {"period_start": "period.start", "period_end": "period.end"})
    return care_plan(add_keeping(lambda d: records.add_care_plan(ctx.session, ctx.principal, patient_id=pid, data=d,
                                                                 now=ctx.now), data))


CARE_PLAN = Mapper(
    type="CarePlan", documentation="Care plans with goals (as contained Goals) and activities, per patient.",
    search_params=(SearchParam("_id", "token", "The care plan's id."),
                   SearchParam("patient", "reference", "Patient/<id>: required (or subject)."),
                   SearchParam("subject", "reference", "Patient/<id>."),
                   SearchParam("status", "token", "draft | active | on-hold | revoked | completed."),
                   SearchParam("intent", "token", "proposal | plan | order."),
                   SearchParam("date", "date", "Period start; eq, ne, gt, lt, ge, le, sa, eb."),
                   SearchParam("encounter", "reference", "Encounter/<id>.")),
    search=search_care_plans, read=read_care_plan, create=create_care_plan, patient_param="patient",
    references=(ReferenceParam("patient", ("Patient",), "subject"), ReferenceParam("subject", ("Patient",), "subject"),
                ReferenceParam("encounter", ("Encounter",), "encounter")),
    not_kept=("text", "identifier", "instantiates*", "basedOn", "replaces", "partOf", "category (its text becomes "
              "the title when there is none)", "author", "contributor", "careTeam", "addresses", "supportingInfo",
              "goal references other than contained Goals", "activity.reference/outcome*/progress",
              "activity.detail other than description (or code text) and status", "note on create",
              "encounter, when that encounter is finished"))
