"""Bookable slots from recurring availability: rules + exceptions + bookings + a window -> slots. Pure.

Rules (RFC 5545 section 3.3.10 recurrence, evaluated with python-dateutil's `rrulestr`):

* A rule's recurrence runs on *local dates* in the rule's IANA zone: `FREQ=WEEKLY;BYDAY=MO,WE` means
  Mondays and Wednesdays on the clinic's wall calendar, and the day's sessions (`start_time`-`end_time`,
  cut into `slot_minutes` pieces, minus breaks) are wall-clock times of that local date, converted to
  UTC with `zoneinfo`. A slot therefore always belongs to the local date it was generated for: it can
  never appear on a neighbouring day, whatever the UTC offset (Asia/Kolkata is +05:30).
* Daylight-saving changes (e.g. America/New_York, second Sunday of March / first Sunday of November):
  a wall-clock start that does not exist (the skipped spring hour) yields no slot, and a start in the
  repeated autumn hour yields exactly one slot, at its first occurrence (fold=0). A clinic open
  09:00-17:00 is open 09:00-17:00 local on both sides of a change; no slot is duplicated or shifted.
* A slot lasts `slot_minutes` of real time from its start. Breaks are wall-clock ranges; a slot that
  overlaps a break is not offered. A slot must end by `end_time` (wall clock).
* An exception (leave, holiday) is a UTC interval for one practitioner, one facility, or both; any slot
  overlapping it is removed. Exceptions win over rules.
* `capacity` is the number of seats per slot (1 for a consultation, more for a group session or an OPD
  token block); a slot is offered while bookings < capacity.

Slots come out in (start, practitioner id, facility id) order, lazily, so "the next 20 free slots among
500 practitioners" reads only as far as it must.
"""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule, rruleset, rrulestr
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_SLOTS_PER_DAY = 200
MAX_BREAKS = 8
MAX_RRULE_LENGTH = 300


class AppointmentKind(StrEnum):
    in_person = "in_person"
    teleconsultation = "teleconsultation"
    home_visit = "home_visit"


SlotKey = tuple[uuid.UUID, datetime]
"""(practitioner id, UTC start): one practitioner cannot be in two slots that start together."""


