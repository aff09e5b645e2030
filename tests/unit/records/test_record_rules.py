"""The record's pure rules: UCUM units, the abnormal flag, and the picker search over the shipped code lists."""

from __future__ import annotations

import pytest

from carebridge.contexts.records.guard import interpret
from carebridge.contexts.records.terminology import CodeSystem, concepts, lab_definitions, search
from carebridge.contexts.records.units import is_ucum, unit_problem
from carebridge.contexts.records.vocab import Interpretation


@pytest.mark.parametrize("unit", ["mm[Hg]", "/min", "Cel", "%", "kg/m2", "10*3/uL", "mL/min/{1.73_m2}", "{score}",
                                  "m[IU]/L", "mg/dL", "mmol/L", "ug/dL", "[pH]", "1", "{INR}", "g/dL", "fL"])
def test_valid_ucum_units_pass(unit: str) -> None:
    assert unit_problem(unit) is None


@pytest.mark.parametrize(("unit", "why"), [("mmHg", "unknown"), ("mg per dl", "spaces"), ("bpm", "unknown"),
                                           ("kg//m2", "empty term"), ("{oops", "unbalanced"), ("", "1 to 40")])
def test_invalid_units_are_refused_with_a_reason(unit: str, why: str) -> None:
    problem = unit_problem(unit)
    assert problem is not None and why in problem


def test_every_shipped_loinc_unit_is_ucum() -> None:
    assert all(is_ucum(d.unit) for d in lab_definitions().values())


@pytest.mark.parametrize(("value", "expected"), [
    (3.0, Interpretation.LL), (3.4, Interpretation.L), (3.5, Interpretation.N), (5.1, Interpretation.N),
    (5.2, Interpretation.H), (6.5, Interpretation.HH)])
def test_abnormal_flag_from_reference_and_critical_range(value: float, expected: Interpretation) -> None:
    # a reference range of 3.5-5.1 with critical limits 3.2 and 6.2
    assert interpret(value, 3.5, 5.1, 3.2, 6.2) is expected


def test_no_flag_without_a_range_or_a_value() -> None:
    assert interpret(7.0, None, None) is None
    assert interpret(None, 1.0, 2.0) is None
    assert interpret(45.0, 40.0, None) is Interpretation.N  # HDL: a floor only
    assert interpret(35.0, 40.0, None) is Interpretation.L


def test_shipped_code_lists_are_big_enough() -> None:
    assert len(concepts(CodeSystem.icd10)) >= 2000
    assert len(concepts(CodeSystem.loinc)) >= 40
    assert {"BCG", "PENTA1", "MR1", "RVV1", "PCV1", "TDPW1"} <= set(concepts(CodeSystem.vaccines))


@pytest.mark.parametrize(("query", "code"), [
    ("high blood pressure", "I10"),  # synonym
    ("sugar", "E11"),  # lay synonym
    ("hypertention", "I10"),  # misspelt
    ("diabtes type 2", "E11"),  # misspelt, several words
    ("E11.9", "E11.9"),  # code
    ("j45", "J45"),  # code prefix, any case
    ("tuberclosis", "A15"),
    ("malaria", "B54"),
])
def test_icd10_search_finds_by_synonym_code_and_misspelling(query: str, code: str) -> None:
    found = [c.code for c in search(CodeSystem.icd10, query, limit=10)]
    assert code in found, found


def test_loinc_and_vaccine_search() -> None:
    assert search(CodeSystem.loinc, "hba1c")[0].code == "4548-4"
    assert "59408-5" in [c.code for c in search(CodeSystem.loinc, "spo2")]
    assert search(CodeSystem.vaccines, "measles")[0].code.startswith("MR")


def test_nonsense_finds_nothing() -> None:
    assert search(CodeSystem.icd10, "qzxqzxqzx") == []
    assert search(CodeSystem.icd10, "   ") == []
