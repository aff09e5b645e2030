"""The JSON columns' writer: the same values as the standard library would store, whatever orjson makes of them."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carebridge.kernel import json_codec

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values, with NaN equal to itself (it is what the standard library reads back)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@given(json_values)
def test_what_is_written_reads_back_as_the_standard_library_would_store_it(value: Any) -> None:
    assert _same(json.loads(json_codec.dumps(value)), json.loads(json.dumps(value)))


@given(json_values)
def test_a_copy_equals_the_original_and_shares_nothing_with_it(value: Any) -> None:
    original = {"v": [value]}
    copied = json_codec.copy(original)
    assert _same(copied, original)
    copied["v"].append("added")
    assert original == {"v": [value]} or math.isnan(value)  # NaN is equal to nothing, not even itself


@pytest.mark.parametrize("value", [
    {"decimal": 123456789012345678901234567890},  # beyond 64 bits: orjson refuses
    {"nan": float("nan"), "inf": [float("inf")]},  # orjson would write null
    {1: "a key that is not a string"},  # orjson refuses
])
def test_values_orjson_cannot_write_exactly_are_written_as_before(value: Any) -> None:
    assert json_codec.dumps(value) == json.dumps(value)


def test_a_nested_copy_is_deep() -> None:
    body = {"code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}, "value": 72.5}
    copied = json_codec.copy(body)
    copied["code"]["coding"][0]["code"] = "changed"
    assert body["code"]["coding"][0]["code"] == "8867-4"
    assert copied["value"] == 72.5


def test_non_ascii_text_is_kept_as_written() -> None:
    assert json.loads(json_codec.dumps({"name": "आशा Zoë"})) == {"name": "आशा Zoë"}
