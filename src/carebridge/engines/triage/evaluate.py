"""Measure the engine against a labelled case file.

Accuracy alone hides the error that matters most, so the report separates
under-triage (answer less urgent than the label) from over-triage, and
reports emergency sensitivity on its own: a single emergency sent home is a
failure even when overall accuracy looks good.

Run: ``python -m carebridge.engines.triage.evaluate tests/unit/triage/cases.jsonl``
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from .engine import triage
from .models import Level, Sex, TriageInput, Vitals

_LEVELS = (Level.EMERGENCY, Level.URGENT, Level.NON_URGENT, Level.SELF_CARE)


class TriageCase(BaseModel):
    """One labelled vignette; `source` names the guideline the label is drawn from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    text: str
    expected_level: Level
    source: str
    expected_specialty: str | None = None
    age: float | None = None
    age_months: float | None = None
    sex: Sex = Sex.UNKNOWN
    pregnant: bool | None = None
    duration_days: float | None = None
    symptoms: tuple[str, ...] = ()
    vitals: Vitals | None = None
    tags: tuple[str, ...] = ()

    def to_input(self) -> TriageInput:
        return TriageInput(
            text=self.text,
            symptoms=self.symptoms,
            age=self.age,
            age_months=self.age_months,
            sex=self.sex,
            pregnant=self.pregnant,
            duration_days=self.duration_days,
            vitals=self.vitals,
        )


class CaseOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    text: str
    expected_level: Level
    predicted_level: Level
    expected_specialty: str | None
    predicted_specialty: str
    red_flags: tuple[str, ...]
    top_condition: str | None


class LevelStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    cases: int
    correct: int
    recall: float


class EvaluationReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    cases: int
    correct: int
    accuracy: float
    emergency_cases: int
    emergency_sensitivity: float
    under_triage_rate: float
    over_triage_rate: float
    specialty_cases: int
    specialty_accuracy: float
    per_level: dict[str, LevelStats]
    confusion: dict[str, dict[str, int]] = Field(description="confusion[expected][predicted] = count")
    mistakes: tuple[CaseOutcome, ...]

    def summary(self) -> str:
        lines = [
            f"cases                  {self.cases}",
            f"accuracy               {self.accuracy:.1%} ({self.correct}/{self.cases})",
            f"emergency sensitivity  {self.emergency_sensitivity:.1%} (of {self.emergency_cases} emergency cases)",
            f"under-triage rate      {self.under_triage_rate:.1%}",
            f"over-triage rate       {self.over_triage_rate:.1%}",
            f"specialty accuracy     {self.specialty_accuracy:.1%} "
            f"(of {self.specialty_cases} cases with an expected specialty)",
            "per level (recall)     "
            + ", ".join(f"{name} {stats.correct}/{stats.cases}" for name, stats in self.per_level.items()),
            "confusion (rows expected, columns predicted: E U N S)",
        ]
        for expected in _LEVELS:
            row = self.confusion[expected.value]
            counts = " ".join(f"{row[p.value]:3d}" for p in _LEVELS)
            lines.append(f"  {expected.value:<11} {counts}")
        return "\n".join(lines)


def load_cases(path: str | Path) -> list[TriageCase]:
    """Read a JSON Lines case file; blank lines and // comments are skipped."""
    cases: list[TriageCase] = []
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            stripped = line.strip()
            if not stripped or stripped.startswith("//"):
                continue
            try:
                cases.append(TriageCase.model_validate(json.loads(stripped)))
            except (json.JSONDecodeError, ValueError) as exc:
                raise ValueError(f"{path}:{number}: {exc}") from exc
    return cases


def evaluate(
    cases: str | Path | Iterable[TriageCase | Mapping[str, object]],
) -> EvaluationReport:
    """Triage every case and compare with its label."""
    if isinstance(cases, str | Path):
        items = load_cases(cases)
    else:
        items = [c if isinstance(c, TriageCase) else TriageCase.model_validate(c) for c in cases]
    confusion = {e.value: {p.value: 0 for p in _LEVELS} for e in _LEVELS}
    correct = under = over = 0
    specialty_cases = specialty_correct = 0
    mistakes: list[CaseOutcome] = []
    for case in items:
        result = triage(case.to_input())
        expected, predicted = case.expected_level, result.level
        confusion[expected.value][predicted.value] += 1
        if predicted is expected:
            correct += 1
        elif predicted.rank < expected.rank:
            under += 1
        else:
            over += 1
        specialty_ok = True
        if case.expected_specialty is not None:
            specialty_cases += 1
            specialty_ok = result.specialty == case.expected_specialty
            specialty_correct += int(specialty_ok)
        if predicted is not expected or not specialty_ok:
            mistakes.append(
                CaseOutcome(
                    id=case.id,
                    text=case.text,
                    expected_level=expected,
                    predicted_level=predicted,
                    expected_specialty=case.expected_specialty,
                    predicted_specialty=result.specialty,
                    red_flags=tuple(f.id for f in result.red_flags),
                    top_condition=result.conditions[0].id if result.conditions else None,
                )
            )
    total = len(items)
    per_level: dict[str, LevelStats] = {}
    for level in _LEVELS:
        row = confusion[level.value]
        n = sum(row.values())
        hit = row[level.value]
        per_level[level.value] = LevelStats(cases=n, correct=hit, recall=hit / n if n else 0.0)
    emergency = per_level[Level.EMERGENCY.value]
    return EvaluationReport(
        cases=total,
        correct=correct,
        accuracy=correct / total if total else 0.0,
        emergency_cases=emergency.cases,
        emergency_sensitivity=emergency.recall,
        under_triage_rate=under / total if total else 0.0,
        over_triage_rate=over / total if total else 0.0,
        specialty_cases=specialty_cases,
        specialty_accuracy=specialty_correct / specialty_cases if specialty_cases else 0.0,
        per_level=per_level,
        confusion=confusion,
        mistakes=tuple(mistakes),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Print the evaluation summary and every mismatch for a case file."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        sys.stderr.write("usage: python -m carebridge.engines.triage.evaluate CASES.jsonl\n")
        return 2
    report = evaluate(args[0])
    out = [report.summary(), "", "mismatches:"]
    for m in report.mistakes:
        spec = ""
        if m.expected_specialty and m.expected_specialty != m.predicted_specialty:
            spec = f" specialty {m.expected_specialty}->{m.predicted_specialty}"
        out.append(
            f"  {m.id}: {m.expected_level.value}->{m.predicted_level.value}{spec} [{m.top_condition}] {m.text[:90]}"
        )
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
