"""National Early Warning Score 2 (NEWS2): the aggregate score, its clinical risk and the response it calls for.

Source: Royal College of Physicians. *National Early Warning Score (NEWS) 2: Standardising the assessment
of acute-illness severity in the NHS.* Updated report of a working party. London: RCP, December 2017 —
Chart 1 (the NEWS scoring system), Chart 3 (thresholds and triggers) and Chart 4 (clinical response).
The charts are transcribed cell by cell into ``knowledge/news2_chart.json``; this module holds no clinical
number of its own, only the rules for reading the chart:

- Each of the seven parameters (respiration rate, SpO2, air or oxygen, systolic blood pressure, pulse,
  consciousness, temperature) scores 0-3; the NEWS2 score is their sum (0-20).
- SpO2 is scored on Scale 1 unless a clinician has prescribed Scale 2 (target 88-92%, eg hypercapnic
  respiratory failure). On Scale 2, 93% or more scores 0 on air and 1/2/3 on supplemental oxygen.
- Clinical risk (Chart 3): high at 7 or more, medium at 5-6, low-medium when the aggregate is 0-4 but any
  single parameter scores 3 (a "red score"), low otherwise. The response (Chart 4) follows the risk, with
  score 0 and scores 1-4 told apart.
- Rounding: the chart is written in whole numbers (temperature to 0.1 °C). A value given more precisely is
  first rounded half up to the chart's precision (20.5 breaths/min → 21, 38.05 °C → 38.1) and then looked
  up, so every value falls in exactly one cell.
- Values outside the plausible range in the chart file (CareBridge's own data-entry limits, not RCP's) are
  rejected, as are missing parameters unless ``allow_partial=True``; a partial score is flagged incomplete
  and is only a lower bound.

``run_json`` is the stable JSON contract behind ``carebridge news2 --json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

CHART_FILE = Path(__file__).resolve().parent / "knowledge" / "news2_chart.json"

#: The seven NEWS2 parameters, in chart order ("on_oxygen" is the chart's "Air or oxygen?").
PARAMETERS: tuple[str, ...] = (
    "respiratory_rate", "spo2", "on_oxygen", "systolic_bp", "heart_rate", "consciousness", "temperature",
)
MAX_JSON_CHARS = 1_000_000
MAX_BATCH = 1_000

Consciousness = Literal["A", "C", "V", "P", "U"]
Risk = Literal["low", "low_medium", "medium", "high"]
Supply = Literal["air", "oxygen"]


# --- the chart, as data -------------------------------------------------------------------------------------


class _ChartPart(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Band(_ChartPart):
    """One cell of a chart row: inclusive bounds at the row's precision (absent = open), and its score."""

    min: Decimal | None = None
    max: Decimal | None = None
    on: Supply | None = None  # SpO2 Scale 2 cells that apply only on air or only on oxygen
    score: int = Field(ge=0, le=3)


class BandedParameter(_ChartPart):
    label: str
    unit: str
    decimals: int = Field(ge=0, le=3)
    note: str = ""
    bands: tuple[Band, ...] = Field(min_length=1)

    def bands_for(self, supply: Supply) -> tuple[Band, ...]:
        return tuple(band for band in self.bands if band.on in (None, supply))

    @model_validator(mode="after")
    def _cells_tile_the_line(self) -> Self:
        step = Decimal(1).scaleb(-self.decimals)
        for supply in ("air", "oxygen"):
            bands = self.bands_for(supply)
            if bands[0].min is not None or bands[-1].max is not None:
                raise ValueError(f"{self.label}: the first cell must be open below and the last open above")
            for band in bands:
                if band.min is not None and band.max is not None and band.min > band.max:
                    raise ValueError(f"{self.label}: a cell's min is above its max ({band.min} > {band.max})")
            for prev, nxt in pairwise(bands):
                if prev.max is None or nxt.min != prev.max + step:
                    raise ValueError(f"{self.label}: cells must follow each other without gap or overlap "
                                     f"(… {prev.max} then {nxt.min} …)")
        return self


