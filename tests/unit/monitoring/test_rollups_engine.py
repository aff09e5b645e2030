"""Rollup buckets: alignment, exact merging (hours from minutes equal hours from raw), and width choice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carebridge.engines.vitals_rollups import HOUR, MINUTE, Aggregate, aggregate, bucket_start, coarsen, width_for

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def test_bucket_start_aligns_to_the_width() -> None:
    at = datetime(2026, 3, 10, 9, 41, 59, 999000, tzinfo=UTC)
    assert bucket_start(at, MINUTE) == datetime(2026, 3, 10, 9, 41, tzinfo=UTC)
    assert bucket_start(at, HOUR) == datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def test_bucket_start_converts_other_zones_to_utc() -> None:
    from zoneinfo import ZoneInfo

    at = datetime(2026, 3, 10, 15, 11, 30, tzinfo=ZoneInfo("Asia/Kolkata"))  # 09:41:30 UTC
    assert bucket_start(at, MINUTE) == datetime(2026, 3, 10, 9, 41, tzinfo=UTC)


def test_bucket_start_refuses_naive_times_and_bad_widths() -> None:
    with pytest.raises(ValueError, match="naive"):
        bucket_start(datetime(2026, 3, 10, 9, 0), MINUTE)
    with pytest.raises(ValueError, match="positive"):
        bucket_start(T0, 0)


def test_aggregate_counts_sums_and_extremes() -> None:
    points = [(T0 + timedelta(seconds=s), v) for s, v in [(0, 80.0), (20, 90.0), (59, 70.0), (60, 100.0)]]
    out = aggregate(points, MINUTE)
    assert out == {T0: Aggregate(3, 240.0, 70.0, 90.0), T0 + timedelta(minutes=1): Aggregate(1, 100.0, 100.0, 100.0)}
    assert out[T0].mean == 80.0


def test_width_for_span() -> None:
    assert width_for(timedelta(hours=6)) == MINUTE
    assert width_for(timedelta(hours=7)) == HOUR
    assert width_for(timedelta(days=30)) == HOUR


@given(st.lists(st.tuples(st.integers(0, 3 * 86400), st.floats(-1e6, 1e6, allow_nan=False)), max_size=200))
def test_property_hours_from_minutes_equal_hours_from_raw(raw: list[tuple[int, float]]) -> None:
    points = [(T0 + timedelta(seconds=s), v) for s, v in raw]
    direct = aggregate(points, HOUR)
    via_minutes = coarsen(aggregate(points, MINUTE).items(), HOUR)
    assert direct.keys() == via_minutes.keys()
    for key, agg in direct.items():
        other = via_minutes[key]
        assert (agg.count, agg.min, agg.max) == (other.count, other.min, other.max)
        assert agg.sum == pytest.approx(other.sum, rel=1e-9, abs=1e-6)
    assert sum(a.count for a in direct.values()) == len(points)
