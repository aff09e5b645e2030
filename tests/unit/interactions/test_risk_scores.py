"""CHA2DS2-VASc (Lip et al., Chest 2010;137:263-272) and HAS-BLED (Pisters et al., Chest 2010;138:1093-1100).

Point tables and published rates are those of the papers (stroke rates as tabulated with the score in
the 2010 ESC AF guideline); every item is tested alone, then combinations, boundaries and the maxima.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carebridge.engines.risk_scores import (
    CHA2DS2_VASC_ANNUAL_STROKE_PERCENT,
    HAS_BLED_BLEEDS_PER_100_PATIENT_YEARS,
    Cha2ds2VascInput,
    HasBledInput,
    cha2ds2_vasc,
    has_bled,
)

BASE_MALE_50 = {"age_years": 50, "sex": "male"}


@pytest.mark.parametrize(("extra", "points"), [
    ({}, 0),
    ({"congestive_heart_failure": True}, 1),
    ({"hypertension": True}, 1),
    ({"age_years": 75}, 2),
    ({"diabetes": True}, 1),
    ({"stroke_tia_thromboembolism": True}, 2),
    ({"vascular_disease": True}, 1),
    ({"age_years": 65}, 1),
    ({"sex": "female"}, 1),
])
def test_cha2ds2_vasc_each_item(extra: dict[str, object], points: int) -> None:
    assert cha2ds2_vasc(Cha2ds2VascInput.model_validate({**BASE_MALE_50, **extra})).total == points


@pytest.mark.parametrize(("age", "points"), [(64, 0), (65, 1), (74, 1), (75, 2), (90, 2)])
def test_cha2ds2_vasc_age_bands(age: int, points: int) -> None:
    assert cha2ds2_vasc(Cha2ds2VascInput(age_years=age, sex="male")).total == points


def test_cha2ds2_vasc_maximum_and_rates() -> None:
    result = cha2ds2_vasc(Cha2ds2VascInput(congestive_heart_failure=True, hypertension=True, age_years=80,
                                           diabetes=True, stroke_tia_thromboembolism=True, vascular_disease=True,
                                           sex="female"))
    assert result.total == result.maximum == 9
    assert result.annual_risk == 15.2
    assert CHA2DS2_VASC_ANNUAL_STROKE_PERCENT == (0.0, 1.3, 2.2, 3.2, 4.0, 6.7, 9.8, 9.6, 6.7, 15.2)
    assert cha2ds2_vasc(Cha2ds2VascInput(age_years=70, hypertension=True, sex="female")).annual_risk == 3.2


def test_cha2ds2_vasc_interpretation_ignores_sex_alone() -> None:
    female = cha2ds2_vasc(Cha2ds2VascInput(age_years=50, sex="female"))
    assert female.total == 1 and female.interpretation.startswith("Low risk")
    assert "consider" in cha2ds2_vasc(Cha2ds2VascInput(age_years=50, sex="male", hypertension=True)).interpretation
    assert "recommended" in cha2ds2_vasc(Cha2ds2VascInput(age_years=76, sex="male")).interpretation
    assert [i.code for i in female.items if i.present] == ["Sc"]


@pytest.mark.parametrize("field", ["uncontrolled_hypertension", "abnormal_renal_function", "abnormal_liver_function",
                                   "stroke", "bleeding_history", "labile_inr", "antiplatelet_or_nsaid",
                                   "alcohol_excess"])
def test_has_bled_each_item_is_one_point(field: str) -> None:
    assert has_bled(HasBledInput.model_validate({"age_years": 50, field: True})).total == 1


@pytest.mark.parametrize(("age", "points"), [(65, 0), (66, 1)])
def test_has_bled_elderly_is_over_65(age: int, points: int) -> None:
    assert has_bled(HasBledInput(age_years=age)).total == points


def test_has_bled_rates_and_threshold() -> None:
    assert HAS_BLED_BLEEDS_PER_100_PATIENT_YEARS == (1.13, 1.02, 1.88, 3.74, 8.70, 12.50)
    two = has_bled(HasBledInput(age_years=70, labile_inr=True))
    assert two.total == 2 and two.annual_risk == 1.88 and two.interpretation.startswith("Low")
    three = has_bled(HasBledInput(age_years=70, labile_inr=True, stroke=True))
    assert three.total == 3 and three.annual_risk == 3.74 and three.interpretation.startswith("High")
    full = has_bled(HasBledInput(age_years=80, uncontrolled_hypertension=True, abnormal_renal_function=True,
                                 abnormal_liver_function=True, stroke=True, bleeding_history=True, labile_inr=True,
                                 antiplatelet_or_nsaid=True, alcohol_excess=True))
    assert full.total == full.maximum == 9 and full.annual_risk is None


_CHA_FLAGS = ["congestive_heart_failure", "hypertension", "diabetes", "stroke_tia_thromboembolism", "vascular_disease"]


@settings(max_examples=60, deadline=None)
@given(flags=st.fixed_dictionaries({f: st.booleans() for f in _CHA_FLAGS}), age=st.integers(0, 110),
       sex=st.sampled_from(["female", "male"]), add=st.sampled_from(_CHA_FLAGS))
def test_cha2ds2_vasc_never_falls_when_a_risk_factor_is_added(flags: dict[str, bool], age: int, sex: str,
                                                             add: str) -> None:
    before = cha2ds2_vasc(Cha2ds2VascInput.model_validate({**flags, "age_years": age, "sex": sex}))
    after = cha2ds2_vasc(Cha2ds2VascInput.model_validate({**flags, add: True, "age_years": age, "sex": sex}))
    older = cha2ds2_vasc(Cha2ds2VascInput.model_validate({**flags, "age_years": min(age + 10, 130), "sex": sex}))
    assert before.total <= after.total <= 9 and before.total <= older.total
    assert before.total == sum(i.points for i in before.items if i.present)
