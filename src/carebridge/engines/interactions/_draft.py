"""Internal working types shared by the checks: a resolved order, a resolved allergy, an alert draft."""

from __future__ import annotations

from dataclasses import dataclass, field

from carebridge.engines.interactions import _text
from carebridge.engines.interactions.models import SEVERITY_RANK, InputValue


@dataclass(frozen=True, slots=True)
class Order:
    index: int
    name: str
    ingredients: tuple[str, ...]
    dose_mg: float | None = None
    doses_per_day: float | None = None
    route: str | None = None

    def show(self, ingredient: str) -> str:
        """How the order is named in a message: "warfarin", or "Warf (warfarin)" for a brand."""
        return ingredient if _text.key(self.name) == _text.key(ingredient) else f"{self.name} ({ingredient})"


@dataclass(frozen=True, slots=True)
class AllergyInput:
    index: int
    name: str
    members: frozenset[str]
    class_name: str | None


@dataclass(slots=True)
class Draft:
    kind: str
    severity: str
    items: list[str]
    ingredients: list[str]
    message: str
    mechanism: str = ""
    management: str = ""
    rule_ids: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    interruptive: bool | None = None
    inputs: dict[str, InputValue] = field(default_factory=dict)

    def absorb(self, other: Draft) -> None:
        """Merge another draft about the same thing: the worse severity leads, everything is kept."""
        if SEVERITY_RANK[other.severity] > SEVERITY_RANK[self.severity]:
            self.severity, self.message = other.severity, other.message
            self.mechanism = other.mechanism or self.mechanism
            self.management = other.management or self.management
        elif not self.management:
            self.management = other.management
        for i in other.ingredients:
            if i not in self.ingredients:
                self.ingredients.append(i)
        for r in other.rule_ids:
            if r not in self.rule_ids:
                self.rule_ids.append(r)
        for s in other.sources:
            if s not in self.sources:
                self.sources.append(s)
        for k, v in other.inputs.items():
            self.inputs.setdefault(k, v)


def merge(drafts: dict[tuple[object, ...], Draft], key: tuple[object, ...], draft: Draft) -> None:
    existing = drafts.get(key)
    if existing is None:
        drafts[key] = draft
    else:
        existing.absorb(draft)
