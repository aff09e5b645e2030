"""Appointment, Schedule and Slot <- the scheduling context (read and search).

A Schedule is one availability rule (a practitioner at a facility, on a recurrence). Slots are not stored:
the context computes them from the rules, so a Slot has a stable id (a UUIDv5 of rule and start) but no
read; search them by `schedule` and `start`. Appointments are searched per patient and paged on (start, id).
Booking stays with `/api/v1/appointments` (it needs a free seat, the waitlist and notifications).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

from carebridge.contexts import scheduling
from carebridge.contexts.scheduling import AppointmentRead, AvailabilityRuleRead, SlotRead
from carebridge.fhir.mappers.common import NONE, Window, by_id, iso, one_code, patient_id, prune, stored, window
from carebridge.fhir.outcome import bad_param
from carebridge.fhir.registry import Context, Found, Mapper, Query, ReferenceParam, SearchParam, SortParam, Stored
from carebridge.fhir.search import collect, uuid_param

STATUS = {"booked": "booked", "checked_in": "arrived", "completed": "fulfilled", "no_show": "noshow",
          "cancelled": "cancelled"}
KIND_SYSTEM = "urn:carebridge:appointment-kind"
SLOT_NS = uuid.UUID("6f1c3a52-8d0e-4a57-9a43-0b6f1e1c5a10")
DEFAULT_SLOT_DAYS = 7


def appointment(a: AppointmentRead) -> Stored:
    body = {"resourceType": "Appointment", "id": str(a.id), "status": STATUS.get(a.status.value, "booked"),
            "appointmentType": {"coding": [{"system": KIND_SYSTEM, "code": a.kind.value}]},
            "description": a.reason or None, "start": iso(a.start), "end": iso(a.end),
            "minutesDuration": int((a.end - a.start).total_seconds() // 60), "created": iso(a.created_at),
            "participant": [
                {"actor": {"reference": f"Patient/{a.patient_id}", "display": a.patient_name}, "status": "accepted"},
                {"actor": {"reference": f"Practitioner/{a.practitioner_id}"}, "status": "accepted"},
                {"actor": {"reference": f"Location/{a.facility_id}"}, "status": "accepted"}],
            "comment": f"video: {a.meeting_link}" if a.meeting_link else None}
    return stored(prune(body), a.created_at, a.created_at)


def read_appointment(ctx: Context, rid: uuid.UUID) -> Stored:
    return appointment(scheduling.get_appointment(ctx.session, ctx.principal, appointment_id=rid, now=ctx.now))


def search_appointments(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    if (found := by_id(ctx, query, read_appointment)) is not None:
        return found
    pid = patient_id(query, "patient")
    status_ok, status = one_code(query, "status", None)
    when = window(query, "date")
    practitioner = None
    if values := query.params.get("practitioner"):
        wanted = {uuid_param("practitioner", v) for v in values}
        if len(wanted) != 1 or None in wanted:
            return NONE
        practitioner = next(iter(wanted))
    ours = next((k for k, v in STATUS.items() if v == status), None) if status else None
    if pid is None or not status_ok or (status and ours is None) or when.empty:
        return NONE
    locations = [f"Location/{v.rpartition('/')[2]}" for v in query.params.get("location", [])]

    def keep(a: AppointmentRead) -> bool:
        return when.keep(a.start) and all(str(a.facility_id) == loc.rpartition("/")[2] for loc in locations)

    def fetch(cur: str | None, limit: int) -> tuple[list[Any], str | None]:
        page = scheduling.find_appointments(ctx.session, ctx.principal, patient_id=pid, now=ctx.now, limit=limit,
                                            cursor=cur, status=ours, practitioner_id=practitioner,
                                            since=when.since, before=when.before)
        return list(page.items), page.next_cursor

    return collect(fetch, keep, appointment, count, cursor, filtered=bool(when.holes or locations))


APPOINTMENT = Mapper(
    type="Appointment", documentation="Booked clinic visits and teleconsultations, per patient.",
    search_params=(SearchParam("_id", "token", "The appointment's id."),
                   SearchParam("patient", "reference", "Patient/<id>: required."),
                   SearchParam("practitioner", "reference", "Practitioner/<id>."),
                   SearchParam("location", "reference", "Location/<id> (the facility)."),
                   SearchParam("status", "token", "booked | arrived | fulfilled | noshow | cancelled."),
                   SearchParam("date", "date", "Start time; eq, ne, gt, lt, ge, le, sa, eb.")),
    search=search_appointments, read=read_appointment, patient_param="patient",
    references=(ReferenceParam("patient", ("Patient",), "participant.actor"),
                ReferenceParam("practitioner", ("Practitioner",), "participant.actor"),
                ReferenceParam("location", ("Location",), "participant.actor")),
    sort_params=(SortParam("date", lambda b: b.get("start")),),
    not_kept=("(read only; book through /api/v1/appointments) cancelation reason, the care request, "
              "reschedule history, contact details, queue token",))


# --- Schedule and Slot ----------------------------------------------------------------------------------------


def schedule(r: AvailabilityRuleRead) -> Stored:
    hours = f"{r.start_time.isoformat('minutes')}-{r.end_time.isoformat('minutes')} {r.time_zone}"
    body = {"resourceType": "Schedule", "id": str(r.id), "active": r.active,
            "serviceType": [{"coding": [{"system": KIND_SYSTEM, "code": k.value}]} for k in r.kinds] or None,
            "actor": [{"reference": f"Practitioner/{r.practitioner_id}"}, {"reference": f"Location/{r.facility_id}"}],
            "planningHorizon": prune({"start": r.starts_on.isoformat(),
                                      "end": r.until.isoformat() if r.until else None}),
            "comment": f"{r.rrule}; {hours}; {r.slot_minutes}-minute slots, {r.capacity} per slot"}
    return stored(prune(body), r.created_at, r.created_at)


def read_schedule(ctx: Context, rid: uuid.UUID) -> Stored:
    return schedule(scheduling.get_rule(ctx.session, ctx.principal, rule_id=rid))


def _one_id(query: Query, name: str) -> tuple[bool, uuid.UUID | None]:
    values = query.params.get(name, [])
    if not values:
        return True, None
    wanted = {uuid_param(name, v) for v in values}
    if len(wanted) != 1 or None in wanted:
        return False, None
    return True, next(iter(wanted))


def search_schedules(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    if (found := by_id(ctx, query, read_schedule)) is not None:
        return found
    ok_p, practitioner = _one_id(query, "actor")
    if not ok_p:
        return NONE
    rules = scheduling.list_rules(ctx.session, ctx.principal, practitioner_id=practitioner)
    if practitioner is None and query.params.get("actor"):
        return NONE
    active = query.one("active")
    when = window(query, "date")
    kinds = [v.rpartition("|")[2] for v in query.params.get("service-type", [])]
    rows = [r for r in rules if (active is None or str(r.active).lower() == active.lower())
            and all(k in {x.value for x in r.kinds} for k in kinds) and _horizon_meets(r, when)]
    return Found(items=[schedule(r) for r in rows[:count]], next_cursor=None)


def _horizon_meets(r: AvailabilityRuleRead, when: Window) -> bool:
    """`date`: the planning horizon [starts_on, until] overlaps the searched range."""
    start = datetime.combine(r.starts_on, time(0), tzinfo=UTC)
    end = datetime.combine(r.until, time(0), tzinfo=UTC) + timedelta(days=1) if r.until else None
    return ((when.before is None or start < when.before) and (when.since is None or end is None or end > when.since)
            and not when.empty)


SCHEDULE = Mapper(
    type="Schedule", documentation="Availability rules: a practitioner at a facility on a recurrence.",
    search_params=(SearchParam("_id", "token", "The rule's id."),
                   SearchParam("actor", "reference", "Practitioner/<id>."),
                   SearchParam("active", "token", "true | false."),
                   SearchParam("date", "date", "The planning horizon overlaps: ge, gt, le, lt, eq, sa, eb."),
                   SearchParam("service-type", "token", "in_person | teleconsultation | … (the kinds offered).")),
    search=search_schedules, read=read_schedule,
    references=(ReferenceParam("actor", ("Practitioner", "Location"), "actor"),),
    not_kept=("(read only; managed through /api/v1/availability) breaks, exceptions, specialties, languages",))


def slot(s: SlotRead) -> Stored:
    sid = uuid.uuid5(SLOT_NS, f"{s.rule_id}|{s.start.isoformat()}")
    body = {"resourceType": "Slot", "id": str(sid), "schedule": {"reference": f"Schedule/{s.rule_id}"},
            "status": "free" if s.free > 0 else "busy", "start": iso(s.start), "end": iso(s.end),
            "serviceType": [{"coding": [{"system": KIND_SYSTEM, "code": k.value}]} for k in s.kinds] or None,
            "comment": f"{s.free} of {s.capacity} free at {s.facility_name} with {s.practitioner_name}"}
    return stored(prune(body), s.start, s.start)


def search_slots(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    ok, rule_id = _one_id(query, "schedule")
    if not ok:
        return NONE
    if rule_id is None:
        raise bad_param("schedule", "Slot search needs schedule (Schedule/<id>)")
    rule = scheduling.get_rule(ctx.session, ctx.principal, rule_id=rule_id)
    when = window(query, "start")
    start = when.since or ctx.now
    end = when.before or start + timedelta(days=DEFAULT_SLOT_DAYS)
    if end <= start:
        return NONE
    status = query.one("status")
    if status not in (None, "free"):
        return NONE  # only free slots are listed

    def fetch(cur: str | None, limit: int) -> tuple[list[Any], str | None]:
        page = scheduling.search_slots(ctx.session, ctx.principal, start=start, end=end, now=ctx.now,
                                       practitioner_id=rule.practitioner_id, facility_id=rule.facility_id,
                                       limit=limit, cursor=cur)
        return list(page.items), page.next_cursor

    kinds = [v.rpartition("|")[2] for v in query.params.get("service-type", [])]

    def keep(s: SlotRead) -> bool:
        return s.rule_id == rule_id and when.keep(s.start) and all(k in {x.value for x in s.kinds} for k in kinds)

    return collect(fetch, keep, slot, count, cursor, filtered=True)


SLOT = Mapper(
    type="Slot", documentation="Free bookable slots computed from a Schedule (search only).",
    search_params=(SearchParam("schedule", "reference", "Schedule/<id>: required."),
                   SearchParam("start", "date", "Slot start; ge/gt/le/lt/eq (default: the next 7 days, at most 92)."),
                   SearchParam("status", "token", "free (only free slots are listed)."),
                   SearchParam("service-type", "token", "in_person | teleconsultation | … (tested on each page).")),
    search=search_slots, references=(ReferenceParam("schedule", ("Schedule",), "schedule"),),
    not_kept=("(computed, search only) busy slots, overbooked",))
