"""Kidney-function rules (knowledge/renal.json): avoid or adjust by eGFR band.

Sources, cited per rule: EMA metformin referral (2016) and Glucophage SmPC; MHRA Drug Safety Update
on nitrofurantoin (September 2014); Neurontin, Lyrica, Clexane, Pradaxa, Xarelto and Eliquis SmPCs
(creatinine-clearance bands, for which eGFR stands in); KDIGO 2012 CKD guideline chapter 4.4 (NSAIDs).

Without a measured eGFR, a CKD code stands for its KDIGO GFR category (N18.4: 15-29) and every rule
band it overlaps applies, so "N18.3" (30-59) meets both the metformin 30-44 and 45-59 limits.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from carebridge.engines.prescribing_rules.models import DrugRef, EgfrBand, Finding, InputValue, Selector, Severity

RENAL_FILE = Path(__file__).resolve().parent / "knowledge" / "renal.json"


class RenalRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    drugs: Selector
    egfr_min: float | None = Field(default=None, ge=0)
    egfr_max: float | None = Field(default=None, gt=0)
    action: Literal["avoid", "adjust"]
    severity: Severity
    max_daily_mg: float | None = None
    max_daily_mg_per_kg: float | None = None
    message: str
    management: str
    basis: str
    source: str
    ref: str


class RenalKnowledge(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: str
    sources: dict[str, str]
    ckd_codes: dict[str, tuple[float, float | None]]
    rules: tuple[RenalRule, ...]


@lru_cache(maxsize=1)
def load_renal_knowledge() -> RenalKnowledge:
    data = json.loads(RENAL_FILE.read_text(encoding="utf-8"))
    data.pop("_comment", None)
    kb = RenalKnowledge.model_validate(data)
    for rule in kb.rules:
        if rule.source not in kb.sources:
            raise ValueError(f"renal rule {rule.id} cites unknown source {rule.source!r}")
    return kb


def _fmt(x: float | None) -> str:
    return "" if x is None else (f"{x:.0f}" if abs(x - round(x)) < 1e-9 else f"{x:.1f}")


def egfr_band(egfr: float | None, icd10_codes: list[str]) -> EgfrBand | None:
    """The kidney-function band: the measured eGFR if given, else the worst CKD stage among the codes."""
    if egfr is not None:
        return EgfrBand(low=egfr, high=egfr, basis=f"eGFR {_fmt(egfr)}")
    stages = load_renal_knowledge().ckd_codes
    best: tuple[str, tuple[float, float | None]] | None = None
    for code in icd10_codes:
        band = stages.get(code)
        if band is not None and (best is None or band[0] < best[1][0]):
            best = (code, band)
    if best is None:
        return None
    code, (low, high) = best
    label = f"<{_fmt(high)}" if low == 0 else (f">={_fmt(low)}" if high is None else f"{_fmt(low)}-{_fmt(high - 1)}")
    return EgfrBand(low=low, high=high, basis=f"{code} (GFR category {label})")


@lru_cache(maxsize=4096)
def _rules_for(ingredient: str, atc: tuple[str, ...]) -> tuple[RenalRule, ...]:
    drug = DrugRef(ingredient=ingredient, atc=atc)
    return tuple(r for r in load_renal_knowledge().rules if r.drugs.covers(drug))


def check_renal(drug: DrugRef, band: EgfrBand, *, daily_mg: float | None,
                weight_kg: float | None) -> tuple[list[Finding], int]:
    """Findings for one drug at this kidney function, and the number of rules tested."""
    kb = load_renal_knowledge()
    findings: list[Finding] = []
    tested = 0
    for rule in _rules_for(drug.ingredient, drug.atc):
        tested += 1
        if not band.overlaps(rule.egfr_min, rule.egfr_max):
            continue
        severity: Severity = rule.severity
        message = rule.message
        if rule.action == "adjust" and daily_mg is not None:
            limit = rule.max_daily_mg
            if rule.max_daily_mg_per_kg is not None and weight_kg is not None:
                limit = rule.max_daily_mg_per_kg * weight_kg
            if limit is not None and daily_mg > limit + 1e-9:
                severity = "major"
                message = f"{message} Ordered {_fmt(daily_mg)} mg/day exceeds {_fmt(limit)} mg/day."
            elif limit is not None:
                severity = "minor"
                message = f"{message} Ordered {_fmt(daily_mg)} mg/day is within the limit."
        inputs: dict[str, InputValue] = {"egfr_band": band.basis, "daily_mg": daily_mg, "weight_kg": weight_kg,
                                         "basis": rule.basis}
        findings.append(Finding(rule_id=rule.id, kind="condition" if rule.action == "avoid" else "dose",
                                severity=severity, message=message, management=rule.management,
                                source=kb.sources[rule.source], ref=rule.ref, inputs=inputs))
    return findings, tested