class SupplyScores(_ChartPart):
    air: int = Field(ge=0, le=3)
    oxygen: int = Field(ge=0, le=3)


class AirOrOxygen(_ChartPart):
    label: str
    scores: SupplyScores


class AcvpuScores(_ChartPart):
    A: int = Field(ge=0, le=3)
    C: int = Field(ge=0, le=3)
    V: int = Field(ge=0, le=3)
    P: int = Field(ge=0, le=3)
    U: int = Field(ge=0, le=3)


class ConsciousnessRow(_ChartPart):
    label: str
    note: str = ""
    scores: AcvpuScores


class ChartParameters(_ChartPart):
    respiratory_rate: BandedParameter
    spo2_scale_1: BandedParameter
    spo2_scale_2: BandedParameter
    air_or_oxygen: AirOrOxygen
    systolic_bp: BandedParameter
    heart_rate: BandedParameter
    consciousness: ConsciousnessRow
    temperature: BandedParameter


class Thresholds(_ChartPart):
    red_parameter_score: int
    medium_from: int
    high_from: int


class RiskRow(_ChartPart):
    label: str
    trigger: str
    response: str


class ClinicalRisk(_ChartPart):
    low: RiskRow
    low_medium: RiskRow
    medium: RiskRow
    high: RiskRow


class ResponseRow(_ChartPart):
    row: str
    monitoring: str
    actions: tuple[str, ...] = Field(min_length=1)


class ClinicalResponse(_ChartPart):
    score_0: ResponseRow
    score_1_to_4: ResponseRow
    single_parameter_3: ResponseRow
    score_5_or_more: ResponseRow
    score_7_or_more: ResponseRow


class Limit(_ChartPart):
    min: Decimal
    max: Decimal
    unit: str


class PlausibleLimits(_ChartPart):
    note: str
    respiratory_rate: Limit
    spo2: Limit
    systolic_bp: Limit
    heart_rate: Limit
    temperature: Limit


class Source(_ChartPart):
    citation: str = Field(min_length=1)
    url: str
    charts: dict[str, str]
    acknowledgement: str


class Chart(_ChartPart):
    source: Source
    parameters: ChartParameters
    thresholds: Thresholds
    clinical_risk: ClinicalRisk
    clinical_response: ClinicalResponse
    plausible_limits: PlausibleLimits


def parse_chart(text: str) -> Chart:
    """Parse and check a chart file's text (decimals stay exact: 35.1 is Decimal("35.1"), not a float)."""
    return Chart.model_validate(json.loads(text, parse_float=Decimal))


@lru_cache(maxsize=1)
def load_chart() -> Chart:
    return parse_chart(CHART_FILE.read_text(encoding="utf-8"))


# --- rounding and plausibility ------------------------------------------------------------------------------


def round_half_up(value: float, decimals: int) -> Decimal:
    """Round to ``decimals`` places, halves away from zero, on the decimal value as written (35.05 → 35.1)."""
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def check_plausible(name: str, value: float) -> None:
    """Raise ValueError when ``value`` is outside the chart file's plausible range for vital sign ``name``."""
    limit: Limit = getattr(load_chart().plausible_limits, name)
    if not limit.min <= Decimal(str(value)) <= limit.max:
        unit = limit.unit
        raise ValueError(f"{value:g} {unit} is not a possible value; expected {limit.min} to {limit.max} {unit}")


# --- input and result ---------------------------------------------------------------------------------------


