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
)
from carebridge.contexts.records.merge import move_records  # importing it registers the merge handler
from carebridge.contexts.records.schemas import (
    AllergyCreate,
    CarePlanCreate,
    ConditionCreate,
    EncounterClose,
    EncounterCreate,
    ImmunizationCreate,
    ObservationCreate,
)
from carebridge.contexts.records.service import amend, close_encounter, open_encounter
from carebridge.contexts.records.terminology import CodeSystem, lookup, search
from carebridge.contexts.records.timeline import get_timeline, read_timeline

__all__ = [
    "AllergyCreate",
    "CarePlanCreate",
    "CodeSystem",
    "ConditionCreate",
    "EncounterClose",
    "EncounterCreate",
    "ImmunizationCreate",
    "ObservationCreate",
    "add_allergy",
    "add_care_plan",
    "add_condition",
    "add_history",
    "add_immunization",
    "add_observation",
    "add_progress_note",
    "amend",
    "close_encounter",
    "get_timeline",
    "lookup",
    "move_records",
    "open_encounter",
    "read_timeline",
    "search",
]
