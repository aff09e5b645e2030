"""The slot engine: recurrence on local dates, breaks, exceptions, capacity, and daylight-saving changes.

DST dates: America/New_York changes on 2026-03-08 (02:00 -> 03:00) and 2026-11-01 (02:00 -> 01:00);
Europe/London on 2026-03-29 (01:00 -> 02:00) and 2026-10-25 (02:00 -> 01:00). Asia/Kolkata is +05:30
all year, so its mornings are the previous UTC day.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from carebridge.engines.slots import (
    AppointmentKind,
    Break,
    ExceptionSpec,
    RuleSpec,
    Window,
    candidate_slots,
    check_rrule,
    find_slot,
    slots,
)

PRAC = uuid.UUID(int=1)
FAC = uuid.UUID(int=2)


def rule(zone: str = "Asia/Kolkata", rrule: str = "FREQ=DAILY", start: time = time(9), end: time = time(12),
         minutes: int = 30, **kw: object) -> RuleSpec:
    return RuleSpec(id=kw.pop("id", uuid.uuid4()), practitioner_id=kw.pop("practitioner_id", PRAC),  # type: ignore[arg-type]
                    facility_id=kw.pop("facility_id", FAC), time_zone=zone, rrule=rrule,  # type: ignore[arg-type]
                    starts_on=kw.pop("starts_on", date(2026, 1, 1)), start_time=start, end_time=end,  # type: ignore[arg-type]
                    slot_minutes=minutes, **kw)  # type: ignore[arg-type]


def window(first: date, days: int, zone: str = "UTC") -> Window:
    tz = ZoneInfo(zone)
    return Window(start=datetime.combine(first, time(), tzinfo=tz),
                  end=datetime.combine(first + timedelta(days=days), time(), tzinfo=tz))


def test_weekly_rule_on_local_weekdays_with_break() -> None:
    r = rule(rrule="FREQ=WEEKLY;BYDAY=MO,WE", start=time(9), end=time(13), minutes=30,
             breaks=(Break(start=time(11), end=time(11, 30)),))
    found = slots([r], [], {}, window(date(2026, 3, 9), 7, "Asia/Kolkata"))
    days = sorted({s.local_date for s in found})
    assert days == [date(2026, 3, 9), date(2026, 3, 11)]  # Monday and Wednesday
    monday = [s.local_start for s in found if s.local_date == date(2026, 3, 9)]
    assert time(11) not in monday and time(10, 30) in monday and time(11, 30) in monday
    assert len(monday) == 7  # 8 half hours minus the break


def test_kolkata_morning_is_previous_utc_day_but_right_local_day() -> None:
    r = rule(zone="Asia/Kolkata", start=time(2), end=time(6), minutes=60)
    found = slots([r], [], {}, window(date(2026, 3, 10), 1, "Asia/Kolkata"))
    assert [s.local_start for s in found] == [time(2), time(3), time(4), time(5)]
    assert all(s.local_date == date(2026, 3, 10) for s in found)
    assert found[0].start == datetime(2026, 3, 9, 20, 30, tzinfo=UTC)  # previous UTC day


@pytest.mark.parametrize(("zone", "day"), [("America/New_York", date(2026, 3, 8)),
                                           ("Europe/London", date(2026, 3, 29))])
def test_spring_forward_skips_the_missing_hour_only(zone: str, day: date) -> None:
    r = rule(zone=zone, start=time(0), end=time(6), minutes=60)
    found = slots([r], [], {}, window(day - timedelta(days=1), 3, zone))
    on_day = [s for s in found if s.local_date == day]
    skipped = time(2) if zone == "America/New_York" else time(1)
    assert skipped not in [s.local_start for s in on_day]
    assert len(on_day) == 5  # six wall-clock hours, one of which does not exist
    for s in found:  # every slot starts at its wall-clock time on its own local date
        local = s.start.astimezone(ZoneInfo(zone))
        assert (local.date(), local.time()) == (s.local_date, s.local_start)
    starts = [s.start for s in found]
    assert len(starts) == len(set(starts))


@pytest.mark.parametrize(("zone", "day"), [("America/New_York", date(2026, 11, 1)),
                                           ("Europe/London", date(2026, 10, 25))])
def test_fall_back_gives_the_repeated_hour_once(zone: str, day: date) -> None:
    r = rule(zone=zone, start=time(0), end=time(4), minutes=30)
    found = slots([r], [], {}, window(day - timedelta(days=1), 3, zone))
    on_day = [s for s in found if s.local_date == day]
    assert [s.local_start for s in on_day] == [time(h, m) for h in range(4) for m in (0, 30)]
    counts = Counter(s.local_date for s in found)
    assert counts[day] == counts[day - timedelta(days=1)] == 8
    assert len({s.start for s in found}) == len(found)


def test_clinic_hours_stay_on_wall_clock_across_both_new_york_changes() -> None:
    r = rule(zone="America/New_York", start=time(9), end=time(17), minutes=60, rrule="FREQ=DAILY")
    for first in (date(2026, 3, 6), date(2026, 10, 30)):
        found = slots([r], [], {}, window(first, 5, "America/New_York"))
        per_day = Counter(s.local_date for s in found)
        assert set(per_day.values()) == {8}
        assert {s.local_start for s in found} == {time(h) for h in range(9, 17)}
    # before and after the spring change the UTC start moves by one hour
    before = find_slot([r], [], PRAC, datetime(2026, 3, 6, 14, tzinfo=UTC))
    after = find_slot([r], [], PRAC, datetime(2026, 3, 9, 13, tzinfo=UTC))
    assert before is not None and after is not None
    assert before.local_start == after.local_start == time(9)


def test_exceptions_remove_overlapping_slots_for_their_scope() -> None:
    r = rule(start=time(9), end=time(12), minutes=60)
    other = rule(practitioner_id=uuid.UUID(int=9), start=time(9), end=time(12), minutes=60)
    leave = ExceptionSpec(practitioner_id=PRAC, starts_at=datetime(2026, 3, 10, 4, 0, tzinfo=UTC),
                          ends_at=datetime(2026, 3, 10, 5, 0, tzinfo=UTC))  # 09:30-10:30 IST
    found = slots([r, other], [leave], {}, window(date(2026, 3, 10), 1, "Asia/Kolkata"))
    mine = [s.local_start for s in found if s.practitioner_id == PRAC]
    theirs = [s.local_start for s in found if s.practitioner_id != PRAC]
    assert mine == [time(11)]
    assert theirs == [time(9), time(10), time(11)]
    holiday = ExceptionSpec(facility_id=FAC, starts_at=datetime(2026, 3, 9, 18, 30, tzinfo=UTC),
                            ends_at=datetime(2026, 3, 10, 18, 30, tzinfo=UTC))
    assert slots([r, other], [holiday], {}, window(date(2026, 3, 10), 1, "Asia/Kolkata")) == []


def test_capacity_and_bookings() -> None:
    r = rule(start=time(9), end=time(10), minutes=30, capacity=3)
    found = slots([r], [], {}, window(date(2026, 3, 10), 1, "Asia/Kolkata"))
    first = found[0]
    assert first.free == 3
    after = slots([r], [], {first.key: 3, found[1].key: 1}, window(date(2026, 3, 10), 1, "Asia/Kolkata"))
    assert [s.free for s in after] == [2]
    full = slots([r], [], {first.key: 3}, window(date(2026, 3, 10), 1, "Asia/Kolkata"), include_full=True)
    assert [s.free for s in full] == [0, 3]


def test_merge_orders_by_time_and_limit_stops_early() -> None:
    rules = [rule(practitioner_id=uuid.UUID(int=100 + i), start=time(9 + i % 3), end=time(13), minutes=20)
             for i in range(30)]
    found = slots(rules, [], {}, window(date(2026, 3, 10), 30, "Asia/Kolkata"), limit=50)
    assert len(found) == 50
    assert [s.start for s in found] == sorted(s.start for s in found)


def test_same_practitioner_same_start_is_one_slot() -> None:
    a = rule(start=time(9), end=time(10), minutes=30)
    b = rule(start=time(9), end=time(10), minutes=30, facility_id=uuid.UUID(int=3))
    found = list(candidate_slots([a, b], window(date(2026, 3, 10), 1, "Asia/Kolkata")))
    assert len(found) == 2


def test_until_and_starts_on_bound_the_rule() -> None:
    r = rule(starts_on=date(2026, 3, 12), until=date(2026, 3, 13), kinds=(AppointmentKind.teleconsultation,))
    days = {s.local_date for s in slots([r], [], {}, window(date(2026, 3, 10), 10, "Asia/Kolkata"))}
    assert days == {date(2026, 3, 12), date(2026, 3, 13)}


@pytest.mark.parametrize("bad", ["FREQ=HOURLY", "FREQ=SECONDLY", "BYDAY=MO", "FREQ=WEEKLY;BYDAY=XX",
                                 "FREQ=WEEKLY;BYHOUR=9", "FREQ=DAILY\nX", "garbage", "FREQ=WEEKLY;INTERVAL=x"])
def test_bad_rrules_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        check_rrule(bad)


def test_bad_rule_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        rule(zone="Mars/Olympus")
    with pytest.raises(ValidationError):
        rule(start=time(12), end=time(9))
    with pytest.raises(ValidationError):
        rule(start=time(9), end=time(9, 10), minutes=30)


ZONES = ["America/New_York", "Europe/London", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"]


@settings(max_examples=60, deadline=None)
@given(zone=st.sampled_from(ZONES), first=st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 1)),
       start_h=st.integers(0, 20), minutes=st.sampled_from([10, 15, 30, 45, 60]))
def test_property_slots_sit_on_their_local_date_in_order_without_duplicates(zone: str, first: date, start_h: int,
                                                                             minutes: int) -> None:
    r = rule(zone=zone, start=time(start_h), end=time(start_h + 3), minutes=minutes)
    found = slots([r], [], {}, window(first, 3, zone))
    tz = ZoneInfo(zone)
    for s in found:
        local = s.start.astimezone(tz)
        assert local.date() == s.local_date
        assert local.time() == s.local_start
    starts = [s.start for s in found]
    assert starts == sorted(starts) and len(starts) == len(set(starts))
