"""Care-request DTOs: what a patient (or an app) sends, and the answer: triage, facilities, next steps."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from carebridge.engines.triage import Level, Sex

MAX_SYMPTOMS = 2000
MAX_RESULTS = 20


def _printable(value: str) -> str:
    if any(not (ch.isprintable() or ch in "\n\t") for ch in value):
        raise ValueError("must not contain control characters")
    return value


SymptomText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_SYMPTOMS),
                        AfterValidator(_printable)]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False, description="WGS 84 degrees.")]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False, description="WGS 84 degrees.")]


class Position(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lat: Latitude
    lng: Longitude


class CareRequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symptoms: SymptomText = Field(description="The complaint in the person's own words (any language the triage "
                                              "engine reads: English, Hinglish, Hindi).")
    location: Position
    age: float | None = Field(None, ge=0, le=130, allow_inf_nan=False)
    sex: Sex | None = None
    patient_id: uuid.UUID | None = Field(
        None, description="For a caregiver or staff member asking for a patient; a patient's own requests are "
                          "linked to them without it.")
    limit: int = Field(5, ge=1, le=MAX_RESULTS, description="How many facilities at most.")


class RedFlagSummary(BaseModel):
    id: str
    text: str


class ConditionSummary(BaseModel):
    code: str
    name: str
    score: float


class TriageSummary(BaseModel):
    """The part of the triage result a patient or an app acts on (the full reasoning stays in the engine)."""

    level: Level
    action: str
    specialty: str
    specialty_name: str
    red_flags: list[RedFlagSummary]
    conditions: list[ConditionSummary]
    safety_net: str
    disclaimer: str


class FacilityAddress(BaseModel):
    line: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None


class FacilityMatch(BaseModel):
    """A facility as any provider (local registry, remote FHIR server) reports it, measured from the patient."""

    id: str = Field(description="The provider's id: a UUID for the local registry, `Location/<id>` for FHIR.")
    source: Literal["local", "fhir"]
    name: str
    type: str | None
    ownership: str | None
    emergency: bool
    specialties: list[str]
    address: FacilityAddress
    lat: float
    lng: float
    phone: str | None
    distance_km: float
    travel_minutes: float = Field(description="Straight-line distance x road factor / average speed (see docs).")
    stars: float | None = Field(None, description="Rating, when the provider holds one (the registry does not).")
    reviews: int | None = None


class StepKind(StrEnum):
    call_emergency = "call_emergency"
    book = "book"
    call = "call"
    directions = "directions"
    self_care = "self_care"


class NextStep(BaseModel):
    kind: StepKind
    label: str
    href: str | None = Field(description="tel:, a scheduling link, or a map route.")
    facility_id: str | None = None


class SearchPlanRead(BaseModel):
    emergency_only: bool
    radius_km: float
    specialty: str | None
    specialty_matched: bool = Field(description="False when no facility with the specialty was in reach and the "
                                                "nearest facilities of any specialty are shown instead.")
    provider: Literal["local", "fhir"]


class CareRequestRead(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID | None
    created_at: datetime
    expires_at: datetime | None = Field(description="When the request is deleted; null once saved to the record.")
    saved: bool
    symptoms: str
    triage: TriageSummary
    search: SearchPlanRead
    facilities: list[FacilityMatch]
    next_steps: list[NextStep]
