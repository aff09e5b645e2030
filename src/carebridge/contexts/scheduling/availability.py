"""Availability: recurring rules and exceptions (kept by staff), and the slot search anyone signed in may run.

The search reads the matching rules (filtered in SQL by practitioner, facility, specialty, language),
lets the pure engine merge their slots lazily in time order, and asks the database for the booked seat
counts of one batch of candidates at a time, so "the next free slot among 500 practitioners" touches
only the first few batches however wide the date range is.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, time, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import ColumnElement, String, cast, func, or_, select
from sqlalchemy.orm import Session

from carebridge.contexts import audit, facilities, practitioners
from carebridge.contexts.scheduling.models import AvailabilityException, AvailabilityRule, SlotSeat
from carebridge.contexts.scheduling.permissions import bad, require_staff_at
from carebridge.contexts.scheduling.schemas import (
    AvailabilityRuleCreate,
    AvailabilityRuleRead,
    ExceptionCreate,
    ExceptionRead,
    SlotPage,
    SlotRead,
)
from carebridge.engines import slots as engine
from carebridge.engines import specialties
from carebridge.kernel.errors import NotFound
from carebridge.kernel.ids import new_id
from carebridge.kernel.pagination import decode_cursor, encode_cursor
from carebridge.security import Permission, Principal, require

MAX_WINDOW_DAYS = 92
RULE_COLUMNS = (AvailabilityRule.id, AvailabilityRule.practitioner_id, AvailabilityRule.facility_id,
                AvailabilityRule.time_zone, AvailabilityRule.rrule, AvailabilityRule.starts_on, AvailabilityRule.until,
                AvailabilityRule.start_time, AvailabilityRule.end_time, AvailabilityRule.slot_minutes,
                AvailabilityRule.capacity, AvailabilityRule.breaks, AvailabilityRule.kinds,
                AvailabilityRule.practitioner_name, AvailabilityRule.facility_name)
BATCH = 64


def rule_read(r: AvailabilityRule) -> AvailabilityRuleRead:
    return AvailabilityRuleRead(
        id=r.id, practitioner_id=r.practitioner_id, facility_id=r.facility_id, time_zone=r.time_zone, rrule=r.rrule,
        starts_on=r.starts_on, until=r.until, start_time=r.start_time, end_time=r.end_time,
        slot_minutes=r.slot_minutes, capacity=r.capacity, breaks=[engine.Break.model_validate(b) for b in r.breaks],
        kinds=[engine.AppointmentKind(k) for k in r.kinds], active=r.active, created_at=r.created_at,
    )


def to_spec(r: Any) -> engine.RuleSpec:
    """Rows were validated on the way in; constructing without re-validation keeps a 500-rule search fast."""
    return engine.RuleSpec.model_construct(
        id=r.id, practitioner_id=r.practitioner_id, facility_id=r.facility_id, time_zone=r.time_zone, rrule=r.rrule,
        starts_on=r.starts_on, until=r.until, start_time=r.start_time, end_time=r.end_time,
        slot_minutes=r.slot_minutes, capacity=r.capacity,
        breaks=tuple(engine.Break.model_construct(start=time.fromisoformat(str(b["start"])),
                                                  end=time.fromisoformat(str(b["end"]))) for b in r.breaks or ()),
        kinds=tuple(engine.AppointmentKind(k) for k in r.kinds),
    )


def exception_spec(e: AvailabilityException) -> engine.ExceptionSpec:
    return engine.ExceptionSpec.model_construct(practitioner_id=e.practitioner_id, facility_id=e.facility_id,
                                                starts_at=e.starts_at, ends_at=e.ends_at)


def create_rule(session: Session, principal: Principal, *, data: AvailabilityRuleCreate,
                now: datetime) -> AvailabilityRuleRead:
    require_staff_at(session, principal, Permission.schedule_manage, data.facility_id)
    try:
        prac = practitioners.get_practitioner(session, principal, practitioner_id=data.practitioner_id)
    except NotFound as exc:
        raise bad("practitioner_id", "no such practitioner") from exc
    zone = data.time_zone
    if zone is None:
        hours = facilities.get_facility(session, facility_id=data.facility_id).opening_hours
        if hours is None:
            raise bad("time_zone", "the facility has no hours with a zone; give time_zone")
        zone = hours.time_zone
    rule = AvailabilityRule(
        id=new_id(), practitioner_id=data.practitioner_id, facility_id=data.facility_id, time_zone=zone,
        rrule=data.rrule, starts_on=data.starts_on, until=data.until, start_time=data.start_time,
        end_time=data.end_time, slot_minutes=data.slot_minutes, capacity=data.capacity,
        breaks=[b.model_dump(mode="json") for b in data.breaks], kinds=[k.value for k in data.kinds],
        specialties=list(prac.specialties), languages=list(prac.languages), active=True, created_at=now,
        updated_at=now, practitioner_name=f"{prac.given_name} {prac.family_name}"[:200],
        facility_name=facilities.get_facility(session, facility_id=data.facility_id).name[:200],
    )
    session.add(rule)
    session.flush()
    audit.record(session, principal, action="create", resource_type="AvailabilityRule", resource_id=rule.id, at=now)
    return rule_read(rule)


def list_rules(session: Session, principal: Principal, *, practitioner_id: uuid.UUID | None = None,
               facility_id: uuid.UUID | None = None, include_inactive: bool = False) -> list[AvailabilityRuleRead]:
    require(principal, Permission.practitioner_read)
    stmt = select(AvailabilityRule)
    if practitioner_id is not None:
        stmt = stmt.where(AvailabilityRule.practitioner_id == practitioner_id)
    if facility_id is not None:
        stmt = stmt.where(AvailabilityRule.facility_id == facility_id)
    if not include_inactive:
        stmt = stmt.where(AvailabilityRule.active.is_(True))
    stmt = stmt.order_by(AvailabilityRule.created_at, AvailabilityRule.id).limit(500)
    return [rule_read(r) for r in session.scalars(stmt)]


def deactivate_rule(session: Session, principal: Principal, *, rule_id: uuid.UUID, now: datetime) -> None:
    """Booked appointments stay; the rule only stops offering new slots."""
    rule = session.get(AvailabilityRule, rule_id)
    if rule is None:
        raise NotFound("no such availability rule")
    require_staff_at(session, principal, Permission.schedule_manage, rule.facility_id)
    rule.active = False
    rule.updated_at = now
    audit.record(session, principal, action="update", resource_type="AvailabilityRule", resource_id=rule.id,
                 detail={"active": False}, at=now)


def create_exception(session: Session, principal: Principal, *, data: ExceptionCreate,
                     now: datetime) -> ExceptionRead:
    if data.facility_id is not None:
        require_staff_at(session, principal, Permission.schedule_manage, data.facility_id)
    else:
        # leave of a practitioner everywhere: allowed to staff of an organization where a rule of theirs runs
        facility_ids = set(session.scalars(select(AvailabilityRule.facility_id).where(
            AvailabilityRule.practitioner_id == data.practitioner_id)))
        if not facility_ids:
            require(principal, Permission.schedule_manage)
        for fid in facility_ids:
            require_staff_at(session, principal, Permission.schedule_manage, fid)
    row = AvailabilityException(id=new_id(), practitioner_id=data.practitioner_id, facility_id=data.facility_id,
                                starts_at=data.starts_at, ends_at=data.ends_at, reason=data.reason, created_at=now)
    session.add(row)
    session.flush()
    audit.record(session, principal, action="create", resource_type="AvailabilityException", resource_id=row.id,
                 at=now)
    return ExceptionRead(id=row.id, practitioner_id=row.practitioner_id, facility_id=row.facility_id,
                         starts_at=row.starts_at, ends_at=row.ends_at, reason=row.reason)


def _json_has(column: Any, code: str) -> ColumnElement[bool]:
    """Codes are [a-z0-9_-] slugs, so a quoted LIKE on the JSON text is exact on every engine."""
    return cast(column, String).like('%"' + code.replace("_", "\\_") + '"%', escape="\\")


def rules_for(session: Session, *, practitioner_id: uuid.UUID | None = None,
              facility_ids: Sequence[uuid.UUID] | None = None, specialty: str | None = None,
              language: str | None = None, window: engine.Window) -> list[Any]:
    """The active rules that can hold a session in the window, as plain rows (no ORM objects: search is hot)."""
    stmt = select(*RULE_COLUMNS).where(AvailabilityRule.active.is_(True))
    if practitioner_id is not None:
        stmt = stmt.where(AvailabilityRule.practitioner_id == practitioner_id)
    if facility_ids is not None:
        stmt = stmt.where(AvailabilityRule.facility_id.in_(list(facility_ids)))
    if specialty is not None:
        stmt = stmt.where(_json_has(AvailabilityRule.specialties, specialty))
    if language is not None:
        stmt = stmt.where(_json_has(AvailabilityRule.languages, language))
    # a day of slack on both sides: rules run on local dates, the window is in UTC
    first, last = (window.start - timedelta(days=1)).date(), (window.end + timedelta(days=1)).date()
    stmt = stmt.where(AvailabilityRule.starts_on <= last,
                      or_(AvailabilityRule.until.is_(None), AvailabilityRule.until >= first))
    return list(session.execute(stmt.order_by(AvailabilityRule.created_at, AvailabilityRule.id)).all())


def exceptions_for(session: Session, rules: Sequence[Any],
                   window: engine.Window) -> list[engine.ExceptionSpec]:
    if not rules:
        return []
    pids = list({r.practitioner_id for r in rules})
    fids = list({r.facility_id for r in rules})
    stmt = select(AvailabilityException).where(
        AvailabilityException.starts_at < window.end, AvailabilityException.ends_at > window.start,
        or_(AvailabilityException.practitioner_id.is_(None), AvailabilityException.practitioner_id.in_(pids)),
        or_(AvailabilityException.facility_id.is_(None), AvailabilityException.facility_id.in_(fids)),
    )
    return [exception_spec(e) for e in session.scalars(stmt)]


def booked_counts(session: Session, keys: Sequence[engine.SlotKey]) -> dict[engine.SlotKey, int]:
    """Taken seats (appointments and live waitlist holds) per slot key."""
    if not keys:
        return {}
    starts = list({k[1] for k in keys})
    pids = list({k[0] for k in keys})
    rows = session.execute(
        select(SlotSeat.practitioner_id, SlotSeat.start_at, func.count())
        .where(SlotSeat.start_at.in_(starts), SlotSeat.practitioner_id.in_(pids))
        .group_by(SlotSeat.practitioner_id, SlotSeat.start_at)
    )
    return {(pid, start.astimezone(UTC)): int(n) for pid, start, n in rows}


def iter_free(session: Session, candidates: Iterator[engine.Slot], *, include_full: bool = False
              ) -> Iterator[engine.Slot]:
    """Candidates with bookings applied, reading seat counts one batch at a time."""
    while True:
        batch = list(islice(candidates, BATCH))
        if not batch:
            return
        counts = booked_counts(session, [s.key for s in batch])
        yield from engine.apply_bookings(batch, counts, include_full=include_full)


def search_slots(session: Session, principal: Principal, *, start: datetime, end: datetime, now: datetime,
                 practitioner_id: uuid.UUID | None = None, facility_id: uuid.UUID | None = None,
                 specialty: str | None = None, language: str | None = None,
                 near: tuple[float, float, float] | None = None, kind: engine.AppointmentKind | None = None,
                 limit: int = 20, cursor: str | None = None) -> SlotPage:
    """Free slots in time order; `near` = (lat, lng, radius km) keeps facilities the facility search finds."""
    require(principal, Permission.practitioner_read)
    if end - start > timedelta(days=MAX_WINDOW_DAYS):
        raise bad("to", f"the date range may span at most {MAX_WINDOW_DAYS} days", "query")
    if specialty is not None and not specialties.is_known(specialty):
        raise bad("specialty", f"unknown specialty code {specialty!r}; GET /api/v1/specialties lists them", "query")
    start = max(start, now)
    if end <= start:
        return SlotPage(items=[], next_cursor=None)
    window = engine.Window(start=start, end=end)
    distances: dict[uuid.UUID, float] = {}
    facility_ids: list[uuid.UUID] | None = [facility_id] if facility_id is not None else None
    if near is not None:
        found = facilities.search_facilities(session, query=facilities.FacilitySearch(
            lat=near[0], lng=near[1], radius_km=near[2], limit=50, specialty=specialty))
        distances = {hit.facility.id: hit.distance_km for hit in found.items}
        facility_ids = [f for f in distances if facility_id is None or f == facility_id]
    rules = rules_for(session, practitioner_id=practitioner_id, facility_ids=facility_ids, specialty=specialty,
                      language=language, window=window)
    if kind is not None:
        rules = [r for r in rules if kind.value in (r.kinds or [])]
    candidates = engine.candidate_slots([to_spec(r) for r in rules], window, exceptions_for(session, rules, window))
    after = _after(cursor)
    if after is not None:
        candidates = (s for s in candidates if (s.start, str(s.practitioner_id), str(s.facility_id)) > after)
    page = list(islice(iter_free(session, candidates), limit + 1))
    more = len(page) > limit
    page = page[:limit]
    last = page[-1] if page else None
    nxt = encode_cursor([last.start.isoformat(), str(last.practitioner_id), str(last.facility_id)]) \
        if more and last else None
    return SlotPage(items=describe(page, rules, distances), next_cursor=nxt)


def _after(cursor: str | None) -> tuple[datetime, str, str] | None:
    raw = decode_cursor(cursor, arity=3)
    if raw is None:
        return None
    try:
        at = datetime.fromisoformat(str(raw[0]))
        return (at.astimezone(UTC), str(uuid.UUID(str(raw[1]))), str(uuid.UUID(str(raw[2]))))
    except ValueError as exc:
        raise bad("cursor", "malformed", "query") from exc


def describe(found: Sequence[engine.Slot], rules: Sequence[Any],
             distances: dict[uuid.UUID, float] | None = None) -> list[SlotRead]:
    names = {r.id: (r.practitioner_name, r.facility_name) for r in rules}
    return [SlotRead(
        practitioner_id=s.practitioner_id, practitioner_name=names.get(s.rule_id, ("", ""))[0],
        facility_id=s.facility_id, facility_name=names.get(s.rule_id, ("", ""))[1], rule_id=s.rule_id, start=s.start,
        end=s.end, local_date=s.local_date, local_start=s.local_start, time_zone=s.time_zone, capacity=s.capacity,
        free=s.free, kinds=list(s.kinds), distance_km=(distances or {}).get(s.facility_id),
    ) for s in found]


def find_slot(session: Session, *, practitioner_id: uuid.UUID, start: datetime,
              facility_id: uuid.UUID | None = None) -> engine.Slot | None:
    """The slot a booking names, if the rules (minus exceptions) offer it; seats are not looked at here."""
    at = start.astimezone(UTC)
    window = engine.Window(start=at, end=at + timedelta(seconds=1))
    rules = rules_for(session, practitioner_id=practitioner_id,
                      facility_ids=[facility_id] if facility_id is not None else None, window=window)
    specs = [to_spec(r) for r in rules]
    return engine.find_slot(specs, exceptions_for(session, rules, window), practitioner_id, at)

