"""Nearest-facility search: the k nearest facilities that match, by great-circle distance.

The database does the spatial prefilter through the indexed grid `cell` column (or the (key, cell)
index of `facility_search_keys` when a specialty, service or insurance is asked for), one ring of
cells at a time, widening until the engine can prove the k nearest have been seen
(`engines.geo.nearest`). Opening hours are checked in Python on those few rows, against the compiled
hours cached by their JSON text. No in-process index exists, so several API processes never disagree
and a committed change is visible to the next search.

`search_brute_force` answers the same question by scanning every active row without the index; it is
the reference the tests and the benchmark compare against.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Float, String, TextClause, TextualSelect, bindparam, cast, column, select, text
from sqlalchemy.orm import Session

from carebridge.contexts.facilities.models import Facility
from carebridge.contexts.facilities.schemas import FacilityHit, FacilitySearch, FacilitySearchResult
from carebridge.contexts.facilities.service import GRID, hours_from_json, read_from
from carebridge.engines.geo import Area, Box, SearchStats, haversine_km, nearest, travel_minutes
from carebridge.engines.opening_hours import CompiledHours, compiled_from_json

DEFAULT_ROAD_FACTOR = 1.4
"""Road distance / straight-line distance; 1.3-1.5 is typical of Indian road networks (see docs/facilities.md)."""
DEFAULT_AVERAGE_SPEED_KMH = 30.0
"""Door-to-door average including town traffic; rural highways are faster, city centres slower."""
DEFAULT_START_KM = 5.0
MIN_START_KM = 0.3
PROBE_RANGES = 8
PROBE_CAP = 2000
WIDTHS = (4, 8, 16, 32, 64)
"""Cell ranges per statement: the smallest that fits (little padding), 64 at most per statement."""

_F = Facility
_HOURS_TEXT = cast(_F.opening_hours, String)
# Core, built once: the hits are read without the ORM's per-row bookkeeping.
_HITS = select(*[c for c in Facility.__table__.c if c.name != "opening_hours"], _HOURS_TEXT.label("hours_text")).where(
    _F.id.in_(bindparam("ids", expanding=True)))


class _OpenCheck:
    """Is a stored schedule open at one instant? Local times computed once per zone per search."""

    def __init__(self, at: datetime) -> None:
        self.at = at
        self._local: dict[ZoneInfo, datetime] = {}

    def __call__(self, hours_text: str | None) -> bool:
        if not hours_text:
            return False
        try:
            compiled: CompiledHours = compiled_from_json(hours_text)
        except ValueError:
            return False  # a stored schedule that no longer parses is "unknown", never "open"
        local = self._local.get(compiled.zone)
        if local is None:
            local = self._local[compiled.zone] = self.at.astimezone(compiled.zone)
        return compiled.is_open_local(local)


def _keys(query: FacilitySearch) -> list[str]:
    keys = []
    if query.specialty:
        keys.append(f"s:{query.specialty}")
    if query.service:
        keys.append(f"s:{query.service}")
    if query.insurance:
        keys.append(f"i:{query.insurance}")
    return list(dict.fromkeys(keys))


def _attribute_filters(query: FacilitySearch) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [_F.active.is_(True)]
    if query.types:
        conds.append(_F.type.in_([t.value for t in query.types]))
    if query.emergency is not None:
        conds.append(_F.emergency.is_(query.emergency))
    if query.ownership is not None:
        conds.append(_F.ownership == query.ownership.value)
    return conds


_EMPTY_RANGE = (1, 0)  # lo > hi: matches nothing, pads a statement to its fixed shape
_NOWHERE = Box(1.0, 0.0, 1.0, 0.0)


def _box_params(prefix: str, box: Box) -> dict[str, float]:
    return {f"{prefix}min_lat": box.min_lat, f"{prefix}max_lat": box.max_lat,
            f"{prefix}min_lng": box.min_lng, f"{prefix}max_lng": box.max_lng}


@lru_cache(maxsize=256)
def _statement(postgres: bool, drive: bool, extra: int, hours: bool, types: bool, emergency: bool,
               ownership: bool, width: int) -> TextualSelect:
    """The prefilter SQL for one shape of question, written once and reused.

    Plain SQL text with named parameters: a Core construct this size (a UNION ALL of 64 selects)
    costs milliseconds per execution just to compute its cache key, while a text clause costs
    nothing. Portable to SQLite and PostgreSQL as written.
    """
    cols = "f.id, f.lat, f.lng" + (", CAST(f.opening_hours AS TEXT)" if hours else "")
    conds = ["f.active = :active"]
    if types:
        conds.append("f.type IN :types")
    if emergency:
        conds.append("f.emergency = :emergency")
    if ownership:
        conds.append("f.ownership = :ownership")
    # Only constants and loop indexes are formatted into this SQL; every value is a bound parameter.
    conds += [f"EXISTS (SELECT 1 FROM facility_search_keys k{j} WHERE k{j}.key = :extra{j} "  # noqa: S608
              f"AND k{j}.cell = f.cell AND k{j}.facility_id = f.id)" for j in range(extra)]
    # The box (this ring's hull minus the earlier rings' box) is tested on index columns, before a
    # facility row is read: a range of whole tiles may reach well past the box.
    box = ("{t}.lat BETWEEN :b_min_lat AND :b_max_lat AND {t}.lng BETWEEN :b_min_lng AND :b_max_lng AND NOT "
           "({t}.lat BETWEEN :p_min_lat AND :p_max_lat AND {t}.lng BETWEEN :p_min_lng AND :p_max_lng)")
    where = " AND ".join(conds)
    if postgres:
        # PostgreSQL turns an OR of ranges into a BitmapOr of (key, cell) index scans, planned cheaply;
        # a UNION ALL of 64 joins would cost it milliseconds of planning per execution.
        cells = " OR ".join(f"{'c' if drive else 'f'}.cell BETWEEN :lo{i} AND :hi{i}" for i in range(width))
        if drive:
            sql = (f"SELECT {cols} FROM facility_search_keys c JOIN facilities f ON f.id = c.facility_id "  # noqa: S608
                   f"WHERE c.key = :drive AND ({cells}) AND {box.format(t='c')} AND {where}")
        else:
            sql = f"SELECT {cols} FROM facilities f WHERE ({cells}) AND {box.format(t='f')} AND {where}"  # noqa: S608
    elif drive:
        # SQLite plans an OR of ranges over (key, cell) as a scan of every row of the key; a UNION ALL
        # of one range each is a seek each. The box is pushed down into the union's branches.
        parts = " UNION ALL ".join(
            f"SELECT facility_id, lat, lng FROM facility_search_keys "  # noqa: S608
            f"WHERE key = :drive AND cell BETWEEN :lo{i} AND :hi{i}" for i in range(width))
        sql = (f"SELECT {cols} FROM ({parts}) c JOIN facilities f ON f.id = c.facility_id "  # noqa: S608
               f"WHERE {box.format(t='c')} AND {where}")
    else:
        cells = " OR ".join(f"f.cell BETWEEN :lo{i} AND :hi{i}" for i in range(width))
        sql = f"SELECT {cols} FROM facilities f WHERE ({cells}) AND {box.format(t='f')} AND {where}"  # noqa: S608
    stmt = text(sql)
    if types:
        stmt = stmt.bindparams(bindparam("types", expanding=True))
    # the id comes back raw (hex text on SQLite) and becomes a UUID only for the few hits
    return stmt.columns(column("id", String()), column("lat", Float()), column("lng", Float()),
                        *([column("hours", String())] if hours else []))


def _fetcher(session: Session, query: FacilitySearch) -> Callable[[Area], list[Any]]:
    """A fetch for the engine: fixed-shape statements, each run for 4 to 64 cell ranges.

    The fixed shapes stay in the drivers' statement caches; the box conditions trim the cells' edges,
    and rows inside the box of an earlier round are left out (they were fetched then).
    """
    keys = _keys(query)
    drive, extra = (keys[0], keys[1:]) if keys else (None, [])
    base: dict[str, Any] = {"active": True, **{f"extra{j}": key for j, key in enumerate(extra)}}
    if drive is not None:
        base["drive"] = drive
    if query.types:
        base["types"] = [t.value for t in query.types]
    if query.emergency is not None:
        base["emergency"] = query.emergency
    if query.ownership is not None:
        base["ownership"] = query.ownership.value
    shape = (session.get_bind().dialect.name == "postgresql", drive is not None, len(extra),
             query.open_at is not None, bool(query.types), query.emergency is not None, query.ownership is not None)

    def fetch(area: Area) -> list[Any]:  # rows (id, lat, lng[, hours json text])
        hull = area.hull()
        if hull is None:
            return []
        params: dict[str, Any] = {**base, **_box_params("b_", hull),
                                  **_box_params("p_", area.previous[0] if len(area.previous) == 1 else _NOWHERE)}
        out: list[Any] = []
        conn = session.connection()
        width = next((w for w in WIDTHS if w >= len(area.ranges)), WIDTHS[-1])
        stmt = _statement(*shape, width)
        for start in range(0, len(area.ranges), width):
            chunk = list(area.ranges[start:start + width])
            chunk += [_EMPTY_RANGE] * (width - len(chunk))
            for i, (lo, hi) in enumerate(chunk):
                params[f"lo{i}"], params[f"hi{i}"] = lo, hi
            out.extend(conn.execute(stmt, params).all())
        return out

    return fetch


def _hits(session: Session, query: FacilitySearch, found: Sequence[tuple[float, uuid.UUID]], *,
          road_factor: float, average_speed_kmh: float) -> FacilitySearchResult:
    ids = [fid for _, fid in found]
    rows = {r.id: r for r in session.connection().execute(_HITS, {"ids": ids})} if ids else {}
    items = []
    for distance, fid in found:
        row = rows[fid]
        facility = read_from(row, hours_from_json(row.hours_text) if row.hours_text else None)
        open_flag = True if query.open_at is not None else None  # the search kept only open ones
        items.append(FacilityHit(
            facility=facility, distance_km=round(distance, 3),
            travel_minutes=round(travel_minutes(distance, road_factor=road_factor,
                                                average_speed_kmh=average_speed_kmh), 1),
            open_at=open_flag))
    return FacilitySearchResult(items=items, radius_km=query.radius_km, at=query.open_at)


def _start_radius(session: Session, query: FacilitySearch) -> float:
    """A first ring sized to the local density: tens of rows in a dense city, few rounds in the country.

    Counts candidate index entries (capped, so a count is never a long scan) in the 3 x 3 cells around
    the point and, when those hold fewer than asked, in the 3 x 3 tiles around it; picks the radius
    expected to hold twice the number asked. Any start gives the same answer; only the work differs.
    """
    keys = _keys(query)
    drive = keys[0] if keys else None
    for half in (GRID.cell_deg * 1.5, GRID.cell_deg * GRID.tile_cells * 1.5):
        box = Box(max(query.lat - half, -90.0), min(query.lat + half, 90.0), max(query.lng - half, -180.0),
                  min(query.lng + half, 180.0))
        ranges = GRID.ranges(box)[:PROBE_RANGES]
        params: dict[str, Any] = {"drive": drive, "cap": PROBE_CAP}
        for i, (lo, hi) in enumerate(ranges):
            params[f"lo{i}"], params[f"hi{i}"] = lo, hi
        count = session.connection().execute(_probe(len(ranges), drive is not None), params).scalar_one() or 0
        if count >= query.limit or count >= PROBE_CAP:
            break
    if count == 0:  # nothing within the 3 x 3 tiles: start at the edge of that emptiness
        return min(max(0.9 * half * 111.2 * math.cos(math.radians(query.lat)), DEFAULT_START_KM), query.radius_km)
    area_km2 = (2 * half * 111.2) ** 2 * max(math.cos(math.radians(query.lat)), 0.01)
    radius = math.sqrt(2 * query.limit / (math.pi * count / area_km2))
    return min(max(radius, MIN_START_KM), query.radius_km)


@lru_cache(maxsize=32)
def _probe(width: int, keyed: bool) -> TextClause:
    if keyed:
        parts = " UNION ALL ".join(f"SELECT 1 FROM facility_search_keys WHERE key = :drive "  # noqa: S608
                                   f"AND cell BETWEEN :lo{i} AND :hi{i}" for i in range(width))
    else:
        parts = " UNION ALL ".join(f"SELECT 1 FROM facilities WHERE cell BETWEEN :lo{i} AND :hi{i}"  # noqa: S608
                                   for i in range(width))
    return text(f"SELECT count(*) FROM ({parts} LIMIT :cap) p")  # noqa: S608


def search_ids(session: Session, *, query: FacilitySearch,
               stats: SearchStats | None = None) -> list[tuple[float, uuid.UUID]]:
    """(distance_km, facility id) of the nearest matches, nearest first (ties by id)."""
    check = _OpenCheck(query.open_at) if query.open_at is not None else None
    hits = nearest(
        query.lat, query.lng, k=query.limit, radius_km=query.radius_km, grid=GRID,
        fetch=_fetcher(session, query), locate=lambda row: (row[1], row[2]), key=lambda row: row[0],
        accept=(lambda row: check(row[3])) if check is not None else None, stats=stats,
        start_km=_start_radius(session, query),
    )
    return [(h.distance_km, _uuid(h.item[0])) for h in hits]


def _uuid(raw: Any) -> uuid.UUID:
    return raw if isinstance(raw, uuid.UUID) else uuid.UUID(hex=str(raw))


def search_facilities(session: Session, *, query: FacilitySearch, road_factor: float = DEFAULT_ROAD_FACTOR,
                      average_speed_kmh: float = DEFAULT_AVERAGE_SPEED_KMH,
                      stats: SearchStats | None = None) -> FacilitySearchResult:
    """Nearest matching facilities with distance, a travel-time estimate and whether open at the instant.

    Public data, no principal: anyone (a patient in an emergency included) may search.
    """
    found = search_ids(session, query=query, stats=stats)
    return _hits(session, query, found, road_factor=road_factor, average_speed_kmh=average_speed_kmh)


def search_brute_force(session: Session, *, query: FacilitySearch) -> list[tuple[float, uuid.UUID]]:
    """The same answer as `search_ids` by scanning every active facility: no cells, no keys table.

    Lists arrive as JSON text and are decoded only for rows within the radius, so the scan costs what
    reading the table costs; it is the baseline the index is measured against, not a straw man.
    """
    check = _OpenCheck(query.open_at) if query.open_at is not None else None
    wanted_codes = [c for c in (query.specialty, query.service) if c]
    stmt = select(_F.id, _F.lat, _F.lng, cast(_F.specialties, String), cast(_F.services, String),
                  cast(_F.insurance, String), _HOURS_TEXT).where(*_attribute_filters(query))
    found: list[tuple[float, uuid.UUID]] = []
    for fid, lat, lng, specialties, services, insurance, hours in session.connection().execute(stmt):
        d = haversine_km(query.lat, query.lng, lat, lng)
        if d > query.radius_km:
            continue
        codes = set(json.loads(specialties or "[]")) | set(json.loads(services or "[]"))
        if any(c not in codes for c in wanted_codes):
            continue
        if query.insurance and query.insurance not in json.loads(insurance or "[]"):
            continue
        if check is not None and not check(hours):
            continue
        found.append((d, fid))
    found.sort()
    return found[: query.limit]
