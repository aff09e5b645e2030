"""Who may do what: roles, permissions and the one access policy for patient data.

Pure and import-free of contexts so every context, the FHIR facade and the web pages ask the same
question the same way. Consent narrows and widens `decide_patient_access` through `PatientFacts.consents`.
"""

from carebridge.security.policy import (
    BREAK_GLASS_BASIS,
    DEFAULT_ORGANIZATION_CATEGORIES,
    AccessDecision,
    ConsentFact,
    ConsentKind,
    PatientFacts,
    decide_patient_access,
    needs_consent_facts,
    require,
)
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
    "BREAK_GLASS_BASIS",
    "DEFAULT_ORGANIZATION_CATEGORIES",
    "ROLE_PERMISSIONS",
    "STAFF_ROLES",
    "AccessDecision",
    "CaregiverScope",
    "ConsentFact",
    "ConsentKind",
    "DataCategory",
    "PatientFacts",
    "Permission",
    "Principal",
    "Role",
    "decide_patient_access",
    "has_permission",
    "needs_consent_facts",
    "require",
]
