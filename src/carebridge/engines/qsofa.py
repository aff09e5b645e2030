"""quick SOFA (qSOFA): the bedside prompt for patients with suspected infection at risk of a poor outcome.

Sources: Seymour CW, Liu VX, Iwashyna TJ, et al. Assessment of Clinical Criteria for Sepsis: For the Third
International Consensus Definitions for Sepsis and Septic Shock (Sepsis-3). JAMA. 2016;315(8):762-774;
Singer M, Deutschman CS, Seymour CW, et al. The Third International Consensus Definitions for Sepsis and
Septic Shock (Sepsis-3). JAMA. 2016;315(8):801-810 (Box 4).

One point each for respiratory rate ≥ 22/min, altered mentation (Glasgow Coma Scale < 15; here also any
ACVPU response other than Alert) and systolic blood pressure ≤ 100 mmHg; score 0-3, positive at 2 or more.
Rates and pressures are rounded half up to whole numbers first, as for NEWS2 (21.5/min counts as 22), and
checked against the same plausible ranges.

The three thresholds live here rather than in a knowledge file: they are the whole instrument, each cited
above, and tested against the papers in tests/unit/test_qsofa.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from carebridge.engines.news2 import Consciousness, check_plausible, json_contract, round_half_up

RESPIRATORY_RATE_FROM = 22  # breaths/min, ≥ (Seymour 2016; Singer 2016 Box 4)
SYSTOLIC_BP_UP_TO = 100  # mmHg, ≤
GCS_NORMAL = 15  # GCS below this is altered mentation
POSITIVE_FROM = 2


class QsofaInput(BaseModel):
    """Respiratory rate and systolic pressure, and mentation as a GCS, an ACVPU letter, or both."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)

    respiratory_rate: float = Field(description="Breaths per minute.")
    systolic_bp: float = Field(description="Systolic blood pressure, mmHg.")
    gcs: int | None = Field(None, ge=3, le=15, description="Glasgow Coma Scale total, 3-15.")
    consciousness: Consciousness | None = Field(None, description="ACVPU letter.")

    @field_validator("consciousness", mode="before")
    @classmethod
    def _acvpu_letter(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("respiratory_rate", "systolic_bp")
    @classmethod
    def _plausible(cls, value: float, info: ValidationInfo) -> float:
        check_plausible(str(info.field_name), value)
        return value

    @model_validator(mode="after")
    def _mentation_given(self) -> Self:
        if self.gcs is None and self.consciousness is None:
            raise ValueError("mentation is needed: give gcs (3-15) or consciousness (A, C, V, P or U)")
        return self


class QsofaCriteria(BaseModel):
    model_config = ConfigDict(frozen=True)

    respiratory_rate: bool
    altered_mentation: bool
    systolic_bp: bool


class QsofaResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    score: int = Field(ge=0, le=3)
    positive: bool
    criteria: QsofaCriteria


def score_qsofa(observations: QsofaInput | Mapping[str, Any]) -> QsofaResult:
    """Score qSOFA; raises pydantic's ``ValidationError`` for missing, malformed or impossible values."""
    obs = observations if isinstance(observations, QsofaInput) else QsofaInput.model_validate(observations)
    altered = (obs.gcs is not None and obs.gcs < GCS_NORMAL) or (obs.consciousness not in (None, "A"))
    criteria = QsofaCriteria(
        respiratory_rate=round_half_up(obs.respiratory_rate, 0) >= RESPIRATORY_RATE_FROM,
        altered_mentation=altered,
        systolic_bp=round_half_up(obs.systolic_bp, 0) <= SYSTOLIC_BP_UP_TO,
    )
    score = sum((criteria.respiratory_rate, criteria.altered_mentation, criteria.systolic_bp))
    return QsofaResult(score=score, positive=score >= POSITIVE_FROM, criteria=criteria)


def run_json(text: str) -> str:
    """JSON in, JSON out, never raising: the same contract as ``news2.run_json``."""
    return json_contract(text, score_qsofa)
