"""The hand validator for well-formed readings agrees with `ReadingIn` (Pydantic) on everything it accepts, and
hands everything else to Pydantic, so the fast path can never accept what the schema refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from carebridge.contexts.monitoring.ingest import fast_parse
from carebridge.contexts.monitoring.schemas import ReadingIn

zones = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-3))])
times = st.builds(lambda d, z, micro: d.replace(tzinfo=z, microsecond=micro),
                  st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)), zones,
                  st.sampled_from([0, 500000, 123456]))
at_text = st.one_of(times.map(lambda t: t.isoformat()), times.map(lambda t: t.isoformat().replace("+00:00", "Z")),
                    st.text(max_size=30), st.sampled_from(["2026-03-10T09:30:00", "2026-02-30T09:30:00Z",
                                                           "2026-03-10 09:30:00+00:00", "1741599000"]))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 500), st.floats(allow_nan=False),
                    st.text(max_size=8), st.lists(st.integers(), max_size=2))
items = st.one_of(
    st.fixed_dictionaries({"type": st.one_of(st.sampled_from(["heart_rate", "spo2", ""]), scalars),
                           "value": scalars, "at": st.one_of(at_text, scalars)},
                          optional={"unit": st.one_of(st.none(), st.text(max_size=25), scalars),
                                    "spo2_scale": st.one_of(st.sampled_from([1, 2, 3, 1.0, True]), scalars),
                                    "extra": scalars}),
    scalars)


def _pydantic(raw: Any) -> tuple[Any, ...] | None:
    try:
        item = ReadingIn.model_validate(raw)
    except ValidationError:
        return None
    return item.type, item.value, item.unit, item.at, item.spo2_scale


@given(items)
def test_property_whatever_the_fast_path_accepts_pydantic_accepts_identically(raw: Any) -> None:
    fast = fast_parse(raw)
    if fast is None:
        return  # Pydantic decides (and words the rejection)
    slow = _pydantic(raw)
    assert slow is not None, f"fast path accepted what ReadingIn refuses: {raw!r}"
    assert fast == slow
    assert type(fast[1]) is type(slow[1])


def test_the_common_shapes_take_the_fast_path() -> None:
    at = "2026-03-10T09:30:00+05:30"
    assert fast_parse({"type": "heart_rate", "value": 72, "at": at}) == (
        "heart_rate", 72.0, None, datetime(2026, 3, 10, 4, 0, tzinfo=UTC), None)
    assert fast_parse({"type": "spo2", "value": 96.5, "unit": "%", "at": "2026-03-10T09:30:00.5Z",
                       "spo2_scale": 2}) is not None
    assert fast_parse({"type": "consciousness", "value": "A", "at": at}) is not None
    for odd in ({"type": "heart_rate", "value": 72, "at": "2026-03-10T09:30:00"},  # no zone: Pydantic refuses
                {"type": "heart_rate", "value": 72, "at": at, "colour": "red"},  # unknown field
                {"type": "heart_rate", "value": None, "at": at}, {"type": "heart_rate", "value": 72, "at": at,
                                                                   "spo2_scale": True}, [1, 2]):
        assert fast_parse(odd) is None


@given(times)
def test_property_the_sqlite_text_is_what_sqlalchemy_writes(at: datetime) -> None:
    """Rows the batch path writes and rows SQLAlchemy writes must spell a time alike, or the unique
    (device, time, type) index would not see a re-sent reading as a repeat."""
    from sqlalchemy.dialects.sqlite import DATETIME

    from carebridge.contexts.monitoring.ingest import _sqlite_time

    process = DATETIME().bind_processor(None)  # type: ignore[arg-type,no-untyped-call]
    assert process is not None
    expected = process(at.astimezone(UTC).replace(tzinfo=None))
    assert _sqlite_time(at) == expected
