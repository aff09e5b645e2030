"""DTOs of the clinical record: what clients send (`XCreate`, `XUpdate`) and what they get back (`XRead`, `XPage`)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator, model_validator

from carebridge.contexts.records.units import unit_problem
from carebridge.contexts.records.vocab import (
    ActivityStatus,
    AllergyCategory,
    AllergyClinicalStatus,
    AllergyCriticality,
    AllergyType,
    CarePlanIntent,
    CarePlanStatus,
    ConditionCategory,
    ConditionClinicalStatus,
    ConditionVerificationStatus,
    EncounterClass,
    EncounterStatus,
    GoalStatus,
    ImmunizationStatus,
    Interpretation,
    ObservationCategory,
    ObservationStatus,
    ReactionSeverity,
    RecordKind,
)
from carebridge.kernel.pagination import Page
from carebridge.kernel.text import NoControl

Short = Annotated[str, StringConstraints(max_length=200, strip_whitespace=True), NoControl]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True), NoControl]
Reason = Annotated[str, StringConstraints(max_length=500, strip_whitespace=True), NoControl]
Note = Annotated[str, StringConstraints(max_length=2000), NoControl]
LongText = Annotated[str, StringConstraints(max_length=20000), NoControl]


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


Icd10Code = Annotated[str, BeforeValidator(_upper), StringConstraints(
    min_length=3, max_length=8, pattern=r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")]
LoincCode = Annotated[str, StringConstraints(min_length=3, max_length=10, strip_whitespace=True,
                                             pattern=r"^[0-9]{1,8}-[0-9]$")]
AmendReason = Annotated[str, StringConstraints(min_length=5, max_length=1000, strip_whitespace=True), NoControl]


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("needs a UTC offset, e.g. 2026-03-10T09:30:00+05:30")
    if value is not None and not 1900 <= value.year <= 2200:
        raise ValueError("must be between the years 1900 and 2200")
    return value


def _sane_date(value: date | None) -> date | None:
    if value is not None and not 1900 <= value.year <= 2200:
        raise ValueError("must be between the years 1900 and 2200")
    return value


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- encounters -------------------------------------------------------------------------------------------------


class SoapNote(_In):
    subjective: LongText = ""
    objective: LongText = ""
    assessment: LongText = ""
    plan: LongText = ""


class EncounterCreate(SoapNote):
    encounter_class: EncounterClass = Field(description="AMB visit, VR teleconsultation, IMP admission, HH home visit")
    start_at: datetime
    practitioner_id: uuid.UUID | None = None
    facility_id: uuid.UUID | None = None
    appointment_id: uuid.UUID | None = None
    reason: Reason = ""

    _v_start = field_validator("start_at")(_aware)


class EncounterUpdate(_In):
    """Only while the encounter is open; after closing, changes go through an amendment."""

    reason: Reason | None = None
    subjective: LongText | None = None
    objective: LongText | None = None
    assessment: LongText | None = None
    plan: LongText | None = None
    practitioner_id: uuid.UUID | None = None
    facility_id: uuid.UUID | None = None


class EncounterClose(_In):
    end_at: datetime | None = Field(None, description="Default: now.")

    _v_end = field_validator("end_at")(_aware)


class EncounterRead(_Out):
    id: uuid.UUID
    patient_id: uuid.UUID
    organization_id: uuid.UUID | None
    practitioner_id: uuid.UUID | None
    facility_id: uuid.UUID | None
    appointment_id: uuid.UUID | None
    encounter_class: EncounterClass
    status: EncounterStatus
    reason: str
    start_at: datetime
    end_at: datetime | None
    subjective: str
    objective: str
    assessment: str
    plan: str
    closed_at: datetime | None
    diagnoses: list[ConditionRead] = []
    amendments: int = 0
    updated_at: datetime | None = None  # for FHIR meta.lastUpdated / versionId


# --- conditions ---------------------------------------------------------------------------------------------------


class ConditionCreate(_In):
    code: Icd10Code = Field(description="An ICD-10 code from GET /api/v1/codes/icd10")
    category: ConditionCategory = ConditionCategory.problem_list_item
    clinical_status: ConditionClinicalStatus = ConditionClinicalStatus.active
    verification_status: ConditionVerificationStatus = ConditionVerificationStatus.confirmed
    onset_date: date | None = None
    abatement_date: date | None = None
    encounter_id: uuid.UUID | None = None
    note: Note = ""

    _v_dates = field_validator("onset_date", "abatement_date")(_sane_date)


class ConditionUpdate(_In):
    clinical_status: ConditionClinicalStatus | None = None
    verification_status: ConditionVerificationStatus | None = None
    onset_date: date | None = None
    abatement_date: date | None = None
    note: Note | None = None

    _v_dates = field_validator("onset_date", "abatement_date")(_sane_date)


class ConditionRead(_Out):
    id: uuid.UUID
    patient_id: uuid.UUID
    encounter_id: uuid.UUID | None
    code: str
    display: str
    category: ConditionCategory
    clinical_status: ConditionClinicalStatus
    verification_status: ConditionVerificationStatus
    onset_date: date | None
    abatement_date: date | None
    note: str
    recorded_at: datetime
    updated_at: datetime | None = None  # for FHIR meta.lastUpdated / versionId


# --- allergies ----------------------------------------------------------------------------------------------------


class AllergyCreate(_In):
    substance: Name
    type: AllergyType = AllergyType.allergy
    category: AllergyCategory
    criticality: AllergyCriticality = AllergyCriticality.unable_to_assess
    clinical_status: AllergyClinicalStatus = AllergyClinicalStatus.active
    reaction: Reason = ""
    severity: ReactionSeverity | None = None
    onset_date: date | None = None
    encounter_id: uuid.UUID | None = None
    note: Note = ""

    _v_onset = field_validator("onset_date")(_sane_date)


class AllergyUpdate(_In):
    criticality: AllergyCriticality | None = None
    clinical_status: AllergyClinicalStatus | None = None
    reaction: Reason | None = None
    severity: ReactionSeverity | None = None
    note: Note | None = None


class AllergyRead(_Out):
    id: uuid.UUID
    patient_id: uuid.UUID
    encounter_id: uuid.UUID | None
    substance: str
    type: AllergyType
    category: AllergyCategory
    criticality: AllergyCriticality
    clinical_status: AllergyClinicalStatus
    reaction: str
    severity: ReactionSeverity | None
    onset_date: date | None
    note: str
    recorded_at: datetime
    updated_at: datetime | None = None  # for FHIR meta.lastUpdated / versionId


# --- observations -------------------------------------------------------------------------------------------------


class ObservationCreate(_In):
    code: LoincCode = Field(description="A LOINC code from GET /api/v1/codes/loinc")
    value: float | None = Field(None, allow_inf_nan=False, ge=-1e9, le=1e9)
    value_text: Reason | None = None
    unit: str | None = Field(None, max_length=40, description="UCUM; default: the code's usual unit")
    effective_at: datetime
    status: ObservationStatus = ObservationStatus.final
    ref_low: float | None = Field(None, allow_inf_nan=False, ge=-1e9, le=1e9)
    ref_high: float | None = Field(None, allow_inf_nan=False, ge=-1e9, le=1e9)
    encounter_id: uuid.UUID | None = None
    note: Note = ""

    _v_at = field_validator("effective_at")(_aware)

    @field_validator("unit")
    @classmethod
    def _ucum(cls, value: str | None) -> str | None:
        if value is not None:
            problem = unit_problem(value)
            if problem:
                raise ValueError(f"not a UCUM unit: {problem}")
        return value

    @model_validator(mode="after")
    def _has_value(self) -> ObservationCreate:
        if self.value is None and not self.value_text:
            raise ValueError("give `value` (a number) or `value_text`")
        if self.ref_low is not None and self.ref_high is not None and self.ref_low > self.ref_high:
            raise ValueError("ref_low must not exceed ref_high")
        return self


class ObservationRead(_Out):
    id: uuid.UUID
    patient_id: uuid.UUID
    encounter_id: uuid.UUID | None
    category: ObservationCategory
    code: str
    display: str
    status: ObservationStatus
    value: float | None
    value_text: str | None
    unit: str
    ref_low: float | None
    ref_high: float | None
    interpretation: Interpretation | None
    effective_at: datetime
    note: str
    updated_at: datetime | None = None  # for FHIR meta.lastUpdated / versionId


# --- immunizations ------------------------------------------------------------------------------------------------


class ImmunizationCreate(_In):
    vaccine_code: Annotated[str, BeforeValidator(_upper), StringConstraints(
        min_length=2, max_length=20, pattern=r"^[A-Z0-9]+$")] = Field(
        description="A code from GET /api/v1/codes/vaccines")
    occurrence_date: date
    status: ImmunizationStatus = ImmunizationStatus.completed
    lot_number: Annotated[str, StringConstraints(max_length=60, strip_whitespace=True), NoControl] = ""
    site: Annotated[str, StringConstraints(max_length=60, strip_whitespace=True), NoControl] = ""
    encounter_id: uuid.UUID | None = None
    note: Note = ""

    _v_date = field_validator("occurrence_date")(_sane_date)


class ImmunizationRead(_Out):
    id: uuid.UUID
    patient_id: uuid.UUID
    encounter_id: uuid.UUID | None
    vaccine_code: str
    display: str
    status: ImmunizationStatus
    dose_number: int
    occurrence_date: date
    lot_number: str
    site: str
    note: str
    updated_at: datetime | None = None  # for FHIR meta.lastUpdated / versionId


# --- care plans ---------------------------------------------------------------------------------------------------


class Goal(_In):
    description: Name
    status: GoalStatus = GoalStatus.active
    target_date: date | None = None

    _v_target = field_validator("target_date")(_sane_date)


class Activity(_In):
    description: Name
    status: ActivityStatus = ActivityStatus.not_started


class CarePlanCreate(_In):
    title: Name
    intent: CarePlanIntent = CarePlanIntent.plan
    status: CarePlanStatus = CarePlanStatus.active
    description: Annotated[str, StringConstraints(max_length=4000), NoControl] = ""
    period_start: date
    period_end: date | None = None
    goals: list[Goal] = Field(default_factory=list, max_length=30)
    activities: list[Activity] = Field(default_factory=list, max_length=50)
    encounter_id: uuid.UUID | None = None

    _v_period = field_validator("period_start", "period_end")(_sane_date)


class CarePlanUpdate(_In):
    status: CarePlanStatus | None = None
    period_end: date | None = None
    goals: list[Goal] | None = Field(None, max_length=30)
    activities: list[Activity] | None = Field(None, max_length=50)

    _v_end = field_validator("period_end")(_sane_date)


class ProgressNoteCreate(_In):
    text: Annotated[str, StringConstraints(min_length=1, max_length=4000, strip_whitespace=True), NoControl]


class ProgressNoteRead(_Out):
    id: uuid.UUID
    at: datetime
    author_id: uuid.UUID | None
    text: str


class CarePlanRead(_Out):
    id: uuid.UUID
    patient_id: uuid.UUID
    encounter_id: uuid.UUID | None
    title: str
    intent: CarePlanIntent
    status: CarePlanStatus
    description: str
    period_start: date
    period_end: date | None
    goals: list[dict[str, Any]]
    activities: list[dict[str, Any]]
    notes: list[ProgressNoteRead] = []
    updated_at: datetime | None = None  # for FHIR meta.lastUpdated / versionId


# --- discharge summaries ------------------------------------------------------------------------------------------


class DischargeSummaryCreate(_In):
    diagnoses: Annotated[str, StringConstraints(min_length=1, max_length=2000), NoControl]
    hospital_course: LongText = ""
    condition_at_discharge: Annotated[str, StringConstraints(max_length=1000), NoControl] = ""
    medications: Annotated[str, StringConstraints(max_length=4000), NoControl] = ""
    follow_up: Note = ""


class DischargeSummaryRead(_Out):
    id: uuid.UUID
    patient_id: uuid.UUID
    encounter_id: uuid.UUID | None
    admitted_at: datetime
    discharged_at: datetime
    diagnoses: str
    hospital_course: str
    condition_at_discharge: str
    medications: str
    follow_up: str


# --- amendments ---------------------------------------------------------------------------------------------------


class AmendmentCreate(_In):
    reason: AmendReason = Field(description="Why the closed record changes (kept in the audit trail)")
    changes: dict[str, Any] = Field(description="Field -> new value, as in the record's Update schema",
                                    max_length=20)


class AmendmentRead(_Out):
    id: uuid.UUID
    record_kind: RecordKind
    record_id: uuid.UUID
    author_id: uuid.UUID | None
    reason: str
    before: dict[str, Any]
    after: dict[str, Any]
    at: datetime


# --- timeline -----------------------------------------------------------------------------------------------------


class TimelineEntryRead(_Out):
    id: uuid.UUID
    kind: RecordKind
    occurred_at: datetime
    ref_id: uuid.UUID
    encounter_id: uuid.UUID | None
    summary: str
    flag: str | None
    amended: bool


EncounterPage = Page[EncounterRead]
ConditionPage = Page[ConditionRead]
AllergyPage = Page[AllergyRead]
ObservationPage = Page[ObservationRead]
ImmunizationPage = Page[ImmunizationRead]
CarePlanPage = Page[CarePlanRead]
TimelinePage = Page[TimelineEntryRead]


class CodeRead(BaseModel):
    system: str
    code: str
    display: str
    synonyms: list[str]
    detail: str


class CodeSearchRead(BaseModel):
    items: list[CodeRead]


EncounterRead.model_rebuild()
