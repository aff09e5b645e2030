"""The care context: care requests (triage + facilities + next steps), kept transiently unless saved,
and the compatibility brokering API (`/diagnose`, `/geo`) that existing patient apps speak.
"""

from carebridge.contexts.care.config import CareConfig, config_from
from carebridge.contexts.care.merge import move_care_requests  # importing it registers the merge handler
from carebridge.contexts.care.providers import FacilityProvider, LocalProvider, Travel
from carebridge.contexts.care.schemas import CareRequestCreate, CareRequestRead, FacilityMatch
from carebridge.contexts.care.service import create_care_request, purge_expired

__all__ = [
    "CareConfig",
    "CareRequestCreate",
    "CareRequestRead",
    "FacilityMatch",
    "FacilityProvider",
    "LocalProvider",
    "Travel",
    "config_from",
    "create_care_request",
    "move_care_requests",
    "purge_expired",
]
