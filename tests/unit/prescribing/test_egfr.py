"""CKD-EPI 2021 (Inker et al., NEJM 2021;385:1737-49): values worked by hand from the published equation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carebridge.engines.prescribing_rules.egfr import ckd_epi_2021, creatinine_mg_dl


@pytest.mark.parametrize(("scr", "age", "sex", "expected"), [
    # 142 x (1.0/0.7)^-1.2 x 0.9938^50 x 1.012
    (1.0, 50, "female", 68.6),
    # 142 x (1.2/0.9)^-1.2 x 0.9938^60
    (1.2, 60, "male", 69.2),
    # below kappa: 142 x (0.6/0.9)^-0.302 x 0.9938^30
    (0.6, 30, "male", 133.2),
    # severe impairment: 142 x (4.0/0.7)^-1.2 x 0.9938^70 x 1.012
    (4.0, 70, "female", 11.5),
])
def test_published_equation(scr: float, age: float, sex: str, expected: float) -> None:
    assert ckd_epi_2021(creatinine_mg_dl=scr, age_years=age, sex=sex) == pytest.approx(expected, abs=0.15)


@pytest.mark.parametrize(("age", "sex", "scr"), [(17, "male", 1.0), (40, "unknown", 1.0), (40, "male", 0.0),
                                                 (40, "female", float("nan"))])
def test_outside_the_equation_answers_none(age: float, sex: str, scr: float) -> None:
    assert ckd_epi_2021(creatinine_mg_dl=scr, age_years=age, sex=sex) is None


def test_units() -> None:
    assert creatinine_mg_dl(1.2, "mg/dL") == 1.2
    assert creatinine_mg_dl(88.42, "umol/L") == pytest.approx(1.0)
    assert creatinine_mg_dl(88.42, "µmol/L") == pytest.approx(1.0)
    assert creatinine_mg_dl(0.08842, "mmol/L") == pytest.approx(1.0)
    assert creatinine_mg_dl(1.0, "g/L") is None


@given(st.floats(0.2, 15), st.floats(0.01, 5), st.floats(18, 100), st.sampled_from(["male", "female"]))
def test_higher_creatinine_never_raises_egfr(scr: float, extra: float, age: float, sex: str) -> None:
    low = ckd_epi_2021(creatinine_mg_dl=scr, age_years=age, sex=sex)
    high = ckd_epi_2021(creatinine_mg_dl=scr + extra, age_years=age, sex=sex)
    assert low is not None and high is not None and high <= low
