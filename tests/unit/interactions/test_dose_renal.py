"""Dose ranges by age and weight, and kidney-function adjustments, case by case from the sources.

Paracetamol in children: WHO Pocket Book of Hospital Care for Children, 2nd ed. 2013 (10-15 mg/kg up to
4 times a day). Ibuprofen in children: BNFC (max 30 mg/kg daily). Amoxicillin in children: WHO 2014
(40 mg/kg twice daily), BNFC (max 90 mg/kg/day, 1 g per dose). Cetirizine: BNFC. Adults: BNF.
Kidney: Neurontin, Lyrica, Clexane, Pradaxa SmPC 4.2/4.3 (creatinine clearance); EMA metformin 2016;
MHRA nitrofurantoin 2014.
"""

from __future__ import annotations

import pytest

from carebridge.engines.interactions import CheckRequest, CheckResult, MedicationOrder, check
from carebridge.engines.prescribing_rules import EgfrBand, check_dose, egfr_band
from tests.unit.interactions.conftest import alerts_of, only


def run(name: str, dose: float | None, per_day: float | None, **kw: object) -> CheckResult:
    order = MedicationOrder(name=name, dose_mg=dose, doses_per_day=per_day)
    return check(CheckRequest(medications=[order], **kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "dose", "per_day", "age", "weight", "severity", "says"), [
    # paracetamol, 10 kg child: 100-150 mg per dose, at most 600 mg a day
    ("paracetamol", 150, 4, 2, 10, None, ""),
    ("paracetamol", 100, 4, 2, 10, None, ""),
    ("paracetamol", 250, 4, 2, 10, "major", "exceeds 15 mg/kg"),
    ("paracetamol", 150, 6, 2, 10, "major", "60 mg/kg/day (600 mg/day for 10 kg)"),
    ("paracetamol", 50, 4, 2, 10, "minor", "below the usual 10-15 mg/kg"),
    ("Calpol", 250, 4, 2, 10, "major", "exceeds 15 mg/kg"),
    # adults: 1 g up to four times a day
    ("paracetamol", 1000, 4, 40, 70, None, ""),
    ("paracetamol", 1000, 6, 40, 70, "major", "exceeds the maximum of 4000 mg/day"),
    ("paracetamol", 1500, 2, 40, 70, "major", "single dose 1500 mg exceeds"),
    # ibuprofen, 10 kg child: max 30 mg/kg/day
    ("ibuprofen", 100, 3, 3, 10, None, ""),
    ("ibuprofen", 150, 3, 3, 10, "major", "exceeds 30 mg/kg/day"),
    # amoxicillin, 15 kg child: 40-90 mg/kg/day
    ("amoxicillin", 400, 2, 4, 15, None, ""),
    ("amoxicillin", 600, 3, 4, 15, "major", "exceeds 90 mg/kg/day"),
    ("amoxicillin", 100, 2, 4, 15, "minor", "below the usual 40-90 mg/kg/day"),
    # cetirizine 2-5 years: 2.5 mg twice daily
    ("cetirizine", 5, 2, 4, 16, "major", "exceeds the maximum of 5 mg/day"),
    ("cetirizine", 10, 1, 30, 70, None, ""),
])
def test_dose_cases(name: str, dose: float, per_day: float, age: float, weight: float, severity: str | None,
                    says: str) -> None:
    result = run(name, dose, per_day, age_years=age, weight_kg=weight)
    doses = alerts_of(result, "dose")
    if severity is None:
        assert doses == [], [a.message for a in doses]
    else:
        assert len(doses) == 1 and doses[0].severity == severity, [a.message for a in doses]
        assert says in doses[0].message
        assert doses[0].sources and doses[0].inputs["weight_kg"] == weight


def test_paracetamol_for_a_10_kg_child_reports_the_numbers() -> None:
    alert = only(run("paracetamol", 250, 4, age_years=1.5, weight_kg=10), "dose")
    assert "25 mg/kg per dose exceeds 15 mg/kg (150 mg for 10 kg)" in alert.message
    assert "1000 mg/day (100 mg/kg/day) exceeds 60 mg/kg/day (600 mg/day for 10 kg)" in alert.message
    assert any("Pocket book" in s for s in alert.sources)
    assert alert.inputs["max_daily_mg"] == 600


