"""The patients context: registration, search, duplicates and merge, and the one door to a patient's record.

Other contexts reach a patient through `load_patient_for` (policy + audit) and ask the policy with
`get_patient_facts`; identity's self-registration calls `create_patient` with `principal=None`.
Contexts that key rows by patient register an `on_patient_merged` handler so a merge moves them too.
"""

from carebridge.contexts.patients.access import (
    facts_for,
    get_patient_facts,
    load_patient_for,
    remember_policy_facts,
    visible_ids,
)
from carebridge.contexts.patients.indexing import rebuild_search_index
from carebridge.contexts.patients.merge import MergeHandler, merge_handlers, merge_patients, on_patient_merged
from carebridge.contexts.patients.schemas import (
    ABHA_SYSTEM,
    Address,
    AdministrativeSex,
    DeactivateRequest,
    EmergencyContactIn,
    EmergencyContactRead,
    GeoPoint,
    IdentifierIn,
    IdentifierRead,
    MergeRequest,
    PatientCreate,
    PatientPage,
    PatientRead,
    PatientUpdate,
    PurposeOfUse,
    mrn_system,
)
from carebridge.contexts.patients.search import PatientQuery, search_patients
from carebridge.contexts.patients.service import (
    create_patient,
    deactivate_patient,
    get_patient,
    to_read,
    update_patient,
)

__all__ = [
    "ABHA_SYSTEM",
    "Address",
    "AdministrativeSex",
    "DeactivateRequest",
    "EmergencyContactIn",
    "EmergencyContactRead",
    "GeoPoint",
    "IdentifierIn",
    "IdentifierRead",
    "MergeHandler",
    "MergeRequest",
    "PatientCreate",
    "PatientPage",
    "PatientQuery",
    "PatientRead",
    "PatientUpdate",
    "PurposeOfUse",
    "create_patient",
    "deactivate_patient",
    "facts_for",
    "get_patient",
    "get_patient_facts",
    "load_patient_for",
    "merge_handlers",
    "merge_patients",
    "mrn_system",
    "on_patient_merged",
    "rebuild_search_index",
    "remember_policy_facts",
    "search_patients",
    "to_read",
    "update_patient",
    "visible_ids",
]
