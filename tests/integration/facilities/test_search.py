"""Nearest-facility search against the database: equal to a brute-force scan, fresh after every write."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from carebridge.contexts.facilities import search, service
from carebridge.contexts.facilities.schemas import FacilityCreate, FacilitySearch, FacilityType, Ownership
from carebridge.kernel.clock import FixedClock
from tests.integration.facilities.helpers import ALWAYS, NIGHT_HOURS, WEEKDAY_HOURS, payload

CODES = ["cardiology", "paediatrics", "dermatology", "general_practice", "emergency_medicine"]
SERVICES = ["radiology", "pathology"]


def _seed(session: Session, clock: FixedClock, rng: random.Random, n: int = 300) -> None:
    records = []
    for i in range(n):
        near = rng.random() < 0.7
        lat = 18.52 + rng.gauss(0, 0.08) if near else rng.uniform(8.0, 34.0)
        lng = 73.85 + rng.gauss(0, 0.08) if near else rng.uniform(69.0, 96.0)
        records.append(FacilityCreate.model_validate(payload(
            external_id=f"s-{i}", type=rng.choice(list(FacilityType)).value,
            ownership=rng.choice(list(Ownership)).value, emergency=rng.random() < 0.3,
            specialties=rng.sample(CODES, rng.randint(0, 3)), services=rng.sample(SERVICES, rng.randint(0, 2)),
            insurance=rng.sample(["pmjay", "cghs", "esi"], rng.randint(0, 2)),
            opening_hours=rng.choice([ALWAYS, WEEKDAY_HOURS, NIGHT_HOURS, None]),
            location={"lat": lat, "lng": lng}, active=rng.random() < 0.95)))
    service.upsert_many(session, records, now=clock.now())
    session.flush()


def _random_query(rng: random.Random) -> FacilitySearch:
    return FacilitySearch(
        lat=18.52 + rng.gauss(0, 0.3) if rng.random() < 0.8 else rng.uniform(8.0, 34.0),
        lng=73.85 + rng.gauss(0, 0.3) if rng.random() < 0.8 else rng.uniform(69.0, 96.0),
        radius_km=rng.choice([2.0, 10.0, 50.0, 500.0]), limit=rng.choice([1, 5, 10, 100]),
        specialty=rng.choice([None, *CODES[:4]]), service=rng.choice([None, None, *SERVICES]),
        insurance=rng.choice([None, None, "pmjay"]), emergency=rng.choice([None, True, False]),
        ownership=rng.choice([None, *Ownership]),
        types=rng.choice([[], [], [FacilityType.hospital, FacilityType.private_clinic]]),
        open_at=rng.choice([None, datetime(2026, 3, 10, 9, 30, tzinfo=UTC),  # Tue 15:00 IST
                            datetime(2026, 3, 10, 20, 0, tzinfo=UTC),       # Wed 01:30 IST
                            datetime(2026, 3, 14, 6, 0, tzinfo=UTC)]),      # Sat 11:30 IST
    )


def test_index_search_equals_brute_force_on_random_data(session: Session, clock: FixedClock) -> None:
    rng = random.Random(20260310)
    _seed(session, clock, rng)
    nonempty = 0
    for _ in range(120):
        query = _random_query(rng)
        got = search.search_ids(session, query=query)
        assert got == search.search_brute_force(session, query=query), query
        nonempty += bool(got)
    assert nonempty > 40  # the filters are not so narrow that every answer is trivially empty


def test_results_are_sorted_with_distance_travel_time_and_open_flag(session: Session, clock: FixedClock) -> None:
    for name, lat, hours in (("Far", 18.60, ALWAYS), ("Near", 18.521, ALWAYS), ("Closed", 18.5201, WEEKDAY_HOURS)):
        service.upsert_many(session, [FacilityCreate.model_validate(payload(
            name=name, location={"lat": lat, "lng": 73.85}, specialties=["cardiology"], opening_hours=hours))],
            now=clock.now())
    at = datetime(2026, 3, 14, 6, 0, tzinfo=UTC)  # Saturday: the weekday clinic is closed
    result = search.search_facilities(session, query=FacilitySearch(lat=18.52, lng=73.85, specialty="cardiology",
                                                                    open_at=at), road_factor=1.5,
                                      average_speed_kmh=30.0)
    assert [h.facility.name for h in result.items] == ["Near", "Far"]
    near = result.items[0]
    assert near.distance_km == pytest.approx(0.111, abs=0.002)
    assert near.travel_minutes == pytest.approx(round(near.distance_km * 1.5 / 30 * 60, 1), abs=0.1)
    assert near.open_at is True
    unfiltered = search.search_facilities(session, query=FacilitySearch(lat=18.52, lng=73.85, specialty="cardiology"))
    assert [h.facility.name for h in unfiltered.items] == ["Closed", "Near", "Far"]
    assert unfiltered.items[0].open_at is None


def test_writes_keep_the_search_fresh(session: Session, clock: FixedClock, factory: object) -> None:
    service.upsert_many(session, [FacilityCreate.model_validate(payload(
        external_id="fresh-1", specialties=["dermatology"], location={"lat": 18.52, "lng": 73.85}))], now=clock.now())
    query = FacilitySearch(lat=28.61, lng=77.21, specialty="dermatology", radius_km=50)
    assert search.search_ids(session, query=query) == []
    moved = FacilityCreate.model_validate(payload(
        external_id="fresh-1", specialties=["dermatology"], location={"lat": 28.62, "lng": 77.21}))
    service.upsert_many(session, [moved], now=clock.now())
    assert len(search.search_ids(session, query=query)) == 1
    no_longer = FacilityCreate.model_validate(payload(
        external_id="fresh-1", specialties=["cardiology"], location={"lat": 28.62, "lng": 77.21}))
    service.upsert_many(session, [no_longer], now=clock.now())
    assert search.search_ids(session, query=query) == []
    inactive = FacilityCreate.model_validate(payload(
        external_id="fresh-1", specialties=["dermatology"], location={"lat": 28.62, "lng": 77.21}, active=False))
    service.upsert_many(session, [inactive], now=clock.now())
    assert search.search_ids(session, query=query) == []
    assert search.search_ids(session, query=query.model_copy(update={"specialty": None})) == []
