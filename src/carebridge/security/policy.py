"""The single access decision for patient data: role permission, then relationship.

A patient reaches only their own record, a caregiver only the patients who linked them and only
within the scopes granted, staff only patients cared for by their organization (admins included).
Consent (a later issue) adds grants and restrictions to `PatientFacts` and narrows the result here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from carebridge.kernel.errors import Forbidden, Problem
from carebridge.security.principal import Principal
from carebridge.security.roles import (
    ADMIN_ONLY_PERMISSIONS,
    CAREGIVER_SCOPE_FOR,
    DataCategory,
    Permission,
    Role,
    has_permission,
)


@dataclass(frozen=True, slots=True)
class PatientFacts:
    """What the policy needs to know about the patient being reached."""

    patient_id: uuid.UUID
    organization_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    active: bool = True


@dataclass(frozen=True, slots=True)
class AccessDecision:
    allowed: bool
    basis: str  # own | caregiver | organization | denied:<why>
    reason: str = ""


def decide_patient_access(
    principal: Principal,
    permission: Permission,
    facts: PatientFacts,
    category: DataCategory = DataCategory.demographics,
) -> AccessDecision:
    """Allow or refuse, with the basis recorded in the audit trail; `category` is the part of the record reached."""
    if not has_permission(principal.role, permission):
        return AccessDecision(False, "denied:role", f"role {principal.role} may not {permission}")
    if principal.role is Role.patient:
        if principal.patient_id == facts.patient_id:
            return AccessDecision(True, "own")
        return AccessDecision(False, "denied:not-own", "patients can reach only their own record")
    if principal.role is Role.caregiver:
        scopes = principal.caregiver_of.get(facts.patient_id)
        if scopes is None:
            return AccessDecision(False, "denied:not-linked", "this patient has not linked you as a caregiver")
        needed = CAREGIVER_SCOPE_FOR.get(permission)
        if needed is not None and needed not in scopes:
            return AccessDecision(False, "denied:scope", f"the patient has not allowed {needed.value}")
        return AccessDecision(True, "caregiver")
    if principal.organization_id is not None and principal.organization_id in facts.organization_ids:
        return AccessDecision(True, "organization")
    return AccessDecision(False, "denied:organization", "this patient is not cared for by your organization")


def require(principal: Principal, permission: Permission) -> None:
    """Raise 403 unless the role grants the permission (for actions not about one patient).

    Admin-only permissions also need the admin's second factor when the server requires it.
    """
    if not has_permission(principal.role, permission):
        raise Forbidden(f"role {principal.role.value} may not {permission.value}")
    if principal.needs_totp and permission in ADMIN_ONLY_PERMISSIONS:
        raise Problem(
            "admin actions need two-factor sign-in: set it up at /api/v1/me/totp/setup, confirm it, then retry",
            status=403, slug="totp-required", title="Two-factor sign-in required",
        )
