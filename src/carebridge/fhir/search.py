"""Search plumbing shared by the mappers: result parameters, value prefixes, filtered keyset paging, Bundles.

Where a context's own search answers a parameter, the mapper passes it down; the remaining
parameters filter the context's pages here. Paging then walks the context's keyset cursor, so
a `next` link stays stable while rows are inserted (a new row lands before or after the cursor,
never shifting a page), at the cost that a page may hold fewer than `_count` matches.
"""

from __future__ import annotations

import calendar
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from carebridge.fhir.outcome import bad_param
from carebridge.fhir.registry import Found, Mapper, Query, Stored

DEFAULT_COUNT = 20
MAX_COUNT = 100
MAX_VALUE_LEN = 200
MAX_VALUES = 10
SCAN_BUDGET = 2_000
"""Rows one request may walk to fill a page when part of the search is filtered here."""

_INSTANT = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?"
                      r"(Z|[+-]\d{2}:\d{2}))?)?)?$")
_INSTANT_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")


@dataclass(frozen=True, slots=True)
class InstantTest:
    """A `_lastUpdated` test: the value's precision is a half-open range [low, high)."""

    prefix: str
    low: datetime
    high: datetime

    def matches(self, value: datetime) -> bool:
        match self.prefix:
            case "eq":
                return self.low <= value < self.high
            case "ne":
                return not self.low <= value < self.high
            case "gt" | "sa":
                return value >= self.high
            case "lt" | "eb":
                return value < self.low
            case "ge":
                return value >= self.low
            case _:
                return value < self.high


def instant_param(name: str, value: str) -> InstantTest:
    """`_lastUpdated=ge2026-03-10`, `lt2026-03-10T09:30:00Z`: a date, or a time that carries its zone."""
    prefix = value[:2] if value[:2] in _INSTANT_PREFIXES else "eq"
    text = value[2:] if value[:2] in _INSTANT_PREFIXES else value
    m = _INSTANT.match(text)
    if not m:
        raise bad_param(name, "a date (YYYY, YYYY-MM, YYYY-MM-DD) or an instant with a zone "
                              "(2026-03-10T09:30:00Z), optionally after eq, ne, gt, lt, ge, le, sa or eb")
    y, mo, d, hh, mi, ss, frac, zone = m.groups()
    try:
        if hh is not None:
            tz = UTC if zone == "Z" else datetime.strptime(zone, "%z").tzinfo
            low = datetime(int(y), int(mo), int(d), int(hh), int(mi), int(ss or 0),
                           int(float(frac) * 1_000_000) if frac else 0, tzinfo=tz).astimezone(UTC)
            step = timedelta(microseconds=1) if frac else timedelta(seconds=1) if ss else timedelta(minutes=1)
            return InstantTest(prefix, low, low + step)
        if d is not None:
            low = datetime(int(y), int(mo), int(d), tzinfo=UTC)
            return InstantTest(prefix, low, low + timedelta(days=1))
        if mo is not None:
            low = datetime(int(y), int(mo), 1, tzinfo=UTC)
            nxt = datetime(int(y) + 1, 1, 1, tzinfo=UTC) if int(mo) == 12 else datetime(int(y), int(mo) + 1, 1,
                                                                                          tzinfo=UTC)
            return InstantTest(prefix, low, nxt)
        return InstantTest(prefix, datetime(int(y), 1, 1, tzinfo=UTC), datetime(int(y) + 1, 1, 1, tzinfo=UTC))
    except (ValueError, OverflowError) as exc:
        raise bad_param(name, "not a calendar date or time") from exc


RESULT_PARAMS = frozenset({"_count", "_total", "_summary", "_format", "_cursor", "_sort", "_elements"})
REPEATABLE_RESULT_PARAMS = frozenset({"_include", "_revinclude"})
SUMMARIES = ("true", "text", "data", "count", "false")
MAX_INCLUDES = 5
_DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le")
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_ELEMENT = re.compile(r"^[a-zA-Z][a-zA-Z0-9]{0,63}$")
BUILTIN_SORT = ("_lastUpdated", "_id")


@dataclass(frozen=True, slots=True)
class Request:
    query: Query
    count: int
    cursor: str | None
    total: bool
    summary_count: bool
    # Since session 5 (defaults keep older callers working):
    sort: tuple[str, ...] = ()
    """`_sort` keys in order, `-` before a descending one; handled by the mapper when `query.sort` is set."""
    summary: str | None = None  # true | text | data (count is summary_count)
    elements: tuple[str, ...] = ()
    includes: tuple[str, ...] = ()
    revincludes: tuple[str, ...] = ()
    last_updated: tuple[InstantTest, ...] = ()
    """`_lastUpdated` tests applied here, for a mapper that does not take `_lastUpdated` itself."""

    @property
    def sorted_here(self) -> bool:
        return bool(self.sort) and not self.query.sort


