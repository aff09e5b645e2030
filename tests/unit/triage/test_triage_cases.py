"""Table-driven checks over the written case sets (cases.jsonl, heldout.jsonl).

Every case is a plain-language vignette written for CareBridge from the guideline named in its
`source`; none comes from published symptom-checker evaluation vignettes.
"""

from __future__ import annotations

import csv
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest

from carebridge.engines.triage import Level, evaluate, triage
from carebridge.engines.triage.evaluate import EvaluationReport, TriageCase, load_cases

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases.jsonl"
HELDOUT = HERE / "heldout.jsonl"
HELDOUT2 = HERE / "heldout2.jsonl"
SPECIALTIES = HERE.parents[2] / "src" / "carebridge" / "engines" / "knowledge" / "specialties.csv"


@lru_cache(maxsize=3)
def _report(path: Path) -> EvaluationReport:
    return evaluate(path)


def _cases(path: Path) -> list[TriageCase]:
    return load_cases(path)


def test_case_file_is_big_and_balanced() -> None:
    cases = _cases(CASES)
    assert len(cases) >= 200
    counts = Counter(c.expected_level for c in cases)
    for level in Level:
        assert counts[level] >= 30, f"only {counts[level]} {level.value} cases"
    assert len({c.id for c in cases}) == len(cases)
    assert all(c.source.strip() for c in cases)


def test_expected_specialties_are_project_codes() -> None:
    with SPECIALTIES.open(encoding="utf-8", newline="") as handle:
        codes = {row["code"] for row in csv.DictReader(handle)}
    for path in (CASES, HELDOUT, HELDOUT2):
        for case in _cases(path):
            assert case.expected_specialty is None or case.expected_specialty in codes, case.id


@pytest.mark.parametrize("case", [c for c in _cases(CASES) if c.expected_level is Level.EMERGENCY], ids=lambda c: c.id)
def test_no_emergency_is_under_triaged(case: TriageCase) -> None:
    result = triage(case.to_input())
    assert result.level is Level.EMERGENCY, (case.text, [f.id for f in result.red_flags])


def test_emergency_sensitivity_is_total() -> None:
    report = _report(CASES)
    assert report.emergency_cases >= 30
    assert report.emergency_sensitivity == 1.0


def test_overall_accuracy() -> None:
    report = _report(CASES)
    assert report.accuracy >= 0.85, report.summary()
    assert report.under_triage_rate <= 0.05, report.summary()


def test_specialty_accuracy() -> None:
    report = _report(CASES)
    assert report.specialty_cases >= 100
    assert report.specialty_accuracy >= 0.85, report.summary()


@pytest.mark.parametrize("path", [HELDOUT, HELDOUT2], ids=["heldout", "heldout2"])
def test_heldout_sets_stay_safe(path: Path) -> None:
    # These sets were first run blind (figures in docs/triage.md); the engine was then
    # fixed on them, so from here on they guard against regressions.
    report = _report(path)
    assert report.emergency_sensitivity == 1.0, report.summary()
    assert report.accuracy >= 0.85, report.summary()


@pytest.mark.parametrize("tag", ["hinglish", "negation", "paeds", "pregnancy", "south_asia", "misspelling"])
def test_tagged_groups_are_covered_and_mostly_right(tag: str) -> None:
    tagged = [c for c in _cases(CASES) if tag in c.tags]
    assert len(tagged) >= 2, tag
    correct = sum(triage(c.to_input()).level is c.expected_level for c in tagged)
    assert correct / len(tagged) >= 0.85, tag


def test_evaluate_accepts_in_memory_cases() -> None:
    report = evaluate(
        [
            {
                "id": "a",
                "text": "crushing chest pain and sweating",
                "expected_level": "emergency",
                "source": "NICE:CG95",
            },
            {"id": "b", "text": "runny nose and sneezing", "expected_level": "emergency", "source": "test"},
        ]
    )
    assert report.cases == 2
    assert report.correct == 1
    assert report.over_triage_rate == 0.0
    assert report.under_triage_rate == 0.5
    assert report.emergency_sensitivity == 0.5
    assert report.mistakes[0].id == "b"
    assert "accuracy" in report.summary()
