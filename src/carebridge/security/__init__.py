"""Who may do what: roles, permissions and the one access policy for patient data.

Pure and import-free of contexts so every context, the FHIR facade and the web pages ask the same
question the same way. The consent issue narrows `decide_patient_access` through `PatientFacts`.
"""

from carebridge.security.policy import AccessDecision, PatientFacts, decide_patient_access, require
from carebridge.security.principal import Principal
from carebridge.security.roles import (
    ROLE_PERMISSIONS,
    STAFF_ROLES,
    CaregiverScope,
    DataCategory,
    Permission,
    Role,
    has_permission,
)

__all__ = [
    "ROLE_PERMISSIONS",
    "STAFF_ROLES",
    "AccessDecision",
    "CaregiverScope",
    "DataCategory",
    "PatientFacts",
    "Permission",
    "Principal",
    "Role",
    "decide_patient_access",
    "has_permission",
    "require",
]