def _sort_keys(mapper: Mapper, value: str) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in value.split(","))
    allowed = {*BUILTIN_SORT, *(p.name for p in mapper.sort_params), *(k.lstrip("-") for k in mapper.native_sort)}
    for key in keys:
        if key.lstrip("-") not in allowed:
            raise bad_param("_sort", f"{key[:64]!r} is not sortable for {mapper.type}; sortable: "
                                     f"{', '.join(sorted(allowed))}")
    if len(keys) > 3:
        raise bad_param("_sort", "at most 3 keys")
    return keys


def parse(mapper: Mapper, raw: Iterable[tuple[str, str]]) -> Request:
    """Reject any parameter the mapper does not support (400), so a filter is never silently ignored."""
    known = {p.name for p in mapper.search_params}
    params: dict[str, list[str]] = {}
    result: dict[str, str] = {}
    repeated: dict[str, list[str]] = {"_include": [], "_revinclude": []}
    last_updated: list[InstantTest] = []
    for name, value in raw:
        if len(value) > MAX_VALUE_LEN:
            raise bad_param(name[:64], f"longer than {MAX_VALUE_LEN} characters")
        if name in RESULT_PARAMS:
            result[name] = value
            continue
        if name in REPEATABLE_RESULT_PARAMS:
            repeated[name].append(value)
            if len(repeated[name]) > MAX_INCLUDES:
                raise bad_param(name, f"given more than {MAX_INCLUDES} times")
            continue
        if name == "_lastUpdated" and name not in known:
            last_updated.append(instant_param(name, value))
            continue
        base, _, modifier = name.partition(":")
        if base not in known:
            supported = ", ".join(sorted({*known, "_lastUpdated"}))
            raise bad_param(name[:64], f"not supported for {mapper.type}; supported: {supported}")
        if modifier:
            raise bad_param(name[:64], "modifiers are not supported yet")
        if "," in value:
            raise bad_param(name, "several values joined by ',' (OR) are not supported yet")
        params.setdefault(base, []).append(value)
        if len(params[base]) > MAX_VALUES:
            raise bad_param(name, f"given more than {MAX_VALUES} times")
    count = DEFAULT_COUNT
    if "_count" in result:
        if not result["_count"].isdigit() or not 0 <= int(result["_count"]) <= MAX_COUNT:
            raise bad_param("_count", f"an integer from 0 to {MAX_COUNT}")
        count = int(result["_count"])
    total = result.get("_total", "none")
    if total not in ("none", "estimate", "accurate"):
        raise bad_param("_total", "one of none, estimate, accurate")
    summary = result.get("_summary")
    if summary is not None and summary not in SUMMARIES:
        raise bad_param("_summary", "one of true, text, data, count, false")
    elements: tuple[str, ...] = ()
    if "_elements" in result:
        elements = tuple(e.strip() for e in result["_elements"].split(",") if e.strip())
        if not elements or not all(_ELEMENT.match(e) for e in elements):
            raise bad_param("_elements", "top-level element names separated by commas, e.g. name,birthDate")
        if summary not in (None, "false"):
            raise bad_param("_elements", "cannot be combined with _summary")
    sort = _sort_keys(mapper, result["_sort"]) if result.get("_sort") else ()
    native = bool(sort) and all(k in mapper.native_sort for k in sort) and not last_updated
    return Request(query=Query(params, sort=sort if native else ()), count=count,
                   cursor=result.get("_cursor") or None, total=total == "accurate" or summary == "count",
                   summary_count=summary == "count", sort=sort,
                   summary=summary if summary in ("true", "text", "data") else None, elements=elements,
                   includes=tuple(repeated["_include"]), revincludes=tuple(repeated["_revinclude"]),
                   last_updated=tuple(last_updated))


def uuid_param(name: str, value: str) -> uuid.UUID | None:
    """A malformed id matches nothing rather than failing: ids here are UUIDs, other servers' ids are not."""
    try:
        return uuid.UUID(value.rpartition("/")[2])
    except ValueError:
        if not value.strip():
            raise bad_param(name, "empty") from None
        return None


def only_id(query: Query) -> list[str]:
    """`_id` answers by a read; combined with other parameters it would need both paths, not supported yet."""
    ids = query.params.get("_id", [])
    if ids and len(query.params) > 1:
        raise bad_param("_id", "cannot be combined with other search parameters yet")
    return ids


