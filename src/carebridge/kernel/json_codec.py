"""JSON text for the database's JSON columns, and copies of JSON values, by orjson where it can.

Every FHIR write stores its body two or three times (the version history, the body as received, the store of
types kept as JSON); the standard library's encoder was a tenth of the import writer's time, and orjson writes
the same JSON values about ten times faster. Where orjson would write something else than the standard library
(an integer beyond 64 bits or a key that is not a string: it refuses; NaN or an infinity: it writes null) the
standard library writes it, so what is stored means what it meant before. Only the text differs (compact,
non-ASCII as UTF-8 rather than `\\u` escapes); readers compare values, never text. Reading stays with the
standard library: orjson reads an integer beyond 64 bits as a float, which would lose digits.
"""

from __future__ import annotations

import copy as _copy
import json
import math
from typing import Any

import orjson


def _exact(value: Any) -> bytes | None:
    """orjson's text when it means the same value, else None."""
    try:
        out = orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return None
    if b"null" in out and _non_finite(value):  # a JSON null is rare, so the walk almost never runs
        return None
    return out


def _non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_non_finite(v) for v in value)
    return False


def dumps(value: Any) -> str:
    out = _exact(value)
    return out.decode() if out is not None else json.dumps(value)


def copy(value: Any) -> Any:
    """A deep copy of a JSON value (dicts, lists, strings, numbers), several times faster than `copy.deepcopy`;
    a tuple comes back as a list, as it would from the database."""
    out = _exact(value)
    if out is None:
        return _copy.deepcopy(value)
    return orjson.loads(out)
