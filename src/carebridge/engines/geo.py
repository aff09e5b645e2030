"""Great-circle distance, bounding boxes and an exact nearest-neighbour search over a lat/lng grid.

Distances use the haversine formula on a sphere of the IUGG mean Earth radius, 6371.0088 km
(Moritz, "Geodetic Reference System 1980", Journal of Geodesy 74 (2000); R1 = (2a + b) / 3). The
spherical model is within 0.5 % of the WGS 84 ellipsoid, far below the error of any travel estimate.

The bounding box of a circle follows J. P. Matuschek, "Finding Points Within a Distance of a
Latitude/Longitude Using Bounding Coordinates" (2010): latitude ± r/R, longitude
± asin(sin(r/R) / cos lat), widened to every longitude once the circle reaches a pole.

The search is built for a database that stores a grid cell id per point (an indexed integer column):
`nearest` walks outward in rings of doubling radius, asks a caller-supplied `fetch` for the points in
the cells the new ring adds (as a few ranges of cell ids plus the exact box), and stops as soon as the
k best accepted points are certainly the k nearest: a box of radius r contains every point within r,
so once k accepted points lie within r nothing outside can beat them. The result is therefore exactly
what a brute-force scan sorted by (distance, key) returns, which the property tests check.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

EARTH_RADIUS_KM = 6371.0088
MAX_RADIUS_KM = 20_015.1  # half the circumference: every point on Earth is within it

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


def validate_point(lat: float, lng: float) -> None:
    """Refuse what is not a WGS 84 coordinate (NaN, infinities, out of range)."""
    if not (math.isfinite(lat) and math.isfinite(lng)):
        raise ValueError("latitude and longitude must be finite numbers")
    if not -90.0 <= lat <= 90.0:
        raise ValueError(f"latitude {lat} is outside -90..90")
    if not -180.0 <= lng <= 180.0:
        raise ValueError(f"longitude {lng} is outside -180..180")


def haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def travel_minutes(distance_km: float, *, road_factor: float, average_speed_kmh: float) -> float:
    """A road-trip estimate from a straight-line distance: roads wind (factor) and traffic crawls (speed)."""
    if road_factor < 1.0 or average_speed_kmh <= 0:
        raise ValueError("road_factor must be >= 1 and average_speed_kmh > 0")
    return distance_km * road_factor / average_speed_kmh * 60.0


@dataclass(frozen=True, slots=True)
class Box:
    """A latitude/longitude rectangle; `min_lng > max_lng` never happens (see `split_antimeridian`)."""

    min_lat: float
    max_lat: float
    min_lng: float
    max_lng: float

    def contains(self, lat: float, lng: float) -> bool:
        return self.min_lat <= lat <= self.max_lat and self.min_lng <= lng <= self.max_lng


def bounding_boxes(lat: float, lng: float, radius_km: float) -> list[Box]:
    """Boxes (one, or two across the antimeridian) that together contain every point within radius_km."""
    validate_point(lat, lng)
    if radius_km < 0 or not math.isfinite(radius_km):
        raise ValueError("radius must be a non-negative finite number")
    ang = min(radius_km / EARTH_RADIUS_KM, math.pi)
    dlat = math.degrees(ang)
    min_lat, max_lat = lat - dlat, lat + dlat
    if min_lat <= -90.0 or max_lat >= 90.0 or ang >= math.pi / 2:
        return [Box(max(min_lat, -90.0), min(max_lat, 90.0), -180.0, 180.0)]
    ratio = math.sin(ang) / math.cos(math.radians(lat))
    if ratio >= 1.0:
        return [Box(min_lat, max_lat, -180.0, 180.0)]
    dlng = math.degrees(math.asin(ratio))
    return split_antimeridian(min_lat, max_lat, lng - dlng, lng + dlng)


def split_antimeridian(min_lat: float, max_lat: float, west: float, east: float) -> list[Box]:
    if east - west >= 360.0:
        return [Box(min_lat, max_lat, -180.0, 180.0)]
    if west < -180.0:
        return [Box(min_lat, max_lat, west + 360.0, 180.0), Box(min_lat, max_lat, -180.0, east)]
    if east > 180.0:
        return [Box(min_lat, max_lat, west, 180.0), Box(min_lat, max_lat, -180.0, east - 360.0)]
    return [Box(min_lat, max_lat, west, east)]


@dataclass(frozen=True, slots=True)
class Grid:
    """A global grid of `cell_deg` cells, grouped into square tiles of `tile_cells` x `tile_cells` cells.

    Ids run tile by tile (tiles row-major from the south-west corner) and row-major inside a tile, so
    one tile, and a row of adjacent tiles, is one contiguous id range. A small box becomes a few exact
    ranges (one per cell row per tile); a large one a few ranges of whole tiles (one per tile row),
    slightly too wide, which the caller trims with the box itself. A database therefore answers
    "points in this box" with a handful of index range scans whatever the box's size.
    """

    cell_deg: float = 0.05
    tile_cells: int = 20
    fine_ranges_limit: int = 24

    @property
    def rows(self) -> int:
        return math.ceil(180.0 / self.cell_deg)

    @property
    def cols(self) -> int:
        return math.ceil(360.0 / self.cell_deg)

    @property
    def tiles_per_row(self) -> int:
        return math.ceil(self.cols / self.tile_cells)

    def row_of(self, lat: float) -> int:
        return min(int((lat + 90.0) / self.cell_deg), self.rows - 1)

    def col_of(self, lng: float) -> int:
        return min(int((lng + 180.0) / self.cell_deg), self.cols - 1)

    def _id(self, row: int, col: int) -> int:
        t = self.tile_cells
        tr, lr = divmod(row, t)
        tc, lc = divmod(col, t)
        return ((tr * self.tiles_per_row + tc) * t + lr) * t + lc

    def cell_of(self, lat: float, lng: float) -> int:
        validate_point(lat, lng)
        return self._id(self.row_of(lat), self.col_of(lng))

    def ranges(self, box: Box) -> list[tuple[int, int]]:
        """Inclusive cell-id ranges covering the box (exact when few, whole tiles otherwise), merged."""
        t = self.tile_cells
        r0, r1 = self.row_of(box.min_lat), self.row_of(box.max_lat)
        c0, c1 = self.col_of(box.min_lng), self.col_of(box.max_lng)
        tc0, tc1 = c0 // t, c1 // t
        tpr = self.tiles_per_row
        if (r1 - r0 + 1) * (tc1 - tc0 + 1) <= self.fine_ranges_limit:
            out = []
            for row in range(r0, r1 + 1):
                tr, lr = divmod(row, t)
                for tc in range(tc0, tc1 + 1):
                    base = ((tr * tpr + tc) * t + lr) * t - tc * t
                    out.append((base + max(c0, tc * t), base + min(c1, tc * t + t - 1)))
            return merge_ranges(out)
        tile = t * t
        return merge_ranges(((tr * tpr + tc0) * tile, (tr * tpr + tc1) * tile + tile - 1)
                            for tr in range(r0 // t, r1 // t + 1))


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


@dataclass(frozen=True, slots=True)
class Area:
    """What one step of the search needs fetched: the cell ranges and the exact boxes (new area only)."""

    ranges: tuple[tuple[int, int], ...]
    boxes: tuple[Box, ...]
    previous: tuple[Box, ...] = ()  # what earlier rounds covered (a fetch may leave these points out)

    def hull(self) -> Box | None:
        """One box around `boxes` (all longitudes when they straddle the antimeridian)."""
        if not self.boxes:
            return None
        lng_lo, lng_hi = min(b.min_lng for b in self.boxes), max(b.max_lng for b in self.boxes)
        if len(self.boxes) > 1 and lng_hi - lng_lo > 180.0:
            lng_lo, lng_hi = -180.0, 180.0
        return Box(min(b.min_lat for b in self.boxes), max(b.max_lat for b in self.boxes), lng_lo, lng_hi)


@dataclass(frozen=True, slots=True)
class Hit(Generic[T]):
    distance_km: float
    item: T


@dataclass(slots=True)
class SearchStats:
    rounds: int = 0
    fetched: int = 0
    accepted: int = 0
    radii_km: list[float] = field(default_factory=list)


def nearest(
    lat: float,
    lng: float,
    *,
    k: int,
    radius_km: float,
    grid: Grid,
    fetch: Callable[[Area], Iterable[T]],
    locate: Callable[[T], tuple[float, float]],
    key: Callable[[T], K],
    accept: Callable[[T], bool] | None = None,
    start_km: float = 5.0,
    growth: float = 2.0,
    stats: SearchStats | None = None,
) -> list[Hit[T]]:
    """The k accepted points nearest to (lat, lng) within radius_km, by (distance, key).

    `fetch(area)` must return (at least) every point inside `area.boxes`; returning more is harmless
    (points already seen are de-duplicated by `key`, and distance is always checked). `accept` is the filter
    evaluated in Python (opening hours, say); it runs only on points within the radius.
    """
    validate_point(lat, lng)
    if k < 1:
        return []
    radius_km = min(radius_km, MAX_RADIUS_KM)
    seen: set[K] = set()
    pending: list[tuple[float, K, T]] = []  # within the radius, not yet judged by `accept`
    accepted: list[tuple[float, K, T]] = []
    previous: list[Box] = []
    r = min(max(start_km, 0.001), radius_km)
    while True:
        # a hair wider than r so rounding never loses a point lying exactly on the circle
        boxes = bounding_boxes(lat, lng, r * (1 + 1e-9) + 1e-6)
        area = _ring(grid, boxes, previous)
        if stats is not None:
            stats.rounds += 1
            stats.radii_km.append(r)
        if area.boxes:
            for item in fetch(area):
                ident = key(item)
                if ident in seen:
                    continue
                seen.add(ident)
                if stats is not None:
                    stats.fetched += 1
                plat, plng = locate(item)
                d = haversine_km(lat, lng, plat, plng)
                if d <= radius_km:
                    pending.append((d, ident, item))
        # Everything within r has been fetched, so the pending points within r can be judged nearest
        # first; `accept` (the costly check) runs only until k are accepted.
        covered = r if r < radius_km else math.inf
        pending.sort(key=lambda p: (p[0], p[1]))
        judged = 0
        for candidate in pending:
            if candidate[0] > covered or len(accepted) >= k:
                break
            judged += 1
            if accept is None or accept(candidate[2]):
                accepted.append(candidate)
        del pending[:judged]
        if len(accepted) >= k or r >= radius_km:
            break
        previous = boxes
        r = min(r * growth, radius_km)
    if stats is not None:
        stats.accepted = len(accepted)
    return [Hit(d, item) for d, _, item in accepted[:k]]


def _ring(grid: Grid, boxes: Sequence[Box], previous: Sequence[Box]) -> Area:
    """The part of `boxes` not in `previous`, as boxes to fetch plus their cell ranges."""
    pieces: list[Box] = []
    for box in boxes:
        pieces.extend(_subtract_all(box, previous))
    ranges = merge_ranges(rng for piece in pieces for rng in grid.ranges(piece))
    return Area(ranges=tuple(ranges), boxes=tuple(pieces), previous=tuple(previous))


def _subtract_all(box: Box, holes: Sequence[Box]) -> list[Box]:
    pieces = [box]
    for hole in holes:
        pieces = [part for piece in pieces for part in _subtract(piece, hole)]
    return pieces


def _subtract(box: Box, hole: Box) -> list[Box]:
    """box minus hole, as at most four boxes (bands above and below, sides between)."""
    lo_lat, hi_lat = max(box.min_lat, hole.min_lat), min(box.max_lat, hole.max_lat)
    lo_lng, hi_lng = max(box.min_lng, hole.min_lng), min(box.max_lng, hole.max_lng)
    if lo_lat > hi_lat or lo_lng > hi_lng:
        return [box]
    out: list[Box] = []
    if box.min_lat < lo_lat:
        out.append(Box(box.min_lat, lo_lat, box.min_lng, box.max_lng))
    if hi_lat < box.max_lat:
        out.append(Box(hi_lat, box.max_lat, box.min_lng, box.max_lng))
    if box.min_lng < lo_lng:
        out.append(Box(lo_lat, hi_lat, box.min_lng, lo_lng))
    if hi_lng < box.max_lng:
        out.append(Box(lo_lat, hi_lat, hi_lng, box.max_lng))
    return out


class GridIndex(Generic[K]):
    """An in-memory grid index: the same search as the database path, for tests and small offline sets."""

    def __init__(self, grid: Grid | None = None) -> None:
        self.grid = grid or Grid()
        self._cells: dict[int, dict[K, tuple[float, float]]] = {}
        self._where: dict[K, int] = {}

    def __len__(self) -> int:
        return len(self._where)

    def put(self, ident: K, lat: float, lng: float) -> None:
        self.remove(ident)
        cell = self.grid.cell_of(lat, lng)
        self._cells.setdefault(cell, {})[ident] = (lat, lng)
        self._where[ident] = cell

    def remove(self, ident: K) -> None:
        cell = self._where.pop(ident, None)
        if cell is not None:
            bucket = self._cells[cell]
            del bucket[ident]
            if not bucket:
                del self._cells[cell]

    def _fetch(self, area: Area) -> Iterable[tuple[K, float, float]]:
        for lo, hi in area.ranges:
            if hi - lo + 1 > len(self._cells):
                cells: Iterable[int] = (c for c in self._cells if lo <= c <= hi)
            else:
                cells = range(lo, hi + 1)
            for cell in cells:
                for ident, (plat, plng) in self._cells.get(cell, {}).items():
                    if any(b.contains(plat, plng) for b in area.boxes):
                        yield ident, plat, plng

    def nearest(self, lat: float, lng: float, *, k: int, radius_km: float,
                accept: Callable[[K], bool] | None = None) -> list[Hit[K]]:
        hits = nearest(
            lat, lng, k=k, radius_km=radius_km, grid=self.grid, fetch=self._fetch,
            locate=lambda t: (t[1], t[2]), key=lambda t: t[0],
            accept=(lambda t: accept(t[0])) if accept is not None else None,
        )
        return [Hit(h.distance_km, h.item[0]) for h in hits]
