"""The geo engine: distances against published figures, boxes, and the grid search against brute force."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carebridge.engines.geo import (
    EARTH_RADIUS_KM,
    Box,
    Grid,
    GridIndex,
    SearchStats,
    bounding_boxes,
    haversine_km,
    nearest,
    travel_minutes,
    validate_point,
)

# Published great-circle distances, rescaled from the radius each source used to ours.
KNOWN = [
    # Rosetta Code, "Haversine formula": Nashville BNA (36.12, -86.67) to Los Angeles LAX (33.94, -118.40)
    # = 2887.2599506071106 km with R = 6372.8 km.
    ((36.12, -86.67), (33.94, -118.40), 2887.2599506071106 * EARTH_RADIUS_KM / 6372.8, 1e-6),
    # C. Veness, movable-type.co.uk/scripts/latlong.html: Land's End (50 03 59N, 005 42 53W) to
    # John o' Groats (58 38 38N, 003 04 12W) = 968.9 km with R = 6371 km (shown to 0.1 km).
    ((50 + 3 / 60 + 59 / 3600, -(5 + 42 / 60 + 53 / 3600)), (58 + 38 / 60 + 38 / 3600, -(3 + 4 / 60 + 12 / 3600)),
     968.9 * EARTH_RADIUS_KM / 6371.0, 0.06),
    # One degree along a meridian, and a quarter of a great circle (pole to equator).
    ((0.0, 0.0), (1.0, 0.0), EARTH_RADIUS_KM * math.pi / 180, 1e-9),
    ((90.0, 0.0), (0.0, 77.0), EARTH_RADIUS_KM * math.pi / 2, 1e-6),
    # Antipodes: half the circumference.
    ((0.0, 0.0), (0.0, 180.0), EARTH_RADIUS_KM * math.pi, 1e-6),
]


@pytest.mark.parametrize(("a", "b", "expected", "tol"), KNOWN)
def test_haversine_matches_published_distances(a: tuple[float, float], b: tuple[float, float], expected: float,
                                               tol: float) -> None:
    assert haversine_km(*a, *b) == pytest.approx(expected, abs=tol)
    assert haversine_km(*b, *a) == pytest.approx(expected, abs=tol)


def test_distance_across_the_antimeridian_is_short() -> None:
    assert haversine_km(0.0, 179.5, 0.0, -179.5) == pytest.approx(EARTH_RADIUS_KM * math.radians(1.0), rel=1e-9)


@pytest.mark.parametrize(("lat", "lng"), [(91, 0), (-90.5, 0), (0, 180.1), (math.nan, 0), (0, math.inf)])
def test_invalid_points_are_refused(lat: float, lng: float) -> None:
    with pytest.raises(ValueError):
        validate_point(lat, lng)


def test_travel_minutes_uses_road_factor_and_speed() -> None:
    assert travel_minutes(10.0, road_factor=1.5, average_speed_kmh=30.0) == pytest.approx(30.0)
    with pytest.raises(ValueError):
        travel_minutes(10.0, road_factor=0.5, average_speed_kmh=30.0)


def test_bounding_box_edges_are_exactly_radius_away() -> None:
    (box,) = bounding_boxes(28.6, 77.2, 50.0)
    assert haversine_km(28.6, 77.2, box.max_lat, 77.2) == pytest.approx(50.0, rel=1e-9)
    # the east edge touches the circle at the tangent point, so its nearest point is exactly r away
    nearest_on_edge = min(haversine_km(28.6, 77.2, 28.6 + i / 1000, box.max_lng) for i in range(-500, 500))
    assert nearest_on_edge == pytest.approx(50.0, rel=1e-4)


def test_bounding_box_splits_at_the_antimeridian_and_widens_at_poles() -> None:
    boxes = bounding_boxes(-17.7, 179.9, 100.0)  # Fiji
    assert len(boxes) == 2
    assert boxes[0].max_lng == 180.0 and boxes[1].min_lng == -180.0
    (polar,) = bounding_boxes(89.5, 10.0, 200.0)
    assert (polar.min_lng, polar.max_lng, polar.max_lat) == (-180.0, 180.0, 90.0)


def test_plain_row_major_grid_gives_one_range_per_row() -> None:
    grid = Grid(cell_deg=1.0, tile_cells=1, fine_ranges_limit=10_000)
    assert grid.ranges(Box(10.2, 12.7, 20.5, 22.1)) == [(r * 360 + 200, r * 360 + 202) for r in (100, 101, 102)]
    assert grid.ranges(Box(10.0, 10.5, -180.0, 180.0)) == [(100 * 360, 100 * 360 + 359)]


def test_small_boxes_get_exact_ranges_and_large_ones_whole_tiles() -> None:
    grid = Grid()  # 0.05 degree cells in 1 degree tiles
    small = grid.ranges(Box(18.50, 18.56, 73.80, 73.90))
    assert len(small) <= 4
    assert sum(hi - lo + 1 for lo, hi in small) == 2 * 3  # exactly the cells touched
    large = grid.ranges(Box(10.0, 19.9, 70.0, 79.9))
    assert len(large) == 10  # one range per tile row
    assert sum(hi - lo + 1 for lo, hi in large) == 100 * 400


@settings(max_examples=200, deadline=None)
@given(lat=st.floats(-89.0, 88.0), lng=st.floats(-180.0, 170.0), h=st.floats(0.0, 1.5), w=st.floats(0.0, 9.0),
       plat=st.floats(0.0, 1.0), plng=st.floats(0.0, 1.0))
def test_every_point_of_a_box_lies_in_one_of_its_ranges(lat: float, lng: float, h: float, w: float, plat: float,
                                                         plng: float) -> None:
    grid = Grid()
    box = Box(lat, lat + h, lng, lng + w)
    point = (lat + plat * h, lng + plng * w)
    cell = grid.cell_of(*point)
    assert any(lo <= cell <= hi for lo, hi in grid.ranges(box))


def _brute(points: dict[int, tuple[float, float]], lat: float, lng: float, k: int, radius: float,
           accept: set[int] | None) -> list[int]:
    scored = sorted((haversine_km(lat, lng, p[0], p[1]), i) for i, p in points.items()
                    if accept is None or i in accept)
    return [i for d, i in scored if d <= radius][:k]


lats = st.floats(-89.9, 89.9, allow_nan=False)
lngs = st.floats(-180.0, 180.0, allow_nan=False)


@settings(max_examples=150, deadline=None)
@given(
    points=st.lists(st.tuples(lats, lngs), min_size=0, max_size=80),
    center=st.tuples(lats, lngs),
    k=st.integers(1, 12),
    radius=st.floats(0.5, 3000.0),
    cell=st.sampled_from([0.05, 0.5, 2.0, 7.5]),
    keep_every=st.integers(1, 3),
)
def test_grid_index_equals_brute_force(points: list[tuple[float, float]], center: tuple[float, float], k: int,
                                       radius: float, cell: float, keep_every: int) -> None:
    index: GridIndex[int] = GridIndex(Grid(cell_deg=cell))
    table = dict(enumerate(points))
    for i, (plat, plng) in table.items():
        index.put(i, plat, plng)
    accept = {i for i in table if i % keep_every == 0}
    got = [h.item for h in index.nearest(center[0], center[1], k=k, radius_km=radius,
                                         accept=lambda i: i in accept)]
    assert got == _brute(table, center[0], center[1], k, radius, accept)


@settings(max_examples=60, deadline=None)
@given(
    offsets=st.lists(st.tuples(st.floats(-2.0, 2.0), st.floats(-2.0, 2.0)), min_size=1, max_size=60),
    k=st.integers(1, 10),
)
def test_search_near_the_antimeridian_equals_brute_force(offsets: list[tuple[float, float]], k: int) -> None:
    index: GridIndex[int] = GridIndex(Grid(cell_deg=0.25))
    table = {}
    for i, (dlat, dlng) in enumerate(offsets):
        lng = 179.5 + dlng
        lng = lng - 360 if lng > 180 else lng
        table[i] = (-17.0 + dlat, lng)
        index.put(i, *table[i])
    got = [h.item for h in index.nearest(-17.0, 179.9, k=k, radius_km=400)]
    assert got == _brute(table, -17.0, 179.9, k, 400, None)


def test_search_widens_in_rings_and_stops_once_k_are_certain() -> None:
    index: GridIndex[str] = GridIndex()
    index.put("near", 18.52, 73.86)
    index.put("far", 19.07, 72.88)  # ~120 km away
    stats = SearchStats()
    hits = nearest(18.52, 73.85, k=1, radius_km=500, grid=index.grid, fetch=index._fetch,
                   locate=lambda t: (t[1], t[2]), key=lambda t: t[0], stats=stats)
    assert [h.item[0] for h in hits] == ["near"]
    assert stats.rounds == 1
    stats = SearchStats()
    hits = nearest(18.52, 73.85, k=2, radius_km=500, grid=index.grid, fetch=index._fetch,
                   locate=lambda t: (t[1], t[2]), key=lambda t: t[0], stats=stats)
    assert [h.item[0] for h in hits] == ["near", "far"]
    assert stats.radii_km == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0]


def test_remove_and_move_points() -> None:
    index: GridIndex[str] = GridIndex()
    index.put("a", 10.0, 10.0)
    index.put("a", 20.0, 20.0)
    assert len(index) == 1
    assert [h.item for h in index.nearest(20.0, 20.0, k=5, radius_km=10)] == ["a"]
    index.remove("a")
    assert index.nearest(20.0, 20.0, k=5, radius_km=10) == []
