"""The emergency context: SOS (raise, follow, close) and the patient's signed emergency card.

Other contexts and the web pages use only what is listed here.
"""

from carebridge.contexts.emergency.card import Verification, load_public_key, parse_card, verify_card
from carebridge.contexts.emergency.merge import move_emergency  # importing it registers the merge handler
from carebridge.contexts.emergency.profile import get_profile, issue_card, update_profile
from carebridge.contexts.emergency.schemas import (
    EmergencyCardRead,
    EmergencyProfileRead,
    EmergencyProfileUpdate,
    SosCreate,
    SosRead,
    SosStatus,
)
from carebridge.contexts.emergency.service import (
    get_sos,
    list_open_sos,
    list_patient_sos,
    nearest_emergency,
    open_count,
    raise_sos,
    transition_sos,
)

__all__ = [
    "EmergencyCardRead",
    "EmergencyProfileRead",
    "EmergencyProfileUpdate",
    "SosCreate",
    "SosRead",
    "SosStatus",
    "Verification",
    "get_profile",
    "get_sos",
    "issue_card",
    "list_open_sos",
    "list_patient_sos",
    "load_public_key",
    "move_emergency",
    "nearest_emergency",
    "open_count",
    "parse_card",
    "raise_sos",
    "transition_sos",
    "update_profile",
    "verify_card",
]