class Break(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: time
    end: time

    @model_validator(mode="after")
    def _ordered(self) -> Break:
        if self.end <= self.start:
            raise ValueError("a break must end after it starts")
        return self


class RuleSpec(BaseModel):
    """One recurring availability block of a practitioner at a facility."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    practitioner_id: uuid.UUID
    facility_id: uuid.UUID
    time_zone: str = Field(max_length=64)
    rrule: str = Field(min_length=6, max_length=MAX_RRULE_LENGTH, description="RFC 5545 RRULE value, e.g. "
                       "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR")
    starts_on: date
    until: date | None = None
    start_time: time
    end_time: time
    slot_minutes: int = Field(ge=5, le=480)
    capacity: int = Field(1, ge=1, le=500)
    breaks: tuple[Break, ...] = Field((), max_length=MAX_BREAKS)
    kinds: tuple[AppointmentKind, ...] = Field((AppointmentKind.in_person,), min_length=1, max_length=3)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone_of(value)
        return value

    @field_validator("rrule")
    @classmethod
    def _rrule(cls, value: str) -> str:
        check_rrule(value)
        return value

    @model_validator(mode="after")
    def _times(self) -> RuleSpec:
        check_session(self.start_time, self.end_time, self.slot_minutes, self.starts_on, self.until)
        return self


def check_session(start_time: time, end_time: time, slot_minutes: int, starts_on: date, until: date | None) -> None:
    """ValueError unless the session fits in one day, holds a slot, and its dates run forwards."""
    if end_time <= start_time:
        raise ValueError("end_time must be after start_time (a session does not run past midnight)")
    if until is not None and until < starts_on:
        raise ValueError("until must not be before starts_on")
    if _minutes(end_time) - _minutes(start_time) < slot_minutes:
        raise ValueError("the session is shorter than one slot")


class ExceptionSpec(BaseModel):
    """Time off: for a practitioner (leave), a facility (holiday), or a practitioner at one facility."""

    model_config = ConfigDict(frozen=True)

    practitioner_id: uuid.UUID | None = None
    facility_id: uuid.UUID | None = None
    starts_at: datetime
    ends_at: datetime

    @model_validator(mode="after")
    def _valid(self) -> ExceptionSpec:
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("exception times need a UTC offset")
        if self.ends_at <= self.starts_at:
            raise ValueError("an exception must end after it starts")
        if self.practitioner_id is None and self.facility_id is None:
            raise ValueError("an exception names a practitioner, a facility, or both")
        return self

    def covers(self, practitioner_id: uuid.UUID, facility_id: uuid.UUID, start: datetime, end: datetime) -> bool:
        if self.practitioner_id is not None and self.practitioner_id != practitioner_id:
            return False
        if self.facility_id is not None and self.facility_id != facility_id:
            return False
        return self.starts_at < end and start < self.ends_at


class Slot(BaseModel):
    model_config = ConfigDict(frozen=True)

    rule_id: uuid.UUID
    practitioner_id: uuid.UUID
    facility_id: uuid.UUID
    start: datetime = Field(description="UTC.")
    end: datetime = Field(description="UTC.")
    local_date: date = Field(description="The date on the clinic's wall calendar.")
    local_start: time
    time_zone: str
    capacity: int
    booked: int = 0
    kinds: tuple[AppointmentKind, ...]

    @property
    def key(self) -> SlotKey:
        return (self.practitioner_id, self.start)

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.booked)


class Window(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime

    @model_validator(mode="after")
    def _valid(self) -> Window:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds need a UTC offset")
        if self.end <= self.start:
            raise ValueError("the window must end after it starts")
        return self


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


@lru_cache(maxsize=512)
def zone_of(name: str) -> ZoneInfo:
    """The zone, or ValueError naming it (unknown zones are a user error, not a crash)."""
    if not name or len(name) > 64 or name.startswith("/") or ".." in name:
        raise ValueError(f"unknown time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


_ALLOWED_PARTS = frozenset({"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS",
                            "BYWEEKNO", "BYYEARDAY", "WKST"})
_DAILY_OR_COARSER = frozenset({"DAILY", "WEEKLY", "MONTHLY", "YEARLY"})


def check_rrule(value: str) -> None:
    """ValueError unless `value` is a day-granular RRULE dateutil accepts (sub-daily rules make no sessions)."""
    text = value.strip().removeprefix("RRULE:")
    if not text or len(text) > MAX_RRULE_LENGTH or any(ch in text for ch in "\r\n"):
        raise ValueError("an RRULE is one line such as FREQ=WEEKLY;BYDAY=MO,WE")
    parts: dict[str, str] = {}
    for piece in text.split(";"):
        name, sep, val = piece.partition("=")
        if not sep or not val:
            raise ValueError(f"malformed RRULE part {piece!r}")
        name = name.upper()
        if name not in _ALLOWED_PARTS:
            raise ValueError(f"RRULE part {name} is not supported here (sessions are whole days)")
        parts[name] = val
    if parts.get("FREQ", "").upper() not in _DAILY_OR_COARSER:
        raise ValueError("FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY")
    try:
        rrulestr("RRULE:" + text, dtstart=datetime(2026, 1, 1))  # noqa: DTZ001 - rules run on local wall time
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ValueError(f"invalid RRULE: {exc}") from exc


@lru_cache(maxsize=4096)
def _recurrence(text: str, starts_on: date) -> rrule | rruleset:
    return rrulestr("RRULE:" + text.strip().removeprefix("RRULE:"), dtstart=datetime.combine(starts_on, time()),
                    cache=True)


def rule_dates(rule: RuleSpec, first: date, last: date) -> Iterator[date]:
    """Local dates in [first, last] on which the rule holds a session, ascending."""
    lo = max(first, rule.starts_on)
    hi = last if rule.until is None else min(last, rule.until)
    if hi < lo:
        return
    rec = _recurrence(rule.rrule, rule.starts_on)
    cursor = datetime.combine(lo, time())
    end = datetime.combine(hi, time())
    occ = rec.after(cursor, inc=True)
    while occ is not None and occ <= end:
        yield occ.date()
        occ = rec.after(occ, inc=False)


def to_utc(local_day: date, wall: time, zone: ZoneInfo) -> datetime | None:
    """UTC instant of a wall-clock time on a local date; None when DST skips it (first one if repeated)."""
    local = datetime.combine(local_day, wall, tzinfo=zone)  # fold=0: the first of a repeated hour
    utc = local.astimezone(UTC)
    back = utc.astimezone(zone)
    if back.replace(tzinfo=None) != local.replace(tzinfo=None):
        return None  # in the spring gap: that wall-clock time never happens
    return utc


def day_slots(rule: RuleSpec, local_day: date) -> Iterator[Slot]:
    """One session's slots on one local date, in time order."""
    zone = zone_of(rule.time_zone)
    step = rule.slot_minutes
    start_m, end_m = _minutes(rule.start_time), _minutes(rule.end_time)
    breaks = [(_minutes(b.start), _minutes(b.end)) for b in rule.breaks]
    m = start_m
    made = 0
    while m + step <= end_m and made < MAX_SLOTS_PER_DAY:
        lo, hi = m, m + step
        m += step
        if any(lo < b_end and b_start < hi for b_start, b_end in breaks):
            continue
        wall = time(lo // 60, lo % 60)
        start = to_utc(local_day, wall, zone)
        if start is None:
            continue
        made += 1
        yield Slot(rule_id=rule.id, practitioner_id=rule.practitioner_id, facility_id=rule.facility_id,
                   start=start, end=start + timedelta(minutes=step), local_date=local_day, local_start=wall,
                   time_zone=rule.time_zone, capacity=rule.capacity, kinds=rule.kinds)


def rule_slots(rule: RuleSpec, window: Window, exceptions: Sequence[ExceptionSpec] = ()) -> Iterator[Slot]:
    """A rule's slots starting inside the window, in time order, with exceptions removed."""
    zone = zone_of(rule.time_zone)
    first = window.start.astimezone(zone).date()
    last = window.end.astimezone(zone).date()
    mine = [e for e in exceptions
            if e.practitioner_id in (None, rule.practitioner_id) and e.facility_id in (None, rule.facility_id)]
    for day in rule_dates(rule, first, last):
        for slot in day_slots(rule, day):
            if slot.start < window.start:
                continue
            if slot.start >= window.end:
                return
            if any(e.covers(slot.practitioner_id, slot.facility_id, slot.start, slot.end) for e in mine):
                continue
            yield slot


def _order(slot: Slot) -> tuple[datetime, str, str]:
    return (slot.start, str(slot.practitioner_id), str(slot.facility_id))


def candidate_slots(rules: Iterable[RuleSpec], window: Window,
                    exceptions: Sequence[ExceptionSpec] = ()) -> Iterator[Slot]:
    """Every rule's slots merged in (start, practitioner, facility) order, bookings not yet applied.

    Two rules of one practitioner that produce the same start give one slot (the first rule's): a person
    is in one place at a time.
    """
    merged = heapq.merge(*(rule_slots(r, window, exceptions) for r in rules), key=_order)
    seen: set[SlotKey] = set()
    last_start: datetime | None = None
    for slot in merged:
        if slot.start != last_start:
            seen.clear()
            last_start = slot.start
        if slot.key in seen:
            continue
        seen.add(slot.key)
        yield slot


def apply_bookings(slots: Iterable[Slot], bookings: Mapping[SlotKey, int], *, include_full: bool = False
                   ) -> Iterator[Slot]:
    """Slots with their booked counts; full ones dropped unless asked for."""
    for slot in slots:
        booked = bookings.get(slot.key, 0)
        if booked:
            slot = slot.model_copy(update={"booked": booked})
        if include_full or slot.free > 0:
            yield slot


def slots(rules: Iterable[RuleSpec], exceptions: Sequence[ExceptionSpec], bookings: Mapping[SlotKey, int],
          window: Window, *, limit: int | None = None, include_full: bool = False) -> list[Slot]:
    """The bookable slots of these rules in the window (the engine's one-call form)."""
    found = apply_bookings(candidate_slots(rules, window, exceptions), bookings, include_full=include_full)
    return list(found if limit is None else islice(found, limit))


def find_slot(rules: Iterable[RuleSpec], exceptions: Sequence[ExceptionSpec], practitioner_id: uuid.UUID,
              start: datetime) -> Slot | None:
    """The slot of this practitioner starting at exactly this instant, if the rules offer one."""
    window = Window(start=start, end=start + timedelta(seconds=1))
    for slot in candidate_slots([r for r in rules if r.practitioner_id == practitioner_id], window, exceptions):
        if slot.start == start.astimezone(UTC):
            return slot
    return None
