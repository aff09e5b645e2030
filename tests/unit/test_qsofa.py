"""qSOFA engine, checked against its published definition.

Sources: Seymour CW, Liu VX, Iwashyna TJ, et al. Assessment of Clinical Criteria for Sepsis (Sepsis-3).
JAMA. 2016;315(8):762-774; Singer M, Deutschman CS, Seymour CW, et al. The Third International Consensus
Definitions for Sepsis and Septic Shock (Sepsis-3). JAMA. 2016;315(8):801-810, Box 4: respiratory rate
≥ 22/min, altered mentation, systolic blood pressure ≤ 100 mmHg; one point each, 2 or more is positive.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from carebridge.engines.qsofa import QsofaInput, run_json, score_qsofa

NONE_MET: dict[str, Any] = {"respiratory_rate": 16, "systolic_bp": 120, "gcs": 15}


def criteria(**changes: Any) -> dict[str, bool]:
    return score_qsofa({**NONE_MET, **changes}).criteria.model_dump()


@pytest.mark.parametrize(("rate", "met"), [(1, False), (16, False), (21, False), (21.49, False), (21.5, True),
                                           (22, True), (23, True), (40, True)])
def test_respiratory_rate_22_or_more(rate: float, met: bool) -> None:
    assert criteria(respiratory_rate=rate)["respiratory_rate"] is met


@pytest.mark.parametrize(("sbp", "met"), [(60, True), (99, True), (100, True), (100.49, True), (100.5, False),
                                          (101, False), (140, False)])
def test_systolic_bp_100_or_less(sbp: float, met: bool) -> None:
    assert criteria(systolic_bp=sbp)["systolic_bp"] is met


@pytest.mark.parametrize(("mentation", "altered"), [
    ({"gcs": 15}, False), ({"gcs": 14}, True), ({"gcs": 3}, True),
    ({"gcs": None, "consciousness": "A"}, False), ({"gcs": None, "consciousness": "C"}, True),
    ({"gcs": None, "consciousness": "V"}, True), ({"gcs": None, "consciousness": "P"}, True),
    ({"gcs": None, "consciousness": "u"}, True),
    ({"gcs": 15, "consciousness": "C"}, True), ({"gcs": 14, "consciousness": "A"}, True),
    ({"gcs": 15, "consciousness": "A"}, False),
])
def test_altered_mentation(mentation: dict[str, Any], altered: bool) -> None:
    """GCS < 15 (Seymour 2016) or, on an ACVPU chart, anything but Alert; either one is enough."""
    assert criteria(**mentation)["altered_mentation"] is altered


@pytest.mark.parametrize(("changes", "score", "positive"), [
    ({}, 0, False),
    ({"respiratory_rate": 22}, 1, False),
    ({"systolic_bp": 100}, 1, False),
    ({"gcs": 14}, 1, False),
    ({"respiratory_rate": 22, "systolic_bp": 100}, 2, True),
    ({"respiratory_rate": 22, "gcs": 13}, 2, True),
    ({"systolic_bp": 90, "gcs": 13}, 2, True),
    ({"respiratory_rate": 30, "systolic_bp": 85, "gcs": 9}, 3, True),
])
def test_score_and_positive_at_2(changes: dict[str, Any], score: int, positive: bool) -> None:
    result = score_qsofa({**NONE_MET, **changes})
    assert (result.score, result.positive) == (score, positive)


def test_accepts_a_model() -> None:
    assert score_qsofa(QsofaInput(respiratory_rate=22, systolic_bp=100, consciousness="V")).score == 3


@pytest.mark.parametrize(("changes", "field"), [
    ({"respiratory_rate": None}, "respiratory_rate"),
    ({"systolic_bp": None}, "systolic_bp"),
    ({"respiratory_rate": 0}, "respiratory_rate"),
    ({"respiratory_rate": 81}, "respiratory_rate"),
    ({"systolic_bp": 401}, "systolic_bp"),
    ({"systolic_bp": "100"}, "systolic_bp"),
    ({"systolic_bp": float("nan")}, "systolic_bp"),
    ({"gcs": 2}, "gcs"),
    ({"gcs": 16}, "gcs"),
    ({"gcs": 14.5}, "gcs"),
    ({"gcs": True}, "gcs"),
    ({"consciousness": "X"}, "consciousness"),
    ({"mentation": "altered"}, "mentation"),
])
def test_invalid_input_rejected(changes: dict[str, Any], field: str) -> None:
    observations = {key: value for key, value in {**NONE_MET, **changes}.items() if value is not None}
    with pytest.raises(ValidationError) as info:
        score_qsofa(observations)
    assert info.value.errors()[0]["loc"] == (field,)


def test_mentation_required() -> None:
    with pytest.raises(ValidationError, match="mentation is needed"):
        score_qsofa({"respiratory_rate": 16, "systolic_bp": 120})


def test_run_json() -> None:
    one = json.loads(run_json('{"respiratory_rate": 24, "systolic_bp": 95, "consciousness": "A"}'))
    assert one == {"score": 2, "positive": True,
                   "criteria": {"respiratory_rate": True, "altered_mentation": False, "systolic_bp": True}}
    many = json.loads(run_json('[{"respiratory_rate": 16, "systolic_bp": 120, "gcs": 15}, {"gcs": 15}, []]'))
    assert many[0]["score"] == 0
    assert many[1]["error"] == "respiratory_rate: Field required; systolic_bp: Field required"
    assert many[2] == {"error": "expected a JSON object of observations"}
    assert json.loads(run_json('{"respiratory_rate": 16, "systolic_bp": 120}')) == {
        "error": "mentation is needed: give gcs (3-15) or consciousness (A, C, V, P or U)"}
    assert "not valid JSON" in json.loads(run_json("{"))["error"]


observations = st.fixed_dictionaries({
    "respiratory_rate": st.floats(1, 80),
    "systolic_bp": st.floats(1, 400),
    "gcs": st.integers(3, 15),
})


@given(observations)
def test_property_score_is_count_of_criteria(obs: dict[str, Any]) -> None:
    result = score_qsofa(obs)
    assert result.score == sum(result.criteria.model_dump().values())
    assert 0 <= result.score <= 3
    assert result.positive == (result.score >= 2)


@given(observations, st.floats(0, 80), st.floats(0, 400), st.integers(0, 12))
def test_property_worsening_never_lowers_the_score(obs: dict[str, Any], faster: float, lower: float,
                                                   less: int) -> None:
    base = score_qsofa(obs).score
    assert score_qsofa({**obs, "respiratory_rate": min(80, obs["respiratory_rate"] + faster)}).score >= base
    assert score_qsofa({**obs, "systolic_bp": max(1, obs["systolic_bp"] - lower)}).score >= base
    assert score_qsofa({**obs, "gcs": max(3, obs["gcs"] - less)}).score >= base