class News2Input(BaseModel):
    """One set of observations. Absent (or null) parameters count as not recorded."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)

    respiratory_rate: float | None = Field(None, description="Breaths per minute.")
    spo2: float | None = Field(None, description="Peripheral oxygen saturation, %.")
    spo2_scale: Literal[1, 2] = Field(1, description="2 only where a clinician has prescribed a 88-92% target.")
    on_oxygen: bool | None = Field(None, description="True on supplemental oxygen, false on air.")
    systolic_bp: float | None = Field(None, description="Systolic blood pressure, mmHg.")
    heart_rate: float | None = Field(None, description="Pulse, beats per minute.")
    consciousness: Consciousness | None = Field(None, description="ACVPU; C means new confusion.")
    temperature: float | None = Field(None, description="Temperature, °C.")

    @field_validator("spo2_scale", mode="before")
    @classmethod
    def _scale_not_bool(cls, value: object) -> object:
        if isinstance(value, bool):  # True == 1 in Python; a scale is a number, not a flag
            raise ValueError("Input should be 1 or 2")
        return value

    @field_validator("consciousness", mode="before")
    @classmethod
    def _acvpu_letter(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("respiratory_rate", "spo2", "systolic_bp", "heart_rate", "temperature")
    @classmethod
    def _plausible(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None:
            check_plausible(str(info.field_name), value)
        return value


class News2Result(BaseModel):
    model_config = ConfigDict(frozen=True)

    score: int = Field(ge=0, le=20)
    risk: Risk
    parameters: dict[str, int] = Field(description="Score of each parameter that was scored, in chart order.")
    response: str = Field(description="Chart 4: frequency of monitoring and clinical response.")
    single_parameter_3: bool = Field(description="Some parameter scores 3 (a red score).")
    monitoring: str
    actions: tuple[str, ...]
    spo2_scale: Literal[1, 2]
    complete: bool = Field(description="False when a parameter could not be scored: the score is a lower bound.")
    missing: tuple[str, ...] = Field(description="Parameters not scored: not supplied, or not scorable without one.")


class IncompleteError(ValueError):
    """A score needs parameters that were not supplied."""

    def __init__(self, missing: tuple[str, ...], what: str = "NEWS2 needs all seven parameters") -> None:
        self.missing = missing
        super().__init__(f"{what}; missing: {', '.join(missing)}")


# --- scoring ------------------------------------------------------------------------------------------------


def band_score(parameter: BandedParameter, value: float, supply: Supply = "air") -> int:
    """The score of the chart cell that ``value`` (rounded half up to the row's precision) falls in."""
    rounded = round_half_up(value, parameter.decimals)
    return next(band.score for band in parameter.bands_for(supply) if band.max is None or rounded <= band.max)


def _banded(parameter: BandedParameter, value: float | None) -> int | None:
    return None if value is None else band_score(parameter, value)


def _spo2_score(chart: ChartParameters, vitals: News2Input) -> int | None:
    if vitals.spo2 is None:
        return None
    if vitals.spo2_scale == 1:
        return band_score(chart.spo2_scale_1, vitals.spo2)
    on_air = band_score(chart.spo2_scale_2, vitals.spo2, "air")
    on_oxygen = band_score(chart.spo2_scale_2, vitals.spo2, "oxygen")
    if vitals.on_oxygen is None:  # below 93% Scale 2 does not depend on it
        return on_air if on_air == on_oxygen else None
    return on_oxygen if vitals.on_oxygen else on_air


def _parameter_scores(chart: ChartParameters, vitals: News2Input) -> dict[str, int | None]:
    supply = chart.air_or_oxygen.scores
    return {
        "respiratory_rate": _banded(chart.respiratory_rate, vitals.respiratory_rate),
        "spo2": _spo2_score(chart, vitals),
        "on_oxygen": None if vitals.on_oxygen is None else (supply.oxygen if vitals.on_oxygen else supply.air),
        "systolic_bp": _banded(chart.systolic_bp, vitals.systolic_bp),
        "heart_rate": _banded(chart.heart_rate, vitals.heart_rate),
        "consciousness": None if vitals.consciousness is None else getattr(chart.consciousness.scores,
                                                                          vitals.consciousness),
        "temperature": _banded(chart.temperature, vitals.temperature),
    }


def clinical_risk(score: int, single_parameter_3: bool) -> Risk:
    """Chart 3: the aggregate thresholds take precedence over a single red score."""
    thresholds = load_chart().thresholds
    if score >= thresholds.high_from:
        return "high"
    if score >= thresholds.medium_from:
        return "medium"
    return "low_medium" if single_parameter_3 else "low"


def clinical_response(score: int, risk: Risk) -> ResponseRow:
    """Chart 4: the row for this risk; a low risk is split into score 0 and scores 1-4."""
    rows = load_chart().clinical_response
    by_risk = {
        "high": rows.score_7_or_more, "medium": rows.score_5_or_more, "low_medium": rows.single_parameter_3,
        "low": rows.score_1_to_4 if score else rows.score_0,
    }
    return by_risk[risk]


def score_news2(vitals: News2Input | Mapping[str, Any], *, allow_partial: bool = False) -> News2Result:
    """Score one set of observations.

    Raises pydantic's ``ValidationError`` for malformed or impossible values, and ``IncompleteError``
    (listing them) when parameters are missing and ``allow_partial`` is false.
    """
    obs = vitals if isinstance(vitals, News2Input) else News2Input.model_validate(vitals)
    not_supplied = tuple(name for name in PARAMETERS if getattr(obs, name) is None)
    if not_supplied and not allow_partial:
        raise IncompleteError(not_supplied)
    chart = load_chart()
    raw = _parameter_scores(chart.parameters, obs)
    scores = {name: value for name, value in raw.items() if value is not None}
    missing = tuple(name for name in PARAMETERS if name not in scores)
    total = sum(scores.values())
    red = any(value == chart.thresholds.red_parameter_score for value in scores.values())
    risk = clinical_risk(total, red)
    row = clinical_response(total, risk)
    caveat = f"Incomplete NEWS2, not scored: {', '.join(missing)}; the score is a lower bound. " if missing else ""
    return News2Result(
        score=total,
        risk=risk,
        parameters=scores,
        response=f"{caveat}{row.monitoring}. {'. '.join(row.actions)}.",
        single_parameter_3=red,
        monitoring=row.monitoring,
        actions=row.actions,
        spo2_scale=obs.spo2_scale,
        complete=not missing,
        missing=missing,
    )


# --- the JSON contract --------------------------------------------------------------------------------------


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, each led by the field it concerns: "temperature: 98.6 °C is not a possible …"."""
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(part) for part in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def _run_one(item: object, compute: Callable[[dict[str, Any]], BaseModel]) -> dict[str, Any]:
    if not isinstance(item, dict):
        return {"error": "expected a JSON object of observations"}
    try:
        return compute(item).model_dump(mode="json")
    except ValidationError as exc:
        return {"error": describe_validation_error(exc)}
    except IncompleteError as exc:
        return {"error": str(exc), "missing": list(exc.missing)}


def json_contract(text: str, compute: Callable[[dict[str, Any]], BaseModel]) -> str:
    """JSON object in → result object out; JSON list in → list out. Never raises: problems become {"error": …}."""
    out: object
    if len(text) > MAX_JSON_CHARS:
        out = {"error": f"input longer than {MAX_JSON_CHARS} characters"}
    else:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            out = {"error": f"input is not valid JSON: {exc}"}
        else:
            if not isinstance(data, list):
                out = _run_one(data, compute)
            elif len(data) > MAX_BATCH:
                out = {"error": f"a list may hold at most {MAX_BATCH} observation sets"}
            else:
                out = [_run_one(item, compute) for item in data]
    return json.dumps(out, ensure_ascii=False)


def run_json(text: str, *, allow_partial: bool = False) -> str:
    """The ``carebridge news2 --json`` contract: observations as JSON in, NEWS2 results as JSON out.

    ``{"respiratory_rate": 22, "spo2": 93, "spo2_scale": 1, "on_oxygen": false, "systolic_bp": 105,
    "heart_rate": 115, "consciousness": "A", "temperature": 38.6}`` gives ``{"score": 8, "risk": "high",
    "parameters": {...}, "response": "...", "single_parameter_3": false, ...}``.
    """
    return json_contract(text, lambda item: score_news2(item, allow_partial=allow_partial))
