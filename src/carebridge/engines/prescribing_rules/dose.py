"""Dose-range checks by age band and weight (knowledge/dose_ranges.json).

Sources, cited per rule: WHO Pocket Book of Hospital Care for Children (2nd ed., 2013), WHO revised
childhood pneumonia treatment (2014), BNF and BNF for Children, and the originator SmPCs. A child's
per-kilogram limits need the weight; absolute limits (single dose, daily maximum) apply at every
age, so a child's dose is never allowed above the adult ceiling.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from carebridge.engines.prescribing_rules.models import Finding, InputValue, Severity

DOSE_FILE = Path(__file__).resolve().parent / "knowledge" / "dose_ranges.json"


class Range(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    min: float = Field(ge=0)
    max: float = Field(gt=0)


class DoseRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    ingredient: str
    routes: tuple[str, ...]
    age_min_years: float = 0
    age_max_years: float | None = None
    per_dose_mg_per_kg: Range | None = None
    daily_mg_per_kg: Range | None = None
    max_daily_mg_per_kg: float | None = None
    max_daily_mg: float | None = None
    max_single_mg: float | None = None
    max_doses_per_day: float | None = None
    source: str
    ref: str

    def covers_age(self, age: float) -> bool:
        return self.age_min_years <= age and (self.age_max_years is None or age < self.age_max_years)

    def needs_weight(self) -> bool:
        return bool(self.per_dose_mg_per_kg or self.daily_mg_per_kg or self.max_daily_mg_per_kg)


class DoseKnowledge(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: str
    sources: dict[str, str]
    rules: tuple[DoseRule, ...]


@lru_cache(maxsize=1)
def load_dose_knowledge() -> DoseKnowledge:
    data = json.loads(DOSE_FILE.read_text(encoding="utf-8"))
    data.pop("_comment", None)
    kb = DoseKnowledge.model_validate(data)
    for rule in kb.rules:
        if rule.source not in kb.sources:
            raise ValueError(f"dose rule {rule.id} cites unknown source {rule.source!r}")
    return kb


class DoseCheck(BaseModel):
    model_config = ConfigDict(frozen=True)

    findings: tuple[Finding, ...] = ()
    not_checked: tuple[str, ...] = ()
    rules_evaluated: int = 0


def _fmt(x: float) -> str:
    return f"{x:.0f}" if abs(x - round(x)) < 1e-9 else f"{x:.1f}"


def _select(rules: list[DoseRule], age: float | None) -> tuple[DoseRule | None, str | None]:
    if age is None:
        adult = [r for r in rules if r.age_max_years is None]
        if adult:
            return adult[0], "age not given: checked against adult limits only"
        return None, "age not given and no adult dose range"
    for r in rules:
        if r.covers_age(age):
            return r, None
    return None, f"no dose range for age {_fmt(age)} years"


def check_dose(ingredient: str, *, dose_mg: float | None, doses_per_day: float | None, route: str | None,
               age_years: float | None, weight_kg: float | None) -> DoseCheck:
    """Compare one ordered dose with the dose table; findings are of kind "dose"."""
    kb = load_dose_knowledge()
    candidates = [r for r in kb.rules if r.ingredient == ingredient and (route is None or route.lower() in r.routes)]
    if dose_mg is None:
        return DoseCheck()
    if not candidates:
        return DoseCheck(not_checked=(f"no dose range for {ingredient}" + (f" by route {route}" if route else ""),))
    rule, note = _select(candidates, age_years)
    if rule is None:
        return DoseCheck(not_checked=(note or "no dose range",), rules_evaluated=len(candidates))
    notes = [note] if note else []
    daily = dose_mg * doses_per_day if doses_per_day is not None else None
    if daily is None:
        notes.append("doses per day not given: daily limits not checked")
    problems: list[tuple[Severity, str]] = []
    if rule.max_single_mg is not None and dose_mg > rule.max_single_mg:
        problems.append(("major", f"single dose {_fmt(dose_mg)} mg exceeds the maximum of "
                                  f"{_fmt(rule.max_single_mg)} mg"))
    if rule.max_doses_per_day is not None and doses_per_day is not None and doses_per_day > rule.max_doses_per_day:
        problems.append(("moderate", f"{_fmt(doses_per_day)} doses a day exceeds the maximum of "
                                     f"{_fmt(rule.max_doses_per_day)}"))
    ceiling = rule.max_daily_mg
    if rule.needs_weight() and weight_kg is None:
        notes.append("weight not given: per-kilogram limits not checked")
    elif weight_kg is not None:
        if rule.per_dose_mg_per_kg is not None:
            per_kg = dose_mg / weight_kg
            lo, hi = rule.per_dose_mg_per_kg.min, rule.per_dose_mg_per_kg.max
            if per_kg > hi + 1e-9:
                problems.append(("major", f"{_fmt(per_kg)} mg/kg per dose exceeds {_fmt(hi)} mg/kg "
                                          f"({_fmt(hi * weight_kg)} mg for {_fmt(weight_kg)} kg)"))
            elif per_kg < lo - 1e-9:
                problems.append(("minor", f"{_fmt(per_kg)} mg/kg per dose is below the usual "
                                          f"{_fmt(lo)}-{_fmt(hi)} mg/kg"))
        if daily is not None and rule.daily_mg_per_kg is not None:
            per_kg_day = daily / weight_kg
            lo, hi = rule.daily_mg_per_kg.min, rule.daily_mg_per_kg.max
            if per_kg_day > hi + 1e-9:
                problems.append(("major", f"{_fmt(per_kg_day)} mg/kg/day exceeds {_fmt(hi)} mg/kg/day "
                                          f"({_fmt(hi * weight_kg)} mg/day for {_fmt(weight_kg)} kg)"))
            elif per_kg_day < lo - 1e-9:
                problems.append(("minor", f"{_fmt(per_kg_day)} mg/kg/day is below the usual "
                                          f"{_fmt(lo)}-{_fmt(hi)} mg/kg/day"))
        if rule.max_daily_mg_per_kg is not None:
            by_weight = rule.max_daily_mg_per_kg * weight_kg
            ceiling = by_weight if ceiling is None else min(ceiling, by_weight)
            if daily is not None and daily > by_weight + 1e-9:
                problems.append(("major", f"{_fmt(daily)} mg/day ({_fmt(daily / weight_kg)} mg/kg/day) exceeds "
                                          f"{_fmt(rule.max_daily_mg_per_kg)} mg/kg/day ({_fmt(by_weight)} mg/day "
                                          f"for {_fmt(weight_kg)} kg)"))
    if daily is not None and rule.max_daily_mg is not None and daily > rule.max_daily_mg + 1e-9:
        problems.append(("major", f"{_fmt(daily)} mg/day exceeds the maximum of {_fmt(rule.max_daily_mg)} mg/day"))
    inputs: dict[str, InputValue] = {"dose_mg": dose_mg, "doses_per_day": doses_per_day, "daily_mg": daily,
                                     "age_years": age_years, "weight_kg": weight_kg, "route": route,
                                     "max_daily_mg": ceiling}
    findings = [
        Finding(rule_id=rule.id, kind="dose", severity=sev, message=f"{ingredient}: {text}",
                management="Check the dose against the current formulary before prescribing.",
                source=kb.sources[rule.source], ref=rule.ref, inputs=inputs)
        for sev, text in problems
    ]
    return DoseCheck(findings=tuple(findings), not_checked=tuple(notes), rules_evaluated=len(candidates))
