"""DTOs of the prescribing API; every string and list is bounded so no body can be unbounded."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from carebridge.kernel.pagination import Page

Text200 = Annotated[str, Field(min_length=1, max_length=200)]


class RxStatus(StrEnum):
    draft = "draft"
    signed = "signed"
    partially_dispensed = "partially_dispensed"
    dispensed = "dispensed"
    completed = "completed"
    cancelled = "cancelled"
    expired = "expired"


OPEN_STATUSES = frozenset({RxStatus.draft, RxStatus.signed, RxStatus.partially_dispensed, RxStatus.dispensed})
ACTIVE_STATUSES = frozenset({RxStatus.signed, RxStatus.partially_dispensed, RxStatus.dispensed})
Unit = Literal["mg", "g", "mcg", "ml", "unit", "tablet", "capsule", "drop", "puff", "sachet"]
Route = Literal["oral", "iv", "im", "sc", "topical", "inhaled", "rectal", "vaginal", "ophthalmic", "otic",
                "nasal", "sublingual", "transdermal"]
WithFood = Literal["before", "with", "after", "any"]


class MedicationHit(BaseModel):
    label: str
    kind: str
    ingredients: list[str]
    atc: list[str]
    manufacturer: str = ""
    routes: list[str] = Field(default_factory=list)
    strengths: list[str] = Field(default_factory=list)


class MedicationPage(BaseModel):
    items: list[MedicationHit]
    next_cursor: str | None = None
    limit: int


class ItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    medication: Text200 = Field(description="Generic, brand (incl. Indian brands), combination or ATC code.")
    dose: float = Field(gt=0, le=100_000, allow_inf_nan=False)
    unit: Unit = "mg"
    route: Route = "oral"
    times_per_day: int = Field(ge=1, le=24)
    with_food: WithFood = "any"
    duration_days: int = Field(ge=1, le=365)
    quantity: int | None = Field(default=None, ge=1, le=10_000, description="Default: dose count for the course.")
    refills: int = Field(default=0, ge=0, le=12)
    instructions: str = Field(default="", max_length=500)


class ClinicalInputs(BaseModel):
    """Facts for decision support the record does not (yet) supply; the record's values are added to them."""

    model_config = ConfigDict(extra="forbid")

    allergies: list[Text200] = Field(default_factory=list, max_length=50)
    conditions: list[Text200] = Field(default_factory=list, max_length=50, description="ICD-10 codes.")
    egfr: float | None = Field(default=None, ge=0, le=250, allow_inf_nan=False)
    weight_kg: float | None = Field(default=None, gt=0, le=400, allow_inf_nan=False)
    pregnant: bool = False
    breastfeeding: bool = False


class PrescriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patient_id: uuid.UUID
    items: list[ItemCreate] = Field(min_length=1, max_length=30)
    note: str = Field(default="", max_length=2000)
    pharmacy_organization_id: uuid.UUID | None = None
    clinical: ClinicalInputs = Field(default_factory=ClinicalInputs)


class PrescriptionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ItemCreate] = Field(min_length=1, max_length=30)
    note: str = Field(default="", max_length=2000)
    clinical: ClinicalInputs = Field(default_factory=ClinicalInputs)


class CheckOn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    clinical: ClinicalInputs = Field(default_factory=ClinicalInputs)


class AlertDecide(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["interaction", "allergy", "condition", "duplicate", "dose", "unknown"]
    items: list[Text200] = Field(min_length=1, max_length=3)
    action: Literal["acknowledge", "override"]
    reason: str = Field(default="", max_length=500)


class CancelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=500)


class DispenseLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: uuid.UUID
    quantity: int = Field(ge=1, le=10_000)


class DispenseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lines: list[DispenseLine] = Field(min_length=1, max_length=30)


class RefillCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=500)


class DoseMark(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["taken", "skipped"]


class ItemRead(BaseModel):
    id: uuid.UUID
    medication: str
    ingredients: list[str]
    dose: float
    unit: str
    route: str
    times_per_day: int
    with_food: str
    duration_days: int
    quantity: int
    refills: int
    refills_used: int
    dispensed_quantity: int
    instructions: str


class AlertRead(BaseModel):
    kind: str
    severity: str
    items: list[str]
    message: str
    management: str = ""
    sources: list[str] = Field(default_factory=list)
    interruptive: bool
    overridable: bool
    blocking: bool = Field(description="Signing is refused while this alert is neither acknowledged nor overridden.")
    decision: str | None = None
    reason: str | None = None


class CheckRead(BaseModel):
    id: uuid.UUID
    prescription_id: uuid.UUID
    at: datetime
    trigger: str
    knowledge_version: str
    outcome: Literal["clear", "warnings", "blocking"]
    alerts: list[AlertRead]
    inputs: dict[str, Any]


class PrescriptionRead(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    prescriber_id: uuid.UUID
    organization_id: uuid.UUID | None
    pharmacy_organization_id: uuid.UUID | None
    status: RxStatus
    note: str
    items: list[ItemRead]
    created_at: datetime
    signed_at: datetime | None
    expires_at: datetime | None
    content_hash: str | None
    latest_check: CheckRead | None = None


PrescriptionPage = Page[PrescriptionRead]


class VerifyRead(BaseModel):
    valid: bool
    reason: str
    prescription_id: uuid.UUID
    content_hash: str | None
    signed_at: datetime | None
    signed_by: uuid.UUID | None


class DispenseRead(BaseModel):
    id: uuid.UUID
    item_id: uuid.UUID
    quantity: int
    pharmacist_id: uuid.UUID
    organization_id: uuid.UUID | None
    at: datetime


class RefillRead(BaseModel):
    id: uuid.UUID
    prescription_id: uuid.UUID
    status: Literal["open", "approved", "refused"]
    note: str
    at: datetime
    decided_at: datetime | None = None
    decision_reason: str = ""


class RefillDecide(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["approve", "refuse"]
    reason: str = Field(default="", max_length=500, description="Required (at least 3 characters) to refuse.")


class DoseRead(BaseModel):
    id: str = Field(description="<item id>.<due time as unix seconds>; pass to POST /doses/{id}.")
    item_id: uuid.UUID
    medication: str
    due_at: datetime
    status: Literal["due", "taken", "skipped"]


class AdherenceRead(BaseModel):
    item_id: uuid.UUID
    medication: str
    due: int
    taken: int
    skipped: int
    percent: float | None


class OpenAlert(BaseModel):
    prescription_id: uuid.UUID
    status: RxStatus
    kind: str
    severity: str
    items: list[str]
    message: str
    management: str = ""
    sources: list[str] = Field(default_factory=list)
    overridable: bool = True
    checked_at: datetime | None = None
    trigger: str = Field(default="", description="What ran the check: create, update, on_demand or event.")


class SignedText(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=400)
    valid: bool | None = None
