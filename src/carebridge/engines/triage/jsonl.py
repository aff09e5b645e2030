"""Helpers behind the `carebridge triage` command (stable contract for the CLI).

`run_jsonl` streams: one JSON object per input line, one JSON line out per
case, so a batch of thousands never sits in memory and a bad line never stops
the rest of the batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from pydantic import ValidationError

from .engine import triage
from .models import Level, TriageInput, TriageResult

_INPUT_FIELDS = frozenset(TriageInput.model_fields)


def _error(case_id: object, message: str) -> str:
    safe_id = case_id if isinstance(case_id, str | int) and not isinstance(case_id, bool) else None
    return json.dumps({"id": safe_id, "error": message}, ensure_ascii=False, sort_keys=False)


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "input"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def run_jsonl(lines: Iterable[str]) -> Iterator[str]:
    """Triage each JSON line `{"id", "text", "age"?, "sex"?, ...}` into one output line.

    Output: `{"id", "triage", "conditions": [{"code", "name", "score"}], "specialty",
    "red_flags": [id, ...]}`; a malformed line yields `{"id": <id or null>, "error": ...}`.
    Blank lines are skipped. Keys other than TriageInput fields (e.g. expected labels)
    are ignored so labelled case files can be piped straight in.
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield _error(None, f"line {number}: invalid JSON ({exc.msg})")
            continue
        if not isinstance(record, dict):
            yield _error(None, f"line {number}: expected a JSON object")
            continue
        case_id = record.get("id")
        if case_id is not None and (not isinstance(case_id, str | int) or isinstance(case_id, bool)):
            yield _error(None, f"line {number}: id must be a string or integer")
            continue
        if "text" not in record and "symptoms" not in record:
            yield _error(case_id, f"line {number}: missing 'text'")
            continue
        payload = {k: v for k, v in record.items() if k in _INPUT_FIELDS}
        if payload.get("sex") is None:
            payload.pop("sex", None)
        try:
            inp = TriageInput.model_validate(payload)
        except ValidationError as exc:
            yield _error(case_id, f"line {number}: {_describe(exc)}")
            continue
        result = triage(inp)
        yield json.dumps(
            {
                "id": case_id,
                "triage": result.level.value,
                "conditions": [{"code": c.code, "name": c.name, "score": c.score} for c in result.conditions],
                "specialty": result.specialty,
                "red_flags": [f.id for f in result.red_flags],
            },
            ensure_ascii=False,
        )


_HEADINGS = {
    Level.EMERGENCY: "EMERGENCY",
    Level.URGENT: "URGENT (today)",
    Level.NON_URGENT: "NON-URGENT (within days)",
    Level.SELF_CARE: "SELF-CARE (at home)",
}


def format_readable(result: TriageResult) -> str:
    """Plain-text answer for `carebridge triage "text" --age 34 --sex female`."""
    lines = [f"Triage: {_HEADINGS[result.level]}", result.action, ""]
    if result.red_flags:
        lines.append("Red flags:")
        for flag in result.red_flags:
            lines.append(f"  ! {flag.text} [{flag.source}]")
        lines.append("")
    if result.conditions:
        lines.append("Possible causes (not a diagnosis):")
        for i, cond in enumerate(result.conditions, start=1):
            lines.append(f"  {i}. {cond.name} ({cond.code}) score {cond.score:.2f}")
            lines.append(f"     {cond.explanation}")
        lines.append("")
    lines.append(f"See: {result.specialty_name} ({result.specialty})")
    lines.append("")
    lines.append(f"What to do: {result.safety_net}")
    lines.append("")
    f = result.findings
    understood = ", ".join(x.label + (" (severe)" if x.severity == "severe" else "") for x in f.present)
    lines.append(f"Understood: {understood or 'no symptoms recognised'}")
    if f.negated:
        lines.append("Not present: " + ", ".join(x.label for x in f.negated))
    facts = []
    if f.age_years is not None:
        age = f"{f.age_years * 12:.0f} months" if f.age_years < 2 else f"{f.age_years:g} years"
        facts.append(f"age {age}" + (" (assumed)" if f.age_source == "assumed" else ""))
    if f.sex.value != "unknown":
        facts.append(f"sex {f.sex.value}")
    if f.pregnant:
        facts.append("pregnant")
    if f.duration_days is not None:
        facts.append(f"duration {f.duration_days:g} days")
    if facts:
        lines.append("Details: " + ", ".join(facts))
    if f.corrections:
        lines.append("Read as: " + ", ".join(f"{a} -> {b}" for a, b in f.corrections))
    for warning in result.warnings:
        lines.append(f"Note: {warning}")
    lines.append("")
    lines.append(result.disclaimer)
    return "\n".join(lines)
