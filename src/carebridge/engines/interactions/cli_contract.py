"""The stable JSON contract behind `carebridge interactions --json | --jsonl`.

Input (one JSON object; unknown fields are rejected so a misspelt "allergys" cannot silently skip checks):

    {"medications": ["warfarin", "aspirin"], "allergies": ["penicillin"], "conditions": ["N18.3"],
     "age": 70, "weight_kg": 60, "egfr": 45}

Optional: "id" (echoed back), "pregnant", "breastfeeding" (booleans), "overrides"
([{"kind": "duplicate", "items": ["omeprazole", "Pan"], "reason": "..."}]), and a medication may be an
object {"name": "paracetamol", "dose_mg": 150, "doses_per_day": 4, "route": "oral"} for dose checks.
Names resolve by generic name, brand name or ATC code, case-insensitively.

Output:

    {"alerts": [{"kind": "interaction|allergy|condition|duplicate|dose|unknown",
                 "severity": "contraindicated|major|moderate|minor", "items": [...], "message": "...",
                 "source": "...", "management": "...", "interruptive": true, "overridable": false,
                 "override_reason": null, "rule_ids": [...]}],
     "unknown": [...], "not_checked": [...], "knowledge_version": "...", "rules_evaluated": 0}

An unknown name is reported twice, on purpose: in "unknown" (for programs) and as an alert of kind
"unknown", severity "moderate", interruptive (for people: that medicine was not checked at all).
Errors never raise: a malformed input gives {"error": {"type": "invalid_json" | "validation", "detail":
..., "errors": [...]}} (with "id" when one could be read), and run_jsonl carries on with the next line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from carebridge.engines.interactions.engine import check
from carebridge.engines.interactions.models import (
    MAX_ITEMS,
    CheckRequest,
    CheckResult,
    MedicationOrder,
    Name,
    Override,
)

MAX_LINE_BYTES = 1_000_000


class ContractInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | int | None = None
    medications: list[Name | MedicationOrder] = Field(default_factory=list, max_length=MAX_ITEMS)
    allergies: list[Name] = Field(default_factory=list, max_length=MAX_ITEMS)
    conditions: list[Name] = Field(default_factory=list, max_length=MAX_ITEMS)
    age: float | None = Field(default=None, ge=0, le=130)
    weight_kg: float | None = Field(default=None, gt=0, le=400)
    egfr: float | None = Field(default=None, ge=0, le=250)
    pregnant: bool = False
    breastfeeding: bool = False
    overrides: list[Override] = Field(default_factory=list, max_length=MAX_ITEMS)

    def to_request(self) -> CheckRequest:
        meds = [m if isinstance(m, MedicationOrder) else MedicationOrder(name=m) for m in self.medications]
        return CheckRequest(medications=meds, allergies=self.allergies, conditions=self.conditions,
                            age_years=self.age, weight_kg=self.weight_kg, egfr=self.egfr, pregnant=self.pregnant,
                            breastfeeding=self.breastfeeding, overrides=self.overrides)


def result_to_dict(result: CheckResult) -> dict[str, Any]:
    return {
        "alerts": [
            {"kind": a.kind, "severity": a.severity, "items": a.items, "message": a.message,
             "source": "; ".join(a.sources), "management": a.management, "interruptive": a.interruptive,
             "overridable": a.overridable, "override_reason": a.override_reason, "rule_ids": a.rule_ids}
            for a in result.alerts
        ],
        "unknown": result.unknown,
        "not_checked": [{"item": n.item, "check": n.check, "reason": n.reason} for n in result.not_checked],
        "knowledge_version": result.knowledge_version,
        "rules_evaluated": result.rules_evaluated,
    }


def _error(kind: str, detail: str, errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind, "detail": detail}
    if errors:
        body["errors"] = errors
    return {"error": body}


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _handle(text: str) -> dict[str, Any]:
    if len(text.encode("utf-8", errors="replace")) > MAX_LINE_BYTES:
        return _error("invalid_json", f"input larger than {MAX_LINE_BYTES} bytes")
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        return _error("invalid_json", f"not valid JSON: {exc}")
    ident = data.get("id") if isinstance(data, dict) else None
    if not isinstance(ident, (str, int)) or isinstance(ident, bool):
        ident = None
    try:
        request = ContractInput.model_validate(data).to_request()
    except ValidationError as exc:
        errors = [{"loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"]} for e in exc.errors()[:20]]
        out = _error("validation", "the input does not match the contract", errors)
    else:
        out = result_to_dict(check(request))
    return {"id": ident, **out} if ident is not None else out


def run_json(text: str) -> str:
    """One JSON object in, one JSON object out (never raises for bad input)."""
    return _dumps(_handle(text))


def run_jsonl(lines: Iterable[str]) -> Iterator[str]:
    """One result per non-blank input line, in order; each carries the line's "id" when it had one."""
    for line in lines:
        if not line.strip():
            continue
        yield _dumps(_handle(line))
