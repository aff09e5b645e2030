"""Opening hours: across midnight, exceptions, 24x7, DST (America/New_York) and Asia/Kolkata."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from carebridge.engines.opening_hours import (
    DateException,
    OpeningHours,
    TimeRange,
    Weekday,
    compiled_from_json,
    format_exceptions,
    format_weekly,
    is_open,
    parse_exceptions,
    parse_weekly,
)


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _hours(zone: str, text: str, exceptions: str = "") -> OpeningHours:
    hours = parse_weekly(text, zone)
    return hours.model_copy(update={"exceptions": parse_exceptions(exceptions)}) if exceptions else hours


KOLKATA_DAY = _hours("Asia/Kolkata", "Mo-Fr 09:00-17:00")


@pytest.mark.parametrize(("at", "expected"), [
    (_utc(2026, 3, 10, 3, 29), False),   # Tue 08:59 IST
    (_utc(2026, 3, 10, 3, 30), True),    # Tue 09:00 IST (opening minute is open)
    (_utc(2026, 3, 10, 11, 29), True),   # Tue 16:59 IST
    (_utc(2026, 3, 10, 11, 30), False),  # Tue 17:00 IST (closing minute is closed)
    (_utc(2026, 3, 14, 6, 0), False),    # Sat 11:30 IST: not listed, closed
])
def test_kolkata_weekday_hours(at: datetime, expected: bool) -> None:
    assert is_open(KOLKATA_DAY, at) is expected


NIGHT = _hours("Asia/Kolkata", "Mo 22:00-06:00")


@pytest.mark.parametrize(("local", "expected"), [
    (datetime(2026, 3, 9, 21, 59), False),  # Mon before opening
    (datetime(2026, 3, 9, 22, 0), True),    # Mon 22:00
    (datetime(2026, 3, 10, 3, 0), True),    # Tue 03:00 belongs to Monday's night
    (datetime(2026, 3, 10, 6, 0), False),   # Tue 06:00 closed
    (datetime(2026, 3, 8, 23, 0), False),   # Sun night: no Sunday range
    (datetime(2026, 3, 10, 22, 30), False), # Tue night: no Tuesday range
])
def test_ranges_run_past_midnight(local: datetime, expected: bool) -> None:
    assert is_open(NIGHT, local.replace(tzinfo=ZoneInfo("Asia/Kolkata"))) is expected


def test_closed_exception_also_ends_that_nights_spill() -> None:
    hours = _hours("Asia/Kolkata", "Mo-Su 20:00-02:00", "2026-03-09 closed")
    assert is_open(hours, _utc(2026, 3, 9, 17, 0)) is False    # Mon 22:30 IST, holiday
    assert is_open(hours, _utc(2026, 3, 9, 19, 30)) is False   # Tue 01:00 IST, Monday's night never started
    assert is_open(hours, _utc(2026, 3, 10, 15, 30)) is True   # Tue 21:00 IST, normal again
    assert is_open(hours, _utc(2026, 3, 8, 19, 30)) is True    # Mon 01:00 IST, Sunday's night


def test_special_hours_replace_the_weekly_ones_and_spill_past_midnight() -> None:
    hours = _hours("Asia/Kolkata", "Mo-Fr 09:00-17:00", "2026-03-10 10:00-12:00; 2026-12-31 20:00-02:00")
    assert is_open(hours, _utc(2026, 3, 10, 5, 0)) is True     # Tue 10:30 IST special
    assert is_open(hours, _utc(2026, 3, 10, 7, 30)) is False   # Tue 13:00 IST, weekly would say open
    assert is_open(hours, _utc(2026, 12, 31, 19, 0)) is True   # Fri 1 Jan 00:30 IST, New Year's Eve spill
    assert is_open(hours, _utc(2026, 12, 31, 21, 0)) is False  # 02:30 IST closed


def test_always_open_with_a_closed_date() -> None:
    hours = OpeningHours(time_zone="Asia/Kolkata", always_open=True,
                         exceptions=[DateException(date=date(2026, 1, 26), closed=True)])
    assert is_open(hours, _utc(2026, 1, 25, 18, 29)) is True   # 23:59 IST on the 25th
    assert is_open(hours, _utc(2026, 1, 25, 18, 30)) is False  # 00:00 IST on the 26th
    assert is_open(hours, _utc(2026, 1, 26, 18, 30)) is True   # 00:00 IST on the 27th


NEW_YORK = _hours("America/New_York", "Mo-Fr 09:00-17:00")


@pytest.mark.parametrize(("at", "expected"), [
    (_utc(2026, 3, 6, 13, 30), False),  # Fri 08:30 EST (UTC-5)
    (_utc(2026, 3, 6, 14, 30), True),   # Fri 09:30 EST
    (_utc(2026, 3, 6, 21, 30), True),   # Fri 16:30 EST
    (_utc(2026, 3, 9, 13, 30), True),   # Mon 09:30 EDT (UTC-4): DST began Sun 8 March
    (_utc(2026, 3, 9, 21, 30), False),  # Mon 17:30 EDT: the same UTC time was open last week
])
def test_new_york_hours_follow_wall_clock_across_dst(at: datetime, expected: bool) -> None:
    assert is_open(NEW_YORK, at) is expected


def test_repeated_autumn_hour_is_open_both_times() -> None:
    hours = _hours("America/New_York", "Su 01:00-01:30")
    assert is_open(hours, _utc(2026, 11, 1, 5, 15)) is True   # 01:15 EDT
    assert is_open(hours, _utc(2026, 11, 1, 6, 15)) is True   # 01:15 EST, an hour later
    assert is_open(hours, _utc(2026, 11, 1, 6, 45)) is False  # 01:45 EST


def test_whole_day_range_to_midnight() -> None:
    hours = OpeningHours(time_zone="UTC", weekly={Weekday.sat: [TimeRange(opens="00:00", closes="24:00")]})
    assert is_open(hours, _utc(2026, 3, 14, 0, 0)) is True
    assert is_open(hours, _utc(2026, 3, 14, 23, 59, 59)) is True
    assert is_open(hours, _utc(2026, 3, 15, 0, 0)) is False


def test_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        is_open(KOLKATA_DAY, datetime(2026, 3, 10, 9, 0))


@pytest.mark.parametrize("bad", [
    {"time_zone": "Mars/Olympus"},
    {"time_zone": "../etc/passwd"},
    {"time_zone": "UTC", "weekly": {"mon": [{"opens": "09:00", "closes": "09:00"}]}},
    {"time_zone": "UTC", "weekly": {"mon": [{"opens": "24:00", "closes": "02:00"}]}},
    {"time_zone": "UTC", "weekly": {"mon": [{"opens": "9:00", "closes": "17:00"}]}},
    {"time_zone": "UTC", "weekly": {"mon": [{"opens": "09:00", "closes": "25:00"}]}},
    {"time_zone": "UTC", "weekly": {"funday": []}},
    {"time_zone": "UTC", "exceptions": [{"date": "2026-01-26", "closed": True,
                                         "ranges": [{"opens": "09:00", "closes": "10:00"}]}]},
    {"time_zone": "UTC", "exceptions": [{"date": "2026-01-26"}]},
    {"time_zone": "UTC", "exceptions": [{"date": "2026-01-26", "closed": True},
                                        {"date": "2026-01-26", "closed": True}]},
])
def test_invalid_hours_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        OpeningHours.model_validate(bad)


def test_compact_text_round_trip() -> None:
    hours = parse_weekly("Mo-Fr 09:00-13:00,14:00-18:00; Sa 09:00-13:00; Su off", "Asia/Kolkata")
    assert format_weekly(hours) == "Mo-Fr 09:00-13:00,14:00-18:00; Sa 09:00-13:00"
    assert parse_weekly(format_weekly(hours), "Asia/Kolkata") == hours
    assert format_weekly(parse_weekly("24/7", "UTC")) == "24/7"
    assert parse_weekly("Fr-Mo 10:00-11:00", "UTC").weekly.keys() == {Weekday.fri, Weekday.sat, Weekday.sun,
                                                                        Weekday.mon}
    exceptions = parse_exceptions("2026-01-26 closed; 2026-12-24 09:00-13:00")
    assert format_exceptions(exceptions) == "2026-01-26 closed; 2026-12-24 09:00-13:00"


@pytest.mark.parametrize("text", ["Mx 09:00-10:00", "Mo 0900-1000", "Mo 09:00", "Mo 09:00-09:00"])
def test_compact_text_errors_say_why(text: str) -> None:
    with pytest.raises(ValueError):
        parse_weekly(text, "UTC")


def test_compiled_cache_agrees_with_direct_evaluation() -> None:
    compiled = compiled_from_json(NIGHT.model_dump_json())
    at = _utc(2026, 3, 9, 21, 0)  # Tue 02:30 IST
    assert compiled.is_open(at) is is_open(NIGHT, at) is True


@given(
    opens=st.integers(0, 47), length=st.integers(1, 47), minute=st.integers(0, 7 * 24 * 60 - 1),
)
def test_open_exactly_inside_the_range(opens: int, length: int, minute: int) -> None:
    """Every day opens at `opens` half-hours for `length` half-hours: open iff inside, whatever midnight does."""
    start = opens * 30
    end = start + length * 30
    text = f"{start // 60:02d}:{start % 60:02d}-{(end % 1440) // 60:02d}:{end % 60:02d}"
    if end == 1440:
        text = text[:6] + "24:00"
    hours = parse_weekly(f"Mo-Su {text}", "UTC")
    at = _utc(2026, 3, 2) + timedelta(minutes=minute)
    of_day = minute % 1440
    inside = start <= of_day < end or (end > 1440 and of_day < end - 1440)
    assert is_open(hours, at) is inside
