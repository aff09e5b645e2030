"""Time buckets and aggregates for the vitals charts: 1-minute buckets from raw readings, 1-hour buckets from
the 1-minute ones (so an hour stays right after its raw readings have gone past the retention).

Pure: no database. A bucket is named by its start (UTC, aligned to the width since the Unix epoch); its
aggregate keeps count, sum, min and max, which merge exactly (the mean is sum / count), so an hour built from
sixty minutes equals the hour built from the raw readings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MINUTE = 60
HOUR = 3600
WIDTHS = (MINUTE, HOUR)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Aggregate:
    count: int
    sum: float
    min: float
    max: float

    @property
    def mean(self) -> float:
        return self.sum / self.count

    def merge(self, other: Aggregate) -> Aggregate:
        return Aggregate(self.count + other.count, self.sum + other.sum, min(self.min, other.min),
                         max(self.max, other.max))


def bucket_start(at: datetime, width: int) -> datetime:
    """The start of the `width`-second bucket holding `at` (aware; answered in UTC)."""
    if at.tzinfo is None:
        raise ValueError("naive datetime")
    if width <= 0:
        raise ValueError("width must be positive")
    seconds = int((at - _EPOCH) // timedelta(seconds=1))
    return _EPOCH + timedelta(seconds=seconds - seconds % width)


def aggregate(points: Iterable[tuple[datetime, float]], width: int) -> dict[datetime, Aggregate]:
    """Raw (time, value) points into buckets of `width` seconds."""
    out: dict[datetime, Aggregate] = {}
    for at, value in points:
        start = bucket_start(at, width)
        one = Aggregate(1, value, value, value)
        out[start] = out[start].merge(one) if start in out else one
    return out


def coarsen(buckets: Iterable[tuple[datetime, Aggregate]], width: int) -> dict[datetime, Aggregate]:
    """Finer buckets (e.g. minutes) merged into buckets of `width` seconds (e.g. hours)."""
    out: dict[datetime, Aggregate] = {}
    for start, agg in buckets:
        key = bucket_start(start, width)
        out[key] = out[key].merge(agg) if key in out else agg
    return out


def width_for(span: timedelta, *, max_points: int = 400) -> int:
    """The finest rollup width that draws `span` in at most `max_points` buckets (hours past that)."""
    return MINUTE if span.total_seconds() / MINUTE <= max_points else HOUR
