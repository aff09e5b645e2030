"""The engine's public data: what a prescriber asks (CheckRequest) and what comes back (CheckResult).

Every Alert records what fired (rule ids), on which inputs, from which sources, under which knowledge
version, and whether it should interrupt the prescriber. Severity is one scale for every kind of alert:
contraindicated > major > moderate > minor.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["contraindicated", "major", "moderate", "minor"]
AlertKind = Literal["interaction", "allergy", "condition", "duplicate", "dose", "unknown"]
SEVERITY_RANK: dict[str, int] = {"contraindicated": 4, "major": 3, "moderate": 2, "minor": 1}
KIND_ORDER: dict[str, int] = {"unknown": 0, "allergy": 1, "interaction": 2, "condition": 3, "dose": 4, "duplicate": 5}

MAX_ITEMS = 100
MAX_TEXT = 200

InputValue = str | float | int | bool | None
Name = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]


def worst(severities: list[str]) -> str:
    return max(severities, key=lambda s: SEVERITY_RANK[s])


class MedicationOrder(BaseModel):
    """One ordered medicine: a generic name, brand name or ATC code, with an optional dose."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_TEXT)
    dose_mg: float | None = Field(default=None, gt=0, le=1_000_000, description="Amount per administration, mg.")
    doses_per_day: float | None = Field(default=None, gt=0, le=48)
    route: str | None = Field(default=None, max_length=20, description="oral, iv, im, sc, rectal, ...")


class Override(BaseModel):
    """A prescriber's reason for proceeding despite an alert (recorded; never hides the alert)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: AlertKind
    items: list[Name] = Field(min_length=1, max_length=3)
    reason: str = Field(min_length=3, max_length=500)


class CheckRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    medications: list[MedicationOrder] = Field(default_factory=list, max_length=MAX_ITEMS)
    allergies: list[Name] = Field(default_factory=list, max_length=MAX_ITEMS)
    conditions: list[Name] = Field(default_factory=list, max_length=MAX_ITEMS, description="ICD-10 codes.")
    age_years: float | None = Field(default=None, ge=0, le=130)
    weight_kg: float | None = Field(default=None, gt=0, le=400)
    egfr: float | None = Field(default=None, ge=0, le=250, description="mL/min/1.73m2")
    pregnant: bool = False
    breastfeeding: bool = False
    overrides: list[Override] = Field(default_factory=list, max_length=MAX_ITEMS)


class Alert(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: AlertKind
    severity: Severity
    items: list[str] = Field(description="The inputs as given (medicine, allergy or condition names).")
    ingredients: list[str] = Field(default_factory=list, description="Resolved ingredients involved.")
    message: str
    mechanism: str = ""
    management: str = ""
    rule_ids: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list, description="Full citations, one per source.")
    interruptive: bool = True
    overridable: bool = False
    override_reason: str | None = None
    inputs: dict[str, InputValue] = Field(default_factory=dict)
    knowledge_version: str = ""

    def identity(self) -> tuple[str, str, frozenset[str], tuple[str, ...]]:
        """Order-independent identity used to compare alert sets."""
        return (self.kind, self.severity, frozenset(i.casefold() for i in self.items), tuple(sorted(self.rule_ids)))


class ResolvedMedication(BaseModel):
    model_config = ConfigDict(frozen=True)

    input: str
    ingredients: list[str]
    matched_by: Literal["generic", "synonym", "brand", "atc", "combination"]
    label: str


class NotChecked(BaseModel):
    model_config = ConfigDict(frozen=True)

    item: str
    check: str
    reason: str


class CheckResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    alerts: list[Alert]
    unknown: list[str] = Field(description="Inputs that could not be recognised, in input order.")
    resolved: list[ResolvedMedication]
    not_checked: list[NotChecked] = Field(default_factory=list)
    knowledge_version: str
    rules_evaluated: int = Field(description="Knowledge rules tested against this request.")
    inputs: dict[str, InputValue] = Field(default_factory=dict)
