"""The clinical record: encounters with SOAP notes, the problem list, allergies, observations, immunizations,
care plans, discharge summaries, audited amendments, the patient timeline and the shipped code lists.

Other contexts (FHIR facade, prescribing, the demo) use the service functions and DTOs named here.
"""

from carebridge.contexts.records.demo import add_history
from carebridge.contexts.records.entries import (
    add_allergy,
    add_care_plan,
    add_condition,
    add_immunization,
    add_observation,
    add_progress_note,
    update_allergy,
    update_condition,
)
from carebridge.contexts.records.facts import DECISION_CODES, DecisionFacts, LabValue, decision_facts
from carebridge.contexts.records.merge import move_records  # importing it registers the merge handler
from carebridge.contexts.records.queries import (
    find_allergies,
    find_care_plans,
    find_conditions,
    find_encounters,
    find_immunizations,
    find_observations,
    get_entry,
)
from carebridge.contexts.records.schemas import (
    AllergyCreate,
    AllergyRead,
    AllergyUpdate,
    CarePlanCreate,
    CarePlanRead,
    ConditionCreate,
    ConditionRead,
    ConditionUpdate,
    EncounterClose,
    EncounterCreate,
    EncounterRead,
    ImmunizationCreate,
    ImmunizationRead,
    ObservationCreate,
    ObservationRead,
)
from carebridge.contexts.records.service import amend, close_encounter, open_encounter, record_finished_encounter
from carebridge.contexts.records.terminology import CodeSystem, lookup, search
from carebridge.contexts.records.timeline import get_timeline, read_timeline
from carebridge.contexts.records.vocab import RecordKind

__all__ = [
    "DECISION_CODES",
    "AllergyCreate",
    "AllergyRead",
    "AllergyUpdate",
    "CarePlanCreate",
    "CarePlanRead",
    "CodeSystem",
    "ConditionCreate",
    "ConditionRead",
    "ConditionUpdate",
    "DecisionFacts",
    "EncounterClose",
    "EncounterCreate",
    "EncounterRead",
    "ImmunizationCreate",
    "ImmunizationRead",
    "LabValue",
    "ObservationCreate",
    "ObservationRead",
    "RecordKind",
    "add_allergy",
    "add_care_plan",
    "add_condition",
    "add_history",
    "add_immunization",
    "add_observation",
    "add_progress_note",
    "amend",
    "close_encounter",
    "decision_facts",
    "find_allergies",
    "find_care_plans",
    "find_conditions",
    "find_encounters",
    "find_immunizations",
    "find_observations",
    "get_entry",
    "get_timeline",
    "lookup",
    "move_records",
    "open_encounter",
    "read_timeline",
    "record_finished_encounter",
    "search",
    "update_allergy",
    "update_condition",
]
