"""The record's code sets, one enum each, values as FHIR R4 spells them (the FHIR facade maps from here).

Sources: FHIR R4 value sets encounter-status, v3-ActEncounterCode, condition-clinical, condition-ver-status,
condition-category, allergy-intolerance-type/-category/-criticality, reaction-event-severity,
observation-category, observation-status, v3-ObservationInterpretation (L, H, LL, HH, N), immunization-status,
care-plan-status and care-plan-intent (https://hl7.org/fhir/R4/terminologies-valuesets.html).
"""

from __future__ import annotations

from enum import StrEnum


class EncounterClass(StrEnum):
    """v3 ActEncounterCode: visit (ambulatory), teleconsultation (virtual), admission (inpatient), home visit."""

    AMB = "AMB"
    VR = "VR"
    IMP = "IMP"
    HH = "HH"


class EncounterStatus(StrEnum):
    planned = "planned"
    in_progress = "in-progress"
    finished = "finished"  # closed: the encounter's records are read-only except through an amendment


class ConditionCategory(StrEnum):
    problem_list_item = "problem-list-item"
    encounter_diagnosis = "encounter-diagnosis"


class ConditionClinicalStatus(StrEnum):
    active = "active"
    recurrence = "recurrence"
    relapse = "relapse"
    inactive = "inactive"
    remission = "remission"
    resolved = "resolved"


ACTIVE_CLINICAL = frozenset({ConditionClinicalStatus.active, ConditionClinicalStatus.recurrence,
                             ConditionClinicalStatus.relapse})


class ConditionVerificationStatus(StrEnum):
    unconfirmed = "unconfirmed"
    provisional = "provisional"
    differential = "differential"
    confirmed = "confirmed"
    refuted = "refuted"
    entered_in_error = "entered-in-error"


class AllergyType(StrEnum):
    allergy = "allergy"
    intolerance = "intolerance"


class AllergyCategory(StrEnum):
    food = "food"
    medication = "medication"
    environment = "environment"
    biologic = "biologic"


class AllergyCriticality(StrEnum):
    low = "low"
    high = "high"
    unable_to_assess = "unable-to-assess"


class AllergyClinicalStatus(StrEnum):
    active = "active"
    inactive = "inactive"
    resolved = "resolved"


class ReactionSeverity(StrEnum):
    mild = "mild"
    moderate = "moderate"
    severe = "severe"


class ObservationCategory(StrEnum):
    vital_signs = "vital-signs"
    laboratory = "laboratory"


class ObservationStatus(StrEnum):
    preliminary = "preliminary"
    final = "final"
    amended = "amended"
    entered_in_error = "entered-in-error"


class Interpretation(StrEnum):
    """v3 ObservationInterpretation, the subset computed from a reference (and critical) range."""

    LL = "LL"
    L = "L"
    N = "N"
    H = "H"
    HH = "HH"


class ImmunizationStatus(StrEnum):
    completed = "completed"
    not_done = "not-done"
    entered_in_error = "entered-in-error"


class CarePlanStatus(StrEnum):
    draft = "draft"
    active = "active"
    on_hold = "on-hold"
    revoked = "revoked"
    completed = "completed"


class CarePlanIntent(StrEnum):
    proposal = "proposal"
    plan = "plan"
    order = "order"


class GoalStatus(StrEnum):
    proposed = "proposed"
    active = "active"
    achieved = "achieved"
    cancelled = "cancelled"


class ActivityStatus(StrEnum):
    not_started = "not-started"
    scheduled = "scheduled"
    in_progress = "in-progress"
    completed = "completed"
    cancelled = "cancelled"


class RecordKind(StrEnum):
    """What a timeline entry points at; also the `{kind}` of the amendment routes."""

    encounter = "encounter"
    condition = "condition"
    allergy = "allergy"
    observation = "observation"
    immunization = "immunization"
    care_plan = "care_plan"
    discharge_summary = "discharge_summary"
