"""Data of the prescribing rules: a drug as the rules see it, a finding, and the kidney-function band."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["contraindicated", "major", "moderate", "minor"]
SEVERITY_RANK: dict[str, int] = {"contraindicated": 4, "major": 3, "moderate": 2, "minor": 1}
InputValue = str | float | int | bool | None


class DrugRef(BaseModel):
    """An ingredient with its ATC codes (the caller's catalogue supplies them)."""

    model_config = ConfigDict(frozen=True)

    ingredient: str
    atc: tuple[str, ...] = ()


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True)

    rule_id: str
    kind: Literal["dose", "condition"]
    severity: Severity
    message: str
    management: str = ""
    source: str = Field(description="Full citation.")
    ref: str = ""
    inputs: dict[str, InputValue] = Field(default_factory=dict)


class Selector(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ingredients: tuple[str, ...] = ()
    atc: tuple[str, ...] = ()

    def covers(self, drug: DrugRef) -> bool:
        return drug.ingredient in self.ingredients or any(
            code.startswith(prefix) for prefix in self.atc for code in drug.atc
        )


class EgfrBand(BaseModel):
    """Kidney function as a half-open interval [low, high) in mL/min/1.73m2; a measured value has low == high."""

    model_config = ConfigDict(frozen=True)

    low: float | None
    high: float | None
    basis: str = Field(description='What it was derived from, e.g. "eGFR 25" or "N18.4 (GFR category 15-29)".')

    def overlaps(self, lo: float | None, hi: float | None) -> bool:
        """Whether this band shares any value with the rule's band [lo, hi)."""
        if self.low is not None and self.low == self.high:
            v = self.low
            return (lo is None or v >= lo) and (hi is None or v < hi)
        below_hi = hi is None or self.low is None or self.low < hi
        above_lo = lo is None or self.high is None or self.high > lo
        return below_hi and above_lo
