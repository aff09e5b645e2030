"""The authenticated caller as every service sees it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from carebridge.security.roles import CaregiverScope, Role


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: uuid.UUID
    role: Role
    username: str = ""
    organization_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None
    # patient id -> scopes the patient granted this caregiver
    caregiver_of: dict[uuid.UUID, frozenset[CaregiverScope]] = field(default_factory=dict)
    session_id: uuid.UUID | None = None
    mfa: bool = False
    # An admin signed in without a second factor while the server requires one: admin-only
    # permissions answer 403 "totp-required" until they enrol (see policy.require).
    needs_totp: bool = False
    client_address: str | None = None
    request_id: str | None = None
    # SMART scopes the sign-in was narrowed to (enforced by fhir/smart.py); None: unnarrowed first-party client.
    scope: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.role not in (Role.patient, Role.caregiver)
