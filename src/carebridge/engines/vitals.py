"""Vital-sign readings from devices: the reading types, their LOINC codes, UCUM units, unit conversion and the
physiological bounds a reading must fall within to be accepted.

The catalogue (codes, units, bounds and the source of each) lives in ``knowledge/vitals_catalog.json``;
this module only reads it. Pure functions, so the HTTP batch path and the MQTT gateway share one validation:

* ``normalize`` turns one raw reading (type, value, unit) into the canonical unit or says why it cannot;
  the caller reports the reason item by item instead of dropping the reading.
* Bounds are acceptance limits, deliberately wide: they catch a °F value sent as °C or an extra digit, never
  an abnormal but real value (those must be stored so they can raise an alert).
* Categorical readings are stored as numbers: consciousness as its ACVPU index (A=0 … U=4), supplemental
  oxygen as 0 (air) or 1 (oxygen). ``news2_input`` turns the latest readings back into a NEWS2 input.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

CATALOG_FILE = Path(__file__).resolve().parent / "knowledge" / "vitals_catalog.json"

ACVPU = ("A", "C", "V", "P", "U")
MMHG_PER_KPA = 1000 / 133.322387415
MG_DL_PER_MMOL_L = 18.016  # glucose, molar mass 180.16 g/mol
KG_PER_LB = 0.45359237

_CONVERSIONS: dict[str, Any] = {
    "identity": lambda v: v,
    "degf_to_cel": lambda v: (v - 32) * 5 / 9,
    "kpa_to_mmhg": lambda v: v * MMHG_PER_KPA,
    "mgdl_to_mmoll": lambda v: v / MG_DL_PER_MMOL_L,
    "lb_to_kg": lambda v: v * KG_PER_LB,
}


@dataclass(frozen=True, slots=True)
class ReadingType:
    code: str
    loinc: str
    display: str
    unit: str
    units: Mapping[str, str]
    min: float | None
    max: float | None
    codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Normalized:
    type: str
    value: float
    unit: str
    loinc: str


class ReadingProblem(ValueError):
    """A reading that cannot be stored; the message names why, for the item-by-item rejection report."""


@lru_cache(maxsize=1)
def catalog() -> dict[str, ReadingType]:
    data = json.loads(CATALOG_FILE.read_text(encoding="utf-8"))
    out: dict[str, ReadingType] = {}
    for code, spec in data["types"].items():
        for fn in spec["units"].values():
            if fn not in _CONVERSIONS:
                raise ValueError(f"{code}: unknown conversion {fn!r} in {CATALOG_FILE.name}")
        out[code] = ReadingType(code=code, loinc=spec["loinc"], display=spec["display"], unit=spec["unit"],
                                units=dict(spec["units"]), min=spec.get("min"), max=spec.get("max"),
                                codes=tuple(spec.get("codes", ())))
    return out


READING_TYPES: tuple[str, ...] = tuple(catalog())


def _fmt(value: float) -> str:
    return f"{value:g}"


def normalize(reading_type: str, value: float | str | bool, unit: str | None = None) -> Normalized:
    """The reading in its canonical unit; raises ``ReadingProblem`` for an unknown type or unit, a value that is
    not a finite number (or not an ACVPU letter), or a value outside the physiological bounds."""
    spec = catalog().get(reading_type)
    if spec is None:
        raise ReadingProblem(f"unknown reading type {reading_type[:40]!r}; expected one of {', '.join(catalog())}")
    given_unit = unit or spec.unit
    conversion = spec.units.get(given_unit)
    if conversion is None:
        raise ReadingProblem(f"{reading_type}: unit {given_unit[:40]!r} is not accepted; "
                             f"use one of {', '.join(spec.units)}")
    if spec.codes:
        if not isinstance(value, str) or value.strip().upper() not in spec.codes:
            raise ReadingProblem(f"{reading_type}: value must be one of {', '.join(spec.codes)}")
        return Normalized(reading_type, float(spec.codes.index(value.strip().upper())), spec.unit, spec.loinc)
    if isinstance(value, bool):
        if reading_type != "on_oxygen":
            raise ReadingProblem(f"{reading_type}: value must be a number, not true/false")
        value = float(value)
    if isinstance(value, str) or not math.isfinite(value):
        raise ReadingProblem(f"{reading_type}: value must be a finite number")
    converted = float(_CONVERSIONS[conversion](float(value)))
    if reading_type == "on_oxygen" and converted not in (0.0, 1.0):
        raise ReadingProblem("on_oxygen: value must be 0 (air) or 1 (supplemental oxygen)")
    if (spec.min is not None and converted < spec.min) or (spec.max is not None and converted > spec.max):
        shown = _fmt(round(converted, 2))
        raise ReadingProblem(f"{reading_type}: {shown} {spec.unit} is outside the physiological bounds "
                             f"{_fmt(spec.min or 0)}-{_fmt(spec.max or 0)} {spec.unit}")
    return Normalized(reading_type, converted, spec.unit, spec.loinc)


@lru_cache(maxsize=256)
def fast_limits(reading_type: str, unit: str | None) -> tuple[Any, float, float, str] | None:
    """For a numeric reading type and one of its accepted units: (conversion, low, high, stored unit), so a
    batch path can convert and bound-check a float in two steps; None where ``normalize`` must decide
    (categorical types, `on_oxygen`'s 0/1 rule, unknown types or units). A value outside [low, high] (or NaN)
    still goes to ``normalize`` for the worded rejection."""
    spec = catalog().get(reading_type)
    if spec is None or spec.codes or reading_type == "on_oxygen":
        return None
    conversion = spec.units.get(unit or spec.unit)
    if conversion is None:
        return None
    low = -math.inf if spec.min is None else spec.min
    high = math.inf if spec.max is None else spec.max
    return _CONVERSIONS[conversion], low, high, spec.unit


def glucose_mg_dl(mmol_l: float) -> float:
    """Glucose for display in mg/dL (stored in mmol/L)."""
    return mmol_l * MG_DL_PER_MMOL_L


def news2_input(latest: Mapping[str, float], *, spo2_scale: int = 1) -> dict[str, Any]:
    """The NEWS2 engine's input from the latest stored value of each reading type (canonical units)."""
    out: dict[str, Any] = {"spo2_scale": spo2_scale}
    for name in ("respiratory_rate", "spo2", "systolic_bp", "heart_rate", "temperature"):
        if name in latest:
            out[name] = float(latest[name])
    if "on_oxygen" in latest:
        out["on_oxygen"] = latest["on_oxygen"] >= 1
    if "consciousness" in latest:
        out["consciousness"] = ACVPU[min(max(int(latest["consciousness"]), 0), len(ACVPU) - 1)]
    return out