@dataclass(frozen=True, slots=True)
class DateTest:
    prefix: str
    low: date
    high: date  # inclusive: a partial date (1970, 1970-03) stands for a range

    def matches(self, value: date | None) -> bool:
        if value is None:
            return False
        match self.prefix:
            case "eq":
                return self.low <= value <= self.high
            case "ne":
                return not self.low <= value <= self.high
            case "gt":
                return value > self.high
            case "lt":
                return value < self.low
            case "ge":
                return value >= self.low
            case _:
                return value <= self.high

    def exact_day(self) -> date | None:
        return self.low if self.prefix == "eq" and self.low == self.high else None


def date_param(name: str, value: str) -> DateTest:
    prefix = value[:2] if value[:2] in _DATE_PREFIXES else "eq"
    text = value[2:] if value[:2] in _DATE_PREFIXES else value
    m = _DATE.match(text)
    if not m:
        raise bad_param(name, "a date YYYY, YYYY-MM or YYYY-MM-DD, optionally after eq, ne, gt, lt, ge or le")
    try:
        year, month, day = int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0)
        if day:
            low = high = date(year, month, day)
        elif month:
            low, high = date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
        else:
            low, high = date(year, 1, 1), date(year, 12, 31)
    except ValueError as exc:
        raise bad_param(name, "not a calendar date") from exc
    return DateTest(prefix, low, high)


def starts(value: str | None, wanted: str) -> bool:
    """FHIR string search: case- and accent-insensitive match at the start of the value or of a word."""
    if value is None:
        return False
    v, w = value.casefold(), wanted.strip().casefold()
    return v.startswith(w) or any(part.startswith(w) for part in re.split(r"[\s\-']+", v))


Fetch = Callable[[str | None, int], tuple[list[Any], str | None]]


def collect(fetch: Fetch, keep: Callable[[Any], bool], convert: Callable[[Any], Stored], count: int,
            cursor: str | None, *, filtered: bool) -> Found:
    """A page of `count` matches at most, walking the context's own pages from `cursor`.

    Unfiltered, one context page is one FHIR page. Filtered, pages are walked, each asked for no more
    rows than the page still lacks, so the context cursor after the last row walked is exactly where
    the next FHIR page starts; the walk stops after SCAN_BUDGET rows and hands out that cursor.
    """
    if count == 0:
        return Found(items=[], next_cursor=None)
    if not filtered:
        rows, nxt = fetch(cursor, count)
        return Found(items=[convert(r) for r in rows], next_cursor=nxt)
    items: list[Stored] = []
    scanned = 0
    while True:
        rows, cursor = fetch(cursor, count - len(items))
        scanned += len(rows)
        items.extend(convert(r) for r in rows if keep(r))
        if cursor is None or len(items) >= count or scanned >= SCAN_BUDGET:
            return Found(items=items, next_cursor=cursor)


def count_all(fetch: Fetch, keep: Callable[[Any], bool], *, cap: int = 10_000) -> int | None:
    """The number of matches, walking every page; None past `cap` rows (then the Bundle states no total)."""
    total, scanned, cursor = 0, 0, None
    while True:
        rows, cursor = fetch(cursor, MAX_COUNT)
        scanned += len(rows)
        total += sum(1 for r in rows if keep(r))
        if cursor is None:
            return total
        if scanned >= cap:
            return None


def self_link(base: str, resource_type: str, raw: Iterable[tuple[str, str]], *, cursor: str | None,
              count: int) -> str:
    kept = [(k, v) for k, v in raw if k not in ("_cursor", "_count", "_format")]
    kept.append(("_count", str(count)))
    if cursor:
        kept.append(("_cursor", cursor))
    return f"{base}/{resource_type}?{urlencode(kept)}"


def searchset(base: str, resource_type: str, raw: list[tuple[str, str]], request: Request, found: Found | None,
              total: int | None) -> dict[str, Any]:
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if total is not None:
        bundle["total"] = total
    links = [{"relation": "self", "url": self_link(base, resource_type, raw, cursor=request.cursor,
                                                   count=request.count)}]
    if found is not None and found.next_cursor:
        links.append({"relation": "next", "url": self_link(base, resource_type, raw, cursor=found.next_cursor,
                                                           count=request.count)})
    bundle["link"] = links
    if found is not None:
        bundle["entry"] = [{"fullUrl": f"{base}/{resource_type}/{s.body['id']}", "resource": s.body,
                            "search": {"mode": "match"}} for s in found.items]
    return bundle

