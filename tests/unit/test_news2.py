"""NEWS2 engine, checked against the Royal College of Physicians' published charts.

Source: Royal College of Physicians. National Early Warning Score (NEWS) 2: Standardising the assessment of
acute-illness severity in the NHS. Updated report of a working party. London: RCP, December 2017.
Chart 1 (the NEWS scoring system), Chart 3 (NEWS thresholds and triggers), Chart 4 (clinical response).

The expected values below are transcribed from those charts independently of
src/carebridge/engines/knowledge/news2_chart.json, so a slip in the data file fails a test here.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from carebridge.engines.news2 import (
    CHART_FILE,
    MAX_BATCH,
    MAX_JSON_CHARS,
    PARAMETERS,
    IncompleteError,
    News2Input,
    parse_chart,
    round_half_up,
    run_json,
    score_news2,
)

NORMAL: dict[str, Any] = {
    "respiratory_rate": 16, "spo2": 98, "spo2_scale": 1, "on_oxygen": False, "systolic_bp": 120,
    "heart_rate": 70, "consciousness": "A", "temperature": 37.0,
}


def news2(**changes: Any) -> Any:
    return score_news2({**NORMAL, **changes})


# --- Chart 1: every cell of every row, both sides of every boundary -----------------------------------------

# (parameter, value, score). Rows as printed on RCP NEWS2 Chart 1:
#   Respiration rate (per minute)    ≤8 → 3 | 9-11 → 1 | 12-20 → 0 | 21-24 → 2 | ≥25 → 3
#   SpO2 Scale 1 (%)                 ≤91 → 3 | 92-93 → 2 | 94-95 → 1 | ≥96 → 0
#   Systolic blood pressure (mmHg)   ≤90 → 3 | 91-100 → 2 | 101-110 → 1 | 111-219 → 0 | ≥220 → 3
#   Pulse (per minute)               ≤40 → 3 | 41-50 → 1 | 51-90 → 0 | 91-110 → 1 | 111-130 → 2 | ≥131 → 3
#   Temperature (°C)                 ≤35.0 → 3 | 35.1-36.0 → 1 | 36.1-38.0 → 0 | 38.1-39.0 → 1 | ≥39.1 → 2
CHART_1_CELLS = [
    ("respiratory_rate", 1, 3), ("respiratory_rate", 5, 3), ("respiratory_rate", 8, 3),
    ("respiratory_rate", 9, 1), ("respiratory_rate", 10, 1), ("respiratory_rate", 11, 1),
    ("respiratory_rate", 12, 0), ("respiratory_rate", 16, 0), ("respiratory_rate", 20, 0),
    ("respiratory_rate", 21, 2), ("respiratory_rate", 22, 2), ("respiratory_rate", 24, 2),
    ("respiratory_rate", 25, 3), ("respiratory_rate", 40, 3), ("respiratory_rate", 80, 3),
    ("spo2", 1, 3), ("spo2", 85, 3), ("spo2", 91, 3),
    ("spo2", 92, 2), ("spo2", 93, 2),
    ("spo2", 94, 1), ("spo2", 95, 1),
    ("spo2", 96, 0), ("spo2", 98, 0), ("spo2", 100, 0),
    ("systolic_bp", 1, 3), ("systolic_bp", 70, 3), ("systolic_bp", 90, 3),
    ("systolic_bp", 91, 2), ("systolic_bp", 95, 2), ("systolic_bp", 100, 2),
    ("systolic_bp", 101, 1), ("systolic_bp", 105, 1), ("systolic_bp", 110, 1),
    ("systolic_bp", 111, 0), ("systolic_bp", 160, 0), ("systolic_bp", 219, 0),
    ("systolic_bp", 220, 3), ("systolic_bp", 260, 3), ("systolic_bp", 400, 3),
    ("heart_rate", 1, 3), ("heart_rate", 30, 3), ("heart_rate", 40, 3),
    ("heart_rate", 41, 1), ("heart_rate", 45, 1), ("heart_rate", 50, 1),
    ("heart_rate", 51, 0), ("heart_rate", 70, 0), ("heart_rate", 90, 0),
    ("heart_rate", 91, 1), ("heart_rate", 100, 1), ("heart_rate", 110, 1),
    ("heart_rate", 111, 2), ("heart_rate", 120, 2), ("heart_rate", 130, 2),
    ("heart_rate", 131, 3), ("heart_rate", 180, 3), ("heart_rate", 350, 3),
    ("temperature", 10.0, 3), ("temperature", 34.0, 3), ("temperature", 35.0, 3),
    ("temperature", 35.1, 1), ("temperature", 35.5, 1), ("temperature", 36.0, 1),
    ("temperature", 36.1, 0), ("temperature", 37.0, 0), ("temperature", 38.0, 0),
    ("temperature", 38.1, 1), ("temperature", 38.6, 1), ("temperature", 39.0, 1),
    ("temperature", 39.1, 2), ("temperature", 40.5, 2), ("temperature", 47.0, 2),
]


@pytest.mark.parametrize(("parameter", "value", "expected"), CHART_1_CELLS)
def test_chart_1_cell(parameter: str, value: float, expected: int) -> None:
    result = news2(**{parameter: value})
    assert result.parameters[parameter] == expected
    assert result.score == expected  # every other parameter is in its 0 cell


# RCP Chart 1, row "SpO2 Scale 2 (%)": ≤83 → 3 | 84-85 → 2 | 86-87 → 1 | 88-92 or ≥93 on air → 0 |
# 93-94 on oxygen → 1 | 95-96 on oxygen → 2 | ≥97 on oxygen → 3. (spo2, on_oxygen, spo2 score)
SCALE_2_CELLS = [
    (1, False, 3), (80, False, 3), (83, False, 3), (84, False, 2), (85, False, 2), (86, False, 1), (87, False, 1),
    (88, False, 0), (90, False, 0), (92, False, 0), (93, False, 0), (94, False, 0), (95, False, 0),
    (96, False, 0), (97, False, 0), (100, False, 0),
    (1, True, 3), (80, True, 3), (83, True, 3), (84, True, 2), (85, True, 2), (86, True, 1), (87, True, 1),
    (88, True, 0), (90, True, 0), (92, True, 0), (93, True, 1), (94, True, 1), (95, True, 2),
    (96, True, 2), (97, True, 3), (100, True, 3),
]


@pytest.mark.parametrize(("spo2", "on_oxygen", "expected"), SCALE_2_CELLS)
def test_chart_1_spo2_scale_2(spo2: int, on_oxygen: bool, expected: int) -> None:
    result = news2(spo2=spo2, spo2_scale=2, on_oxygen=on_oxygen)
    assert result.parameters["spo2"] == expected
    assert result.parameters["on_oxygen"] == (2 if on_oxygen else 0)
    assert result.score == expected + (2 if on_oxygen else 0)
    assert result.spo2_scale == 2


@pytest.mark.parametrize(("spo2", "expected"), [(91, 3), (93, 2), (95, 1), (96, 0), (100, 0)])
def test_scale_1_does_not_depend_on_oxygen(spo2: int, expected: int) -> None:
    on_air, on_oxygen = news2(spo2=spo2, on_oxygen=False), news2(spo2=spo2, on_oxygen=True)
    assert on_air.parameters["spo2"] == on_oxygen.parameters["spo2"] == expected
    assert on_oxygen.score == on_air.score + 2


def test_chart_1_air_or_oxygen() -> None:
    """Chart 1, row "Air or oxygen?": Oxygen → 2, Air → 0."""
    assert news2(on_oxygen=False).parameters["on_oxygen"] == 0
    assert news2(on_oxygen=True).parameters["on_oxygen"] == 2


@pytest.mark.parametrize(("level", "expected"), [("A", 0), ("C", 3), ("V", 3), ("P", 3), ("U", 3), ("c", 3), (" a ", 0)])
def test_chart_1_consciousness(level: str, expected: int) -> None:
    """Chart 1, row "Consciousness": Alert → 0; new Confusion, Voice, Pain, Unresponsive (CVPU) → 3."""
    assert news2(consciousness=level).parameters["consciousness"] == expected


def test_all_seven_parameters_reported_in_chart_order() -> None:
    assert tuple(news2().parameters) == PARAMETERS
    assert len(PARAMETERS) == 7


def test_highest_possible_score_is_20() -> None:
    worst = news2(respiratory_rate=30, spo2=80, on_oxygen=True, systolic_bp=80, heart_rate=150,
                  consciousness="U", temperature=34.0)
    assert worst.score == 20
    assert worst.parameters == {"respiratory_rate": 3, "spo2": 3, "on_oxygen": 2, "systolic_bp": 3,
                                "heart_rate": 3, "consciousness": 3, "temperature": 3}


# --- rounding: half up to the chart's precision -------------------------------------------------------------

ROUNDING = [
    ("respiratory_rate", 8.4, 3), ("respiratory_rate", 8.5, 1), ("respiratory_rate", 11.49, 1),
    ("respiratory_rate", 11.5, 0), ("respiratory_rate", 20.49, 0), ("respiratory_rate", 20.5, 2),
    ("respiratory_rate", 24.49, 2), ("respiratory_rate", 24.5, 3),
    ("spo2", 91.49, 3), ("spo2", 91.5, 2), ("spo2", 93.5, 1), ("spo2", 95.49, 1), ("spo2", 95.5, 0),
    ("systolic_bp", 90.49, 3), ("systolic_bp", 90.5, 2), ("systolic_bp", 110.5, 0),
    ("systolic_bp", 219.49, 0), ("systolic_bp", 219.5, 3),
    ("heart_rate", 40.49, 3), ("heart_rate", 40.5, 1), ("heart_rate", 50.5, 0), ("heart_rate", 90.49, 0),
    ("heart_rate", 90.5, 1), ("heart_rate", 110.5, 2), ("heart_rate", 130.49, 2), ("heart_rate", 130.5, 3),
    ("temperature", 35.04, 3), ("temperature", 35.05, 1), ("temperature", 36.04, 1), ("temperature", 36.05, 0),
    ("temperature", 38.04, 0), ("temperature", 38.05, 1), ("temperature", 39.04, 1), ("temperature", 39.05, 2),
    ("temperature", 35.0499, 3), ("temperature", 37, 0),
]


@pytest.mark.parametrize(("parameter", "value", "expected"), ROUNDING)
def test_values_round_half_up_to_chart_precision(parameter: str, value: float, expected: int) -> None:
    assert news2(**{parameter: value}).parameters[parameter] == expected


@pytest.mark.parametrize(("spo2", "on_oxygen", "expected"), [(92.49, True, 0), (92.5, True, 1), (96.5, True, 3),
                                                             (83.5, False, 2), (87.5, False, 0)])
def test_scale_2_rounds_half_up(spo2: float, on_oxygen: bool, expected: int) -> None:
    assert news2(spo2=spo2, spo2_scale=2, on_oxygen=on_oxygen).parameters["spo2"] == expected


@pytest.mark.parametrize(("value", "decimals", "expected"), [
    (2.5, 0, "3"), (3.5, 0, "4"), (2.4999, 0, "2"), (35.05, 1, "35.1"), (36.15, 1, "36.2"), (0.125, 2, "0.13"),
    (22, 0, "22"), (38.0, 1, "38.0"),
])
def test_round_half_up(value: float, decimals: int, expected: str) -> None:
    assert round_half_up(value, decimals) == Decimal(expected)


# --- Chart 3 (clinical risk) and Chart 4 (clinical response) ------------------------------------------------

RISK_CASES = [
    # (changes from normal, score, risk, single parameter 3, monitoring in Chart 4)
    ({}, 0, "low", False, "Minimum 12-hourly monitoring"),
    ({"temperature": 38.5}, 1, "low", False, "Minimum 4\u20136-hourly monitoring"),
    ({"respiratory_rate": 21, "heart_rate": 111}, 4, "low", False, "Minimum 4\u20136-hourly monitoring"),
    ({"consciousness": "V"}, 3, "low_medium", True, "Minimum 1-hourly monitoring"),
    ({"consciousness": "C", "temperature": 38.5}, 4, "low_medium", True, "Minimum 1-hourly monitoring"),
    ({"respiratory_rate": 21, "heart_rate": 111, "temperature": 38.5}, 5, "medium", False,
     "Minimum 1-hourly monitoring"),
    ({"consciousness": "V", "respiratory_rate": 21}, 5, "medium", True, "Minimum 1-hourly monitoring"),
    ({"respiratory_rate": 21, "heart_rate": 111, "systolic_bp": 95}, 6, "medium", False,
     "Minimum 1-hourly monitoring"),
    ({"respiratory_rate": 21, "heart_rate": 111, "systolic_bp": 95, "temperature": 38.5}, 7, "high", False,
     "Continuous monitoring of vital signs"),
    ({"consciousness": "U", "respiratory_rate": 21, "heart_rate": 111}, 7, "high", True,
     "Continuous monitoring of vital signs"),
    ({"respiratory_rate": 30, "spo2": 80, "on_oxygen": True, "systolic_bp": 80, "heart_rate": 150,
      "consciousness": "U", "temperature": 34.0}, 20, "high", True, "Continuous monitoring of vital signs"),
]


@pytest.mark.parametrize(("changes", "score", "risk", "red", "monitoring"), RISK_CASES)
def test_chart_3_risk_and_chart_4_response(changes: dict[str, Any], score: int, risk: str, red: bool,
                                           monitoring: str) -> None:
    result = news2(**changes)
    assert (result.score, result.risk, result.single_parameter_3) == (score, risk, red)
    assert result.monitoring == monitoring
    assert result.response.startswith(monitoring + ". ")
    assert result.complete and result.missing == ()


def test_risk_boundaries_4_5_and_6_7() -> None:
    four = news2(respiratory_rate=21, heart_rate=111)
    five = news2(respiratory_rate=21, heart_rate=111, temperature=38.5)
    six = news2(respiratory_rate=21, heart_rate=111, systolic_bp=95)
    seven = news2(respiratory_rate=21, heart_rate=111, systolic_bp=95, temperature=38.5)
    assert [r.score for r in (four, five, six, seven)] == [4, 5, 6, 7]
    assert [r.risk for r in (four, five, six, seven)] == ["low", "medium", "medium", "high"]


def test_a_single_3_is_low_medium_only_below_the_aggregate_thresholds() -> None:
    """Chart 3: a red score (3 in any individual parameter) is low-medium; aggregates of 5+ and 7+ take over."""
    for parameter, value in [("respiratory_rate", 8), ("respiratory_rate", 25), ("spo2", 91), ("systolic_bp", 90),
                             ("systolic_bp", 220), ("heart_rate", 40), ("heart_rate", 131), ("consciousness", "P"),
                             ("temperature", 35.0)]:
        result = news2(**{parameter: value})
        assert (result.score, result.risk, result.single_parameter_3) == (3, "low_medium", True), parameter
    # Air or oxygen scores at most 2, and a 2 is never a red score.
    assert not news2(on_oxygen=True).single_parameter_3
    assert news2(on_oxygen=True).risk == "low"


def test_chart_4_response_text() -> None:
    assert news2().response == "Minimum 12-hourly monitoring. Continue routine NEWS monitoring."
    assert "Inform registered nurse, who must assess the patient" in news2(temperature=38.5).response
    assert "Registered nurse to inform medical team caring for the patient" in news2(consciousness="C").response
    urgent = news2(respiratory_rate=21, heart_rate=111, temperature=38.5)
    assert urgent.actions[0] == "Urgent response"
    assert "urgent assessment by a clinician or team with core competencies" in urgent.response
    emergency = news2(respiratory_rate=21, heart_rate=111, systolic_bp=95, temperature=38.5)
    assert emergency.actions[0] == "Emergency response"
    assert "at least at specialist registrar level" in emergency.response
    assert "level 2 or 3 clinical care facility" in emergency.response


# --- the CLI contract example, worked by hand from Chart 1 ---------------------------------------------------

EXAMPLE = {"respiratory_rate": 22, "spo2": 93, "spo2_scale": 1, "on_oxygen": False, "systolic_bp": 105,
           "heart_rate": 115, "consciousness": "A", "temperature": 38.6}
# RR 22 → 21-24 → 2; SpO2 93 (Scale 1) → 92-93 → 2; air → 0; SBP 105 → 101-110 → 1; pulse 115 → 111-130 → 2;
# Alert → 0; 38.6 °C → 38.1-39.0 → 1. Total 8: high (Chart 3, 7 or more); no single 3.
EXAMPLE_PARAMETERS = {"respiratory_rate": 2, "spo2": 2, "on_oxygen": 0, "systolic_bp": 1, "heart_rate": 2,
                      "consciousness": 0, "temperature": 1}


def test_run_json_example() -> None:
    out = json.loads(run_json(json.dumps(EXAMPLE)))
    assert out["score"] == 8
    assert out["risk"] == "high"
    assert out["parameters"] == EXAMPLE_PARAMETERS
    assert out["single_parameter_3"] is False
    assert out["response"].startswith("Continuous monitoring of vital signs. Emergency response.")
    assert {"score", "risk", "parameters", "response", "single_parameter_3", "complete", "missing"} <= set(out)
    assert out["complete"] is True
    assert out["missing"] == []


def test_run_json_list_in_list_out_with_errors_per_item() -> None:
    items = [EXAMPLE, {**EXAMPLE, "temperature": 98.6}, 7, {**EXAMPLE, "consciousness": "A", "heart_rate": 70}]
    out = json.loads(run_json(json.dumps(items)))
    assert isinstance(out, list)
    assert len(out) == 4
    assert out[0]["score"] == 8
    assert set(out[1]) == {"error"}
    assert out[1]["error"].startswith("temperature: 98.6 °C is not a possible value")
    assert out[2] == {"error": "expected a JSON object of observations"}
    assert out[3]["score"] == 6
    assert json.loads(run_json("[]")) == []


def test_run_json_missing_parameters() -> None:
    partial = {k: v for k, v in EXAMPLE.items() if k not in ("temperature", "on_oxygen")}
    out = json.loads(run_json(json.dumps(partial)))
    assert out["missing"] == ["on_oxygen", "temperature"]
    assert "missing: on_oxygen, temperature" in out["error"]
    lenient = json.loads(run_json(json.dumps(partial), allow_partial=True))
    assert (lenient["score"], lenient["complete"], lenient["missing"]) == (7, False, ["on_oxygen", "temperature"])


@pytest.mark.parametrize("text", ["", "not json", "{", '{"a": }', "[1, 2", "NaN garbage"])
def test_run_json_invalid_json(text: str) -> None:
    out = json.loads(run_json(text))
    assert out["error"].startswith("input is not valid JSON")


@pytest.mark.parametrize("text", ["null", "3", '"A"', "true"])
def test_run_json_non_object(text: str) -> None:
    assert json.loads(run_json(text)) == {"error": "expected a JSON object of observations"}


def test_run_json_limits() -> None:
    assert "longer than" in json.loads(run_json(" " * (MAX_JSON_CHARS + 1)))["error"]
    assert "at most" in json.loads(run_json(json.dumps([{}] * (MAX_BATCH + 1))))["error"]
    assert len(json.loads(run_json(json.dumps([EXAMPLE] * MAX_BATCH)))) == MAX_BATCH
    deep = "[" * 200_000 + "]" * 200_000
    assert "error" in json.loads(run_json(deep[:MAX_JSON_CHARS]))


def test_run_json_non_finite_numbers() -> None:
    for text in ('{"temperature": NaN}', '{"heart_rate": Infinity}', '{"spo2": 1e400}'):
        out = json.loads(run_json(text))
        assert "finite" in out["error"], text


# --- validation: impossible, malformed and missing values --------------------------------------------------

IMPOSSIBLE = [
    ("respiratory_rate", 0), ("respiratory_rate", 0.5), ("respiratory_rate", 81), ("respiratory_rate", -4),
    ("spo2", 0), ("spo2", 100.1), ("spo2", 101), ("systolic_bp", 0), ("systolic_bp", 401), ("systolic_bp", 1200),
    ("heart_rate", 0), ("heart_rate", 351), ("temperature", 9.9), ("temperature", 47.1), ("temperature", 98.6),
    ("temperature", -37.0),
]


@pytest.mark.parametrize(("parameter", "value"), IMPOSSIBLE)
def test_impossible_values_rejected(parameter: str, value: float) -> None:
    with pytest.raises(ValidationError) as info:
        news2(**{parameter: value})
    assert info.value.errors()[0]["loc"] == (parameter,)
    assert "is not a possible value" in str(info.value)


MALFORMED = [
    ("respiratory_rate", "22"), ("respiratory_rate", True), ("spo2", [95]), ("spo2", float("nan")),
    ("temperature", float("inf")), ("on_oxygen", "yes"), ("on_oxygen", 1), ("spo2_scale", 3),
    ("spo2_scale", True), ("spo2_scale", "2"), ("spo2_scale", None), ("consciousness", "X"),
    ("consciousness", "Alert"), ("consciousness", 0), ("heart_rate", {"value": 70}),
]


@pytest.mark.parametrize(("parameter", "value"), MALFORMED)
def test_malformed_values_rejected(parameter: str, value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        news2(**{parameter: value})
    assert info.value.errors()[0]["loc"][0] == parameter


def test_unknown_fields_rejected() -> None:
    with pytest.raises(ValidationError, match="respiration_rate"):
        news2(respiration_rate=16)


def test_all_seven_required() -> None:
    with pytest.raises(IncompleteError) as info:
        score_news2({})
    assert info.value.missing == PARAMETERS
    assert str(info.value).startswith("NEWS2 needs all seven parameters; missing: respiratory_rate, spo2")


@pytest.mark.parametrize("parameter", PARAMETERS)
def test_each_missing_parameter_named(parameter: str) -> None:
    for observations in ({k: v for k, v in NORMAL.items() if k != parameter}, {**NORMAL, parameter: None}):
        with pytest.raises(IncompleteError) as info:
            score_news2(observations)
        assert info.value.missing == (parameter,)
        assert isinstance(info.value, ValueError)


def test_spo2_scale_defaults_to_1() -> None:
    observations = {k: v for k, v in NORMAL.items() if k != "spo2_scale"}
    result = score_news2({**observations, "spo2": 93})
    assert (result.spo2_scale, result.parameters["spo2"]) == (1, 2)


def test_accepts_a_model() -> None:
    assert score_news2(News2Input(**NORMAL)).score == 0


@pytest.mark.parametrize("parameter", PARAMETERS)
def test_partial_score_flags_what_is_missing(parameter: str) -> None:
    observations = {**NORMAL, "respiratory_rate": 22, "on_oxygen": True, "temperature": 38.5}
    full = score_news2(observations)
    partial = score_news2({k: v for k, v in observations.items() if k != parameter}, allow_partial=True)
    assert partial.complete is False
    assert partial.missing == (parameter,)
    assert parameter not in partial.parameters
    assert partial.score == full.score - full.parameters[parameter]
    assert partial.response.startswith(f"Incomplete NEWS2, not scored: {parameter}; the score is a lower bound. ")


def test_partial_with_nothing_recorded() -> None:
    result = score_news2({}, allow_partial=True)
    assert (result.score, result.parameters, result.missing, result.complete) == (0, {}, PARAMETERS, False)


def test_complete_partial_is_just_complete() -> None:
    assert score_news2(NORMAL, allow_partial=True) == score_news2(NORMAL)


@pytest.mark.parametrize(("spo2", "scored"), [(83, 3), (85, 2), (87, 1), (90, 0), (92, 0), (93, None), (99, None)])
def test_partial_scale_2_without_air_or_oxygen(spo2: int, scored: int | None) -> None:
    """Below 93% Scale 2 scores the same on air and oxygen; from 93% it cannot be scored without knowing."""
    observations = {k: v for k, v in NORMAL.items() if k != "on_oxygen"}
    result = score_news2({**observations, "spo2": spo2, "spo2_scale": 2}, allow_partial=True)
    assert result.parameters.get("spo2") == scored
    assert result.missing == (("on_oxygen",) if scored is not None else ("spo2", "on_oxygen"))


# --- the chart file ----------------------------------------------------------------------------------------


def _chart_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(CHART_FILE.read_text(encoding="utf-8"), parse_float=Decimal)
    return data


def _reparse(data: dict[str, Any]) -> None:
    parse_chart(json.dumps(data, default=str))


def test_chart_file_cites_its_source() -> None:
    chart = parse_chart(CHART_FILE.read_text(encoding="utf-8"))
    assert "Royal College of Physicians" in chart.source.citation
    assert "2017" in chart.source.citation
    assert chart.source.charts["parameters"].startswith("Chart 1")
    assert (chart.thresholds.medium_from, chart.thresholds.high_from, chart.thresholds.red_parameter_score) == (5, 7, 3)
    assert chart.clinical_risk.low_medium.response == "Urgent ward-based response"


@pytest.mark.parametrize(("row", "index", "change", "problem"), [
    ("respiratory_rate", 1, {"min": 10}, "without gap or overlap"),
    ("respiratory_rate", 1, {"min": 8}, "without gap or overlap"),
    ("respiratory_rate", 0, {"min": 1}, "open below"),
    ("respiratory_rate", 4, {"max": 80}, "open above"),
    ("respiratory_rate", 1, {"min": 11, "max": 9}, "above its max"),
    ("temperature", 1, {"min": "35.2"}, "without gap or overlap"),
    ("spo2_scale_2", 5, {"min": 94}, "without gap or overlap"),
    ("spo2_scale_2", 4, {"on": None}, "without gap or overlap"),
])
def test_malformed_chart_rejected(row: str, index: int, change: dict[str, Any], problem: str) -> None:
    data = _chart_data()
    band = data["parameters"][row]["bands"][index]
    for key, value in change.items():
        if value is None:
            band.pop(key)
        else:
            band[key] = value
    with pytest.raises(ValidationError, match=problem):
        _reparse(data)


def test_chart_open_ended_middle_cell_rejected() -> None:
    data = _chart_data()
    del data["parameters"]["heart_rate"]["bands"][2]["max"]
    with pytest.raises(ValidationError, match="without gap or overlap"):
        _reparse(data)


def test_chart_missing_acvpu_level_rejected() -> None:
    data = copy.deepcopy(_chart_data())
    del data["parameters"]["consciousness"]["scores"]["C"]
    with pytest.raises(ValidationError):
        _reparse(data)


# --- properties --------------------------------------------------------------------------------------------

LIMITS = {"respiratory_rate": (1, 80), "spo2": (1, 100), "systolic_bp": (1, 400), "heart_rate": (1, 350),
          "temperature": (10, 47)}


def _value(name: str) -> st.SearchStrategy[float]:
    low, high = LIMITS[name]
    decimal_places = st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)
    whole = st.integers(min_value=low, max_value=high).map(float)
    tenths = st.integers(min_value=low * 10, max_value=high * 10).map(lambda t: t / 10)
    return st.one_of(whole, tenths, decimal_places)


observations = st.fixed_dictionaries({
    "respiratory_rate": _value("respiratory_rate"),
    "spo2": _value("spo2"),
    "spo2_scale": st.sampled_from([1, 2]),
    "on_oxygen": st.booleans(),
    "systolic_bp": _value("systolic_bp"),
    "heart_rate": _value("heart_rate"),
    "consciousness": st.sampled_from(["A", "C", "V", "P", "U"]),
    "temperature": _value("temperature"),
})


@given(observations)
def test_property_score_is_the_sum_within_0_to_20(obs: dict[str, Any]) -> None:
    result = score_news2(obs)
    assert result.score == sum(result.parameters.values())
    assert 0 <= result.score <= 20
    assert all(0 <= value <= 3 for value in result.parameters.values())
    assert result.single_parameter_3 == (3 in result.parameters.values())
    expected_risk = ("high" if result.score >= 7 else "medium" if result.score >= 5
                     else "low_medium" if result.single_parameter_3 else "low")
    assert result.risk == expected_risk


def _centre(name: str, obs: dict[str, Any]) -> float:
    """A value inside the 0-scoring cell, from which every step outwards is a step away from normal."""
    if name == "spo2":
        return 90 if obs["spo2_scale"] == 2 and obs["on_oxygen"] else 100
    return {"respiratory_rate": 16, "systolic_bp": 160, "heart_rate": 70, "temperature": 37.0}[name]


@given(obs=observations, name=st.sampled_from(sorted(LIMITS)), data=st.data())
def test_property_worsening_one_vital_sign_never_lowers_the_score(obs: dict[str, Any], name: str,
                                                                 data: st.DataObject) -> None:
    low, high = LIMITS[name]
    centre = _centre(name, obs)
    upwards = data.draw(st.booleans()) and centre < high
    bounds = (centre, high) if upwards else (low, centre)
    a, b = sorted(data.draw(st.floats(*bounds, allow_nan=False)) for _ in range(2))
    nearer, further = (a, b) if upwards else (b, a)
    assert score_news2({**obs, name: further}).score >= score_news2({**obs, name: nearer}).score


@given(observations, st.sampled_from(["C", "V", "P", "U"]))
def test_property_loss_of_alertness_or_starting_oxygen_never_lowers_the_score(obs: dict[str, Any],
                                                                              level: str) -> None:
    alert = score_news2({**obs, "consciousness": "A"}).score
    assert score_news2({**obs, "consciousness": level}).score >= alert
    on_air = score_news2({**obs, "on_oxygen": False}).score
    assert score_news2({**obs, "on_oxygen": True}).score >= on_air + 2


@given(observations, st.sets(st.sampled_from(PARAMETERS)))
def test_property_partial_score_is_a_lower_bound(obs: dict[str, Any], dropped: set[str]) -> None:
    full = score_news2(obs)
    partial = score_news2({k: v for k, v in obs.items() if k not in dropped}, allow_partial=True)
    assert partial.score <= full.score
    assert set(dropped) <= set(partial.missing)
    assert partial.complete == (not partial.missing)
    assert all(full.parameters[name] == value for name, value in partial.parameters.items())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from([*PARAMETERS, "spo2_scale", "other"]), inner, max_size=8),
    max_leaves=20,
)


@settings(max_examples=200)
@given(st.one_of(json_values.map(json.dumps), st.text(max_size=200)))
def test_property_run_json_always_answers_with_json(text: str) -> None:
    out = json.loads(run_json(text))
    items = out if isinstance(out, list) else [out]
    for item in items:
        assert isinstance(item, dict)
        assert ("error" in item) != ("score" in item)


def test_docs_worked_example_matches_the_engine() -> None:
    """docs/news2.md shows the CLI example worked by hand; keep the page and the engine in step."""
    doc = (CHART_FILE.parents[4] / "docs" / "news2.md").read_text(encoding="utf-8")
    example = json.loads(doc.split("```json\n", 1)[1].split("```", 1)[0])
    assert example == EXAMPLE
    out = json.loads(run_json(json.dumps(example)))
    assert f"The total is **{out['score']}**, so the risk is\n`{out['risk']}`" in doc
    for name, points in out["parameters"].items():
        assert f'"{name}": {points}' in doc