def test_missing_weight_is_reported_not_ignored() -> None:
    result = run("paracetamol", 150, 4, age_years=2)
    assert alerts_of(result, "dose") == []
    assert any("weight not given" in n.reason for n in result.not_checked)


def test_missing_age_checks_adult_limits_and_says_so() -> None:
    result = run("paracetamol", 1000, 6)
    assert only(result, "dose").severity == "major"
    assert any("age not given" in n.reason for n in result.not_checked)


def test_uncovered_drug_and_age_and_combination_are_not_checked() -> None:
    assert run("warfarin", 5, 1, age_years=60).not_checked[0].reason == "no dose range for warfarin"
    assert "no dose range for age" in run("paracetamol", 20, 4, age_years=0.05, weight_kg=3).not_checked[0].reason
    assert "combination product" in run("Combiflam", 400, 3, age_years=30).not_checked[0].reason


def test_dose_engine_directly() -> None:
    r = check_dose("paracetamol", dose_mg=150, doses_per_day=None, route="oral", age_years=2, weight_kg=10)
    assert r.findings == () and "doses per day not given" in r.not_checked[0]
    assert check_dose("paracetamol", dose_mg=None, doses_per_day=None, route=None, age_years=None,
                      weight_kg=None).rules_evaluated == 0
    assert "by route iv" in check_dose("ibuprofen", dose_mg=400, doses_per_day=3, route="iv", age_years=30,
                                       weight_kg=70).not_checked[0]


# --- kidney ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "dose", "per_day", "egfr", "weight", "kind", "severity", "rule"), [
    ("gabapentin", 300, 3, 25, 70, "dose", "major", "renal-gabapentin-15-30"),  # 900 > 600 mg/day
    ("gabapentin", 100, 3, 25, 70, "dose", "minor", "renal-gabapentin-15-30"),  # within the limit
    ("gabapentin", None, None, 40, 70, "dose", "moderate", "renal-gabapentin-30-50"),  # advisory
    ("pregabalin", 150, 2, 20, 70, "dose", "major", "renal-pregabalin-15-30"),
    ("nitrofurantoin", 50, 4, 25, 70, "condition", "contraindicated", "renal-nitrofurantoin-lt30"),
    ("enoxaparin", 60, 2, 20, 60, "dose", "major", "renal-enoxaparin-15-30"),  # 120 mg/day > 1 mg/kg/day
    ("enoxaparin", 60, 1, 20, 60, "dose", "minor", "renal-enoxaparin-15-30"),
    ("dabigatran", 150, 2, 25, 70, "condition", "contraindicated", "renal-dabigatran-lt30"),
    ("metformin", 500, 4, 40, 70, "dose", "major", "renal-metformin-30-45"),  # 2000 > 1000 mg/day
    ("metformin", 500, 2, 30, 70, "dose", "minor", "renal-metformin-30-45"),  # eGFR 30 is in the 30-44 band
])
def test_kidney_cases(name: str, dose: float | None, per_day: float | None, egfr: float, weight: float, kind: str,
                      severity: str, rule: str) -> None:
    result = run(name, dose, per_day, age_years=50, weight_kg=weight, egfr=egfr)
    hits = [a for a in result.alerts if a.kind == kind and rule in a.rule_ids]
    assert len(hits) == 1, [(a.kind, a.severity, a.rule_ids, a.message) for a in result.alerts]
    assert hits[0].severity == severity
    assert hits[0].items == [name, f"eGFR {egfr:g}"]


def test_egfr_band() -> None:
    assert egfr_band(None, []) is None
    assert egfr_band(42, ["N18.5"]) == EgfrBand(low=42, high=42, basis="eGFR 42")
    assert egfr_band(None, ["N18.3", "N18.5"]).basis == "N18.5 (GFR category <15)"  # type: ignore[union-attr]
    assert egfr_band(None, ["N18.1"]).basis == "N18.1 (GFR category >=90)"  # type: ignore[union-attr]
    band = EgfrBand(low=30, high=60, basis="N18.3")
    assert band.overlaps(30, 45) and band.overlaps(None, 31) and not band.overlaps(None, 30)
    assert not band.overlaps(60, None) and band.overlaps(59, None)
    point = EgfrBand(low=30, high=30, basis="eGFR 30")
    assert point.overlaps(30, 45) and not point.overlaps(None, 30)
