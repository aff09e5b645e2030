"""Input and output models of the triage engine.

The models are the engine's public contract: the web layer, the CLI and the
evaluation harness all speak these types, so every field is validated here
once instead of being re-checked by each caller.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Level(StrEnum):
    """Where the person should go, from most to least urgent.

    Four levels (not the five of ED triage scales) because a lay person can
    only act on four distinct instructions: ambulance now, clinician today,
    appointment within days, or home care.
    """

    EMERGENCY = "emergency"
    URGENT = "urgent"
    NON_URGENT = "non_urgent"
    SELF_CARE = "self_care"

    @property
    def rank(self) -> int:
        """Numeric order so levels can be compared and 'rounded up' with max()."""
        return _RANK[self]

    @classmethod
    def from_rank(cls, rank: int) -> Level:
        return _BY_RANK[max(0, min(3, rank))]


_RANK: dict[Level, int] = {
    Level.SELF_CARE: 0,
    Level.NON_URGENT: 1,
    Level.URGENT: 2,
    Level.EMERGENCY: 3,
}
_BY_RANK: dict[int, Level] = {rank: level for level, rank in _RANK.items()}


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"
    OTHER = "other"
    UNKNOWN = "unknown"


class Consciousness(StrEnum):
    """ACVPU scale as used by NEWS2: Alert, new Confusion, Voice, Pain, Unresponsive."""

    ALERT = "A"
    CONFUSED = "C"
    VOICE = "V"
    PAIN = "P"
    UNRESPONSIVE = "U"


class Vitals(BaseModel):
    """Measured observations; bounds reject unit mistakes (e.g. 101 entered as degC)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature_c: float | None = Field(default=None, ge=25.0, le=45.0)
    heart_rate: float | None = Field(default=None, ge=0.0, le=300.0)
    respiratory_rate: float | None = Field(default=None, ge=0.0, le=150.0)
    spo2: float | None = Field(default=None, ge=0.0, le=100.0)
    systolic_bp: float | None = Field(default=None, ge=0.0, le=320.0)
    consciousness: Consciousness | None = None


class TriageInput(BaseModel):
    """One person's complaint: free text plus whatever structured facts are known.

    Structured fields win over what the text says, because a form field was
    entered deliberately while text extraction can misread.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(default="", max_length=20_000)
    symptoms: tuple[str, ...] = Field(default=(), max_length=200)
    age: float | None = Field(default=None, ge=0.0, le=130.0)
    age_months: float | None = Field(default=None, ge=0.0, le=1560.0)
    sex: Sex = Sex.UNKNOWN
    pregnant: bool | None = None
    duration_days: float | None = Field(default=None, ge=0.0, le=36_500.0)
    vitals: Vitals | None = None


FindingSource = Literal["text", "code", "vitals", "implied"]
AgeSource = Literal["input", "text", "assumed", "unknown"]


class Finding(BaseModel):
    """One symptom or context fact the engine believes, with where it came from."""

    model_config = ConfigDict(frozen=True)

    id: str
    label: str
    source: FindingSource
    evidence: str = ""
    severity: Literal["severe", "mild"] | None = None


class RedFlag(BaseModel):
    """A rule that fired and forced the level up; shown to the user verbatim."""

    model_config = ConfigDict(frozen=True)

    id: str
    level: Level
    text: str
    source: str


class ConditionMatch(BaseModel):
    """A possible explanation for the findings, never a diagnosis."""

    model_config = ConfigDict(frozen=True)

    id: str
    code: str
    name: str
    score: float = Field(ge=0.0, le=1.0)
    level: Level
    specialty: str
    explanation: str
    supporting: tuple[str, ...]
    source: str


class ParsedFindings(BaseModel):
    """What the engine understood, so a clinician can check the reading."""

    model_config = ConfigDict(frozen=True)

    present: tuple[Finding, ...] = ()
    negated: tuple[Finding, ...] = ()
    historical: tuple[Finding, ...] = ()
    duration_days: float | None = None
    age_years: float | None = None
    age_source: AgeSource = "unknown"
    sex: Sex = Sex.UNKNOWN
    pregnant: bool | None = None
    corrections: tuple[tuple[str, str], ...] = ()
    unknown_terms: tuple[str, ...] = ()
    vitals: Vitals | None = None


class TriageResult(BaseModel):
    """The engine's answer: a level, the reasons for it and what to do next."""

    model_config = ConfigDict(frozen=True)

    level: Level
    action: str
    red_flags: tuple[RedFlag, ...] = ()
    conditions: tuple[ConditionMatch, ...] = ()
    specialty: str
    specialty_name: str
    safety_net: str
    rule_ids: tuple[str, ...] = ()
    findings: ParsedFindings
    warnings: tuple[str, ...] = ()
    disclaimer: str
