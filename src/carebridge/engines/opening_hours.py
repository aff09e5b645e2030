"""Weekly opening hours with dated exceptions and 24x7, in an IANA time zone: "open at this instant?".

Rules (the same ones OpenStreetMap's `opening_hours` key uses for the subset supported here,
https://wiki.openstreetmap.org/wiki/Key:opening_hours/specification):

* Hours are local wall-clock times in the facility's zone, so a clinic open 09:00-17:00 in
  America/New_York stays open 09:00-17:00 across the DST change. An instant is converted to local
  time with `zoneinfo`; in the repeated autumn hour both instants read the same wall-clock time.
* A range whose closing time is not after its opening time runs past midnight ("22:00-06:00"),
  and "24:00" closes at the end of the day. A range belongs to the day it starts on: the early
  hours of Tuesday are covered by Monday's "22:00-06:00".
* An exception replaces the weekly hours of its date: `closed` (a holiday) or special ranges. A
  range spilling past midnight from an exception date still covers the next morning.
* `always_open` (24x7) is every day 00:00-24:00; exceptions still apply to their dates.

The compact text form used by CSV files is `24/7` or `Mo-Fr 09:00-17:00; Sa 09:00-13:00,14:00-16:00`
(days Mo Tu We Th Fr Sa Su; a day not named is closed; `Su off` is accepted), and for exceptions
`2026-01-26 closed; 2026-12-24 09:00-13:00`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

DAY_SECONDS = 86_400
MAX_RANGES_PER_DAY = 6
MAX_EXCEPTIONS = 400
_TIME = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")


class Weekday(StrEnum):
    mon = "mon"
    tue = "tue"
    wed = "wed"
    thu = "thu"
    fri = "fri"
    sat = "sat"
    sun = "sun"


WEEKDAYS: tuple[Weekday, ...] = tuple(Weekday)
_SHORT = {"mo": 0, "tu": 1, "we": 2, "th": 3, "fr": 4, "sa": 5, "su": 6}
_SHORT_NAMES = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")

TimeText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=5, max_length=5)]


def _seconds(text: str) -> int:
    if not _TIME.match(text):
        raise ValueError(f"{text!r} is not a time of day HH:MM (00:00 to 24:00)")
    return int(text[:2]) * 3600 + int(text[3:]) * 60


def valid_time_zone(name: str) -> str:
    if not name or len(name) > 64 or name != name.strip() or ".." in name or name.startswith("/"):
        raise ValueError(f"{name!r} is not an IANA time zone name such as Asia/Kolkata")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not an IANA time zone name such as Asia/Kolkata") from exc
    return name


class TimeRange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    opens: TimeText = Field(description="HH:MM local time.", examples=["09:00"])
    closes: TimeText = Field(description="HH:MM local time; not after `opens` means past midnight; 24:00 allowed.",
                             examples=["17:00"])

    @model_validator(mode="after")
    def _check(self) -> TimeRange:
        start, end = _seconds(self.opens), _seconds(self.closes)
        if start == DAY_SECONDS:
            raise ValueError("a range cannot open at 24:00; use 00:00")
        if start == end:
            raise ValueError("opening and closing times are equal; for a whole day use 00:00-24:00")
        return self

    @property
    def span(self) -> tuple[int, int]:
        """(start, end) in seconds after the local midnight of its day; end > 86400 past midnight."""
        start, end = _seconds(self.opens), _seconds(self.closes)
        return (start, end if end > start else end + DAY_SECONDS)


class DateException(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    date: date
    closed: bool = Field(False, description="Closed the whole day (a holiday).")
    ranges: list[TimeRange] = Field(default_factory=list, max_length=MAX_RANGES_PER_DAY,
                                    description="Special hours replacing the weekly ones on this date.")
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)] | None = None

    @model_validator(mode="after")
    def _check(self) -> DateException:
        if self.closed and self.ranges:
            raise ValueError(f"{self.date}: a closed day has no hours")
        if not self.closed and not self.ranges:
            raise ValueError(f"{self.date}: give special hours or closed=true")
        return self


class OpeningHours(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    time_zone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] = Field(
        description="IANA time zone of the hours, e.g. Asia/Kolkata.", examples=["Asia/Kolkata"])
    always_open: bool = Field(False, description="Open 24 hours, 7 days (exceptions still apply).")
    weekly: dict[Weekday, list[TimeRange]] = Field(
        default_factory=dict, description="Hours per weekday; a day not listed is closed.")
    exceptions: list[DateException] = Field(default_factory=list, max_length=MAX_EXCEPTIONS)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return valid_time_zone(value)

    @field_validator("weekly")
    @classmethod
    def _days(cls, value: dict[Weekday, list[TimeRange]]) -> dict[Weekday, list[TimeRange]]:
        for day, ranges in value.items():
            if len(ranges) > MAX_RANGES_PER_DAY:
                raise ValueError(f"{day.value}: at most {MAX_RANGES_PER_DAY} ranges a day")
        return value

    @field_validator("exceptions")
    @classmethod
    def _unique_dates(cls, value: list[DateException]) -> list[DateException]:
        seen: set[date] = set()
        for exc in value:
            if exc.date in seen:
                raise ValueError(f"{exc.date} has two exceptions")
            seen.add(exc.date)
        return sorted(value, key=lambda e: e.date)


Spans = tuple[tuple[int, int], ...]
_FULL_DAY: Spans = ((0, DAY_SECONDS),)


class CompiledHours:
    """Opening hours reduced to second spans per weekday and per exception date, for fast checks."""

    __slots__ = ("exceptions", "weekly", "zone")

    def __init__(self, hours: OpeningHours) -> None:
        self.zone = ZoneInfo(hours.time_zone)
        if hours.always_open:
            self.weekly: tuple[Spans, ...] = tuple(_FULL_DAY for _ in WEEKDAYS)
        else:
            self.weekly = tuple(tuple(sorted(r.span for r in hours.weekly.get(d, []))) for d in WEEKDAYS)
        self.exceptions: dict[date, Spans] = {
            e.date: () if e.closed else tuple(sorted(r.span for r in e.ranges)) for e in hours.exceptions
        }

    def _spans(self, day: date) -> Spans:
        found = self.exceptions.get(day)
        return found if found is not None else self.weekly[day.weekday()]

    def is_open_local(self, local: datetime) -> bool:
        """Open at this local wall-clock time (naive or in the facility's zone)?"""
        day = local.date()
        sec = local.hour * 3600 + local.minute * 60 + local.second
        if any(start <= sec < end for start, end in self._spans(day)):
            return True
        yesterday = day - timedelta(days=1)
        return any(end > DAY_SECONDS and sec < end - DAY_SECONDS for _, end in self._spans(yesterday))

    def is_open(self, at: datetime) -> bool:
        if at.tzinfo is None:
            raise ValueError("is_open needs an aware datetime (an instant), not a naive one")
        return self.is_open_local(at.astimezone(self.zone))


def is_open(hours: OpeningHours, at: datetime) -> bool:
    """Whether the place is open at the instant `at` (aware datetime)."""
    return CompiledHours(hours).is_open(at)


@lru_cache(maxsize=8192)
def compiled_from_json(text: str) -> CompiledHours:
    """Cached by the stored JSON text: thousands of facilities share a handful of schedules."""
    return CompiledHours(OpeningHours.model_validate_json(text))


# --- compact text form --------------------------------------------------------------------------

_DAY_SPEC = re.compile(r"^(mo|tu|we|th|fr|sa|su)(?:-(mo|tu|we|th|fr|sa|su))?$")


def _parse_days(text: str) -> list[int]:
    days: list[int] = []
    for part in text.lower().split(","):
        m = _DAY_SPEC.match(part.strip())
        if not m:
            raise ValueError(f"{part.strip()!r} is not a day or day range such as Mo or Mo-Fr")
        first = _SHORT[m.group(1)]
        last = _SHORT[m.group(2)] if m.group(2) else first
        days.extend((first + i) % 7 for i in range(((last - first) % 7) + 1))
    return days


def _parse_ranges(text: str) -> list[TimeRange]:
    out: list[TimeRange] = []
    for part in text.split(","):
        opens, sep, closes = part.strip().partition("-")
        if not sep or not _TIME.match(opens.strip()) or not _TIME.match(closes.strip()):
            raise ValueError(f"{part.strip()!r} is not a time range such as 09:00-17:00")
        out.append(TimeRange(opens=opens.strip(), closes=closes.strip()))
    return out


def parse_weekly(text: str, time_zone: str) -> OpeningHours:
    """Parse `24/7` or `Mo-Fr 09:00-17:00; Sa 09:00-13:00` (raises ValueError with the reason)."""
    if len(text) > 500:
        raise ValueError("opening hours text is longer than 500 characters")
    cleaned = text.strip()
    if cleaned.lower() in {"24/7", "24x7"}:
        return OpeningHours(time_zone=time_zone, always_open=True)
    weekly: dict[Weekday, list[TimeRange]] = {}
    for rule in filter(None, (r.strip() for r in cleaned.split(";"))):
        days_text, _, ranges_text = rule.partition(" ")
        days = _parse_days(days_text)
        ranges_text = ranges_text.strip()
        ranges = [] if ranges_text.lower() in {"off", "closed"} else _parse_ranges(ranges_text)
        for d in days:
            weekly[WEEKDAYS[d]] = list(ranges)
    return OpeningHours(time_zone=time_zone, weekly={d: r for d, r in weekly.items() if r})


def parse_exceptions(text: str) -> list[DateException]:
    """Parse `2026-01-26 closed; 2026-12-24 09:00-13:00`."""
    if len(text) > 20_000:
        raise ValueError("exceptions text is too long")
    out: list[DateException] = []
    for rule in filter(None, (r.strip() for r in text.split(";"))):
        day_text, _, rest = rule.partition(" ")
        try:
            day = date.fromisoformat(day_text)
        except ValueError as exc:
            raise ValueError(f"{day_text!r} is not a date YYYY-MM-DD") from exc
        rest = rest.strip()
        if rest.lower() in {"closed", "off", ""}:
            out.append(DateException(date=day, closed=True))
        else:
            out.append(DateException(date=day, ranges=_parse_ranges(rest)))
    return out


def _format_ranges(ranges: Iterable[TimeRange]) -> str:
    return ",".join(f"{r.opens}-{r.closes}" for r in ranges)


def format_weekly(hours: OpeningHours) -> str:
    """The compact text of the weekly part; consecutive days with equal hours are joined (Mo-Fr)."""
    if hours.always_open:
        return "24/7"
    texts = [_format_ranges(hours.weekly.get(d, [])) for d in WEEKDAYS]
    rules: list[str] = []
    i = 0
    while i < 7:
        j = i
        while j + 1 < 7 and texts[j + 1] == texts[i]:
            j += 1
        if texts[i]:
            days = _SHORT_NAMES[i] if i == j else f"{_SHORT_NAMES[i]}-{_SHORT_NAMES[j]}"
            rules.append(f"{days} {texts[i]}")
        i = j + 1
    return "; ".join(rules)


def format_exceptions(exceptions: Iterable[DateException]) -> str:
    return "; ".join(f"{e.date.isoformat()} {'closed' if e.closed else _format_ranges(e.ranges)}"
                     for e in exceptions)
