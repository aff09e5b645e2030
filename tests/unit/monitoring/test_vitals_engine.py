"""Units, bounds and codes of vitals readings (engines/vitals.py); bounds and conversions are cited in
knowledge/vitals_catalog.json ("sources")."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carebridge.engines import news2
from carebridge.engines.vitals import READING_TYPES, ReadingProblem, catalog, glucose_mg_dl, news2_input, normalize


@pytest.mark.parametrize(("reading_type", "value", "unit", "expected", "canonical"), [
    ("temperature", 98.6, "[degF]", 37.0, "Cel"),          # (98.6 − 32) × 5/9
    ("temperature", 100.4, "[degF]", 38.0, "Cel"),
    ("temperature", 36.6, "Cel", 36.6, "Cel"),
    ("systolic_bp", 16.0, "kPa", 120.01, "mm[Hg]"),        # 16 kPa × 7.500617
    ("diastolic_bp", 10.6658, "kPa", 80.0, "mm[Hg]"),
    ("glucose", 90.0, "mg/dL", 4.9956, "mmol/L"),          # 90 / 18.016
    ("glucose", 5.5, "mmol/L", 5.5, "mmol/L"),
    ("weight", 154.0, "[lb_av]", 69.853, "kg"),            # 154 × 0.45359237
    ("heart_rate", 72, None, 72.0, "/min"),
    ("heart_rate", 72, "{beats}/min", 72.0, "/min"),
])
def test_conversion_to_canonical_unit(reading_type: str, value: float, unit: str | None, expected: float,
                                      canonical: str) -> None:
    reading = normalize(reading_type, value, unit)
    assert reading.unit == canonical
    assert math.isclose(reading.value, expected, abs_tol=0.01)


def test_glucose_round_trip_mmol_and_mg() -> None:
    assert math.isclose(glucose_mg_dl(normalize("glucose", 180.0, "mg/dL").value), 180.0)


@pytest.mark.parametrize(("reading_type", "loinc"), [
    ("heart_rate", "8867-4"), ("respiratory_rate", "9279-1"), ("spo2", "59408-5"), ("temperature", "8310-5"),
    ("systolic_bp", "8480-6"), ("diastolic_bp", "8462-4"), ("glucose", "2339-0"), ("weight", "29463-7"),
])
def test_loinc_codes(reading_type: str, loinc: str) -> None:
    assert normalize(reading_type, catalog()[reading_type].min or 1, None).loinc == loinc


@pytest.mark.parametrize(("reading_type", "value", "unit", "fragment"), [
    ("temperature", 98.6, "Cel", "outside the physiological bounds 10-47"),   # °F sent as °C
    ("temperature", 9.9, "Cel", "outside"),
    ("heart_rate", 19, None, "outside"),
    ("heart_rate", 301, None, "outside"),
    ("spo2", 101, "%", "outside"),
    ("spo2", 49, "%", "outside"),
    ("systolic_bp", 301, "mm[Hg]", "outside"),
    ("glucose", 61, "mmol/L", "outside"),
    ("glucose", 5.5, "mg/dl", "not accepted"),                                # UCUM is case-sensitive
    ("heart_rate", 70, "Cel", "not accepted"),
    ("pulse", 70, None, "unknown reading type"),
    ("heart_rate", float("nan"), None, "finite"),
    ("heart_rate", "70", None, "finite"),
    ("heart_rate", True, None, "true/false"),
    ("consciousness", "X", None, "one of A, C, V, P, U"),
    ("on_oxygen", 0.5, None, "0 (air) or 1"),
])
def test_rejections_say_why(reading_type: str, value: float, unit: str | None, fragment: str) -> None:
    with pytest.raises(ReadingProblem, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        normalize(reading_type, value, unit)


@pytest.mark.parametrize(("reading_type", "low", "high"), [
    ("heart_rate", 20, 300), ("respiratory_rate", 1, 80), ("spo2", 50, 100), ("temperature", 10, 47),
    ("systolic_bp", 40, 300), ("diastolic_bp", 20, 200), ("glucose", 0.5, 60), ("weight", 0.3, 650),
])
def test_bounds_are_inclusive(reading_type: str, low: float, high: float) -> None:
    assert normalize(reading_type, low).value == low
    assert normalize(reading_type, high).value == high


def test_categorical_readings_are_coded() -> None:
    assert normalize("consciousness", " v ").value == 2.0
    assert normalize("on_oxygen", True).value == 1.0


def test_every_type_has_a_source_backed_entry() -> None:
    assert set(READING_TYPES) >= {"heart_rate", "respiratory_rate", "spo2", "temperature", "systolic_bp",
                                  "diastolic_bp", "consciousness", "on_oxygen", "glucose", "weight", "steps"}


def test_news2_input_from_latest_values_scores_like_the_chart() -> None:
    # RCP NEWS2 Chart 1: RR 22 → 2, SpO2 94 (scale 1) → 1, air → 0, SBP 105 → 1, HR 95 → 1, A → 0, 37.0 → 0
    latest = {"respiratory_rate": 22, "spo2": 94, "on_oxygen": 0, "systolic_bp": 105, "heart_rate": 95,
              "consciousness": 0, "temperature": 37.0}
    result = news2.score_news2(news2_input(latest))
    assert (result.score, result.risk) == (5, "medium")


@given(st.floats(min_value=10, max_value=47))
def test_celsius_survives_a_fahrenheit_round_trip(celsius: float) -> None:
    assert math.isclose(normalize("temperature", celsius * 9 / 5 + 32, "[degF]").value, celsius, abs_tol=1e-9)
