"""The single access decision for patient data: role permission, then relationship, then the patient's consent.

A patient reaches only their own record, a caregiver only the patients who linked them and only within the
scopes granted, staff only patients cared for by their organization (admins included) or who granted them
access. Consent narrows and widens that, always from facts the caller loaded (`PatientFacts.consents`), so the
decision stays a pure function: a treating organization reaches the default categories unless the patient
restricted it; mental-health data is never in the default and needs an explicit grant; an explicit, unexpired
grant opens the record to a practitioner or an organization that does not treat the patient; a clinician's
break-glass opens everything for its short window, and is flagged as such in the audit trail.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from carebridge.kernel.errors import Forbidden, Problem
from carebridge.security.principal import Principal
from carebridge.security.roles import (
    ADMIN_ONLY_PERMISSIONS,
    CAREGIVER_SCOPE_FOR,
    PATIENT_SIDE_PERMISSIONS,
    SENSITIVE_CATEGORIES,
    DataCategory,
    Permission,
    Role,
    has_permission,
)

# What a treating organization reaches without any grant (deployments narrow it with a setting; the sensitive
# categories are taken out whatever it says).
DEFAULT_ORGANIZATION_CATEGORIES: frozenset[DataCategory] = frozenset(set(DataCategory) - SENSITIVE_CATEGORIES)


class ConsentKind(StrEnum):
    grant = "grant"  # the patient lets this grantee reach these categories
    restriction = "restriction"  # the patient narrows what this grantee (typically a treating organization) reaches
    break_glass = "break_glass"  # a clinician's reasoned, time-boxed emergency access


@dataclass(frozen=True, slots=True)
class ConsentFact:
    """One live consent directive about the patient, as the policy needs it.

    `categories` None means every category; `purposes` empty means any purpose of use.
    """

    kind: ConsentKind
    grantee_user_id: uuid.UUID | None = None
    grantee_organization_id: uuid.UUID | None = None
    categories: frozenset[DataCategory] | None = None
    purposes: frozenset[str] = frozenset()
    expires_at: datetime | None = None

    def names(self, principal: Principal) -> bool:
        if self.grantee_user_id is not None and self.grantee_user_id == principal.user_id:
            return True
        return self.grantee_organization_id is not None and self.grantee_organization_id == principal.organization_id

    def covers(self, category: DataCategory, purpose: str | None, at: datetime | None) -> bool:
        if self.expires_at is not None and at is not None and self.expires_at <= at:
            return False
        if self.categories is not None and category not in self.categories:
            return False
        return not self.purposes or purpose is None or purpose in self.purposes


@dataclass(frozen=True, slots=True)
class PatientFacts:
    """What the policy needs to know about the patient being reached.

    `consents` are the live directives that may concern the caller (a loader may leave out the ones that name
    someone else); `at` is the time the directives' expiry is judged at.
    """

    patient_id: uuid.UUID
    organization_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    active: bool = True
    consents: tuple[ConsentFact, ...] = ()
    organization_default: frozenset[DataCategory] = DEFAULT_ORGANIZATION_CATEGORIES
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AccessDecision:
    allowed: bool
    basis: str  # own | caregiver | organization | consent | break-glass | denied:<why>
    reason: str = ""


BREAK_GLASS_BASIS = "break-glass"


def needs_consent_facts(principal: Principal, permission: Permission, patient_id: uuid.UUID) -> bool:
    """Whether a decision could turn on consent: not for a patient's own record, a refused role or a stranger
    caregiver, so loaders skip the query there."""
    if not has_permission(principal.role, permission):
        return False
    if principal.role is Role.patient:
        return False
    if principal.role is Role.caregiver:
        return patient_id in principal.caregiver_of
    return permission not in PATIENT_SIDE_PERMISSIONS


def decide_patient_access(
    principal: Principal,
    permission: Permission,
    facts: PatientFacts,
    category: DataCategory = DataCategory.demographics,
    *,
    purpose: str | None = None,
) -> AccessDecision:
    """Allow or refuse, with the basis recorded in the audit trail; `category` is the part of the record reached."""
    if not has_permission(principal.role, permission):
        return AccessDecision(False, "denied:role", f"role {principal.role} may not {permission}")
    if principal.role is Role.patient:
        if principal.patient_id == facts.patient_id:
            return AccessDecision(True, "own")
        return AccessDecision(False, "denied:not-own", "patients can reach only their own record")
    if principal.role is Role.caregiver:
        return _caregiver(principal, permission, facts, category, purpose)
    if permission in PATIENT_SIDE_PERMISSIONS:
        return AccessDecision(False, "denied:patient-only", "only the patient (or their caregiver) manages consent")
    return _staff(principal, facts, category, purpose)


def _mine(principal: Principal, facts: PatientFacts, kind: ConsentKind, category: DataCategory,
          purpose: str | None) -> bool:
    return any(c.kind is kind and c.names(principal) and c.covers(category, purpose, facts.at)
               for c in facts.consents)


def _caregiver(principal: Principal, permission: Permission, facts: PatientFacts, category: DataCategory,
               purpose: str | None) -> AccessDecision:
    scopes = principal.caregiver_of.get(facts.patient_id)
    if scopes is None:
        return AccessDecision(False, "denied:not-linked", "this patient has not linked you as a caregiver")
    needed = CAREGIVER_SCOPE_FOR.get(permission)
    if needed is not None and needed not in scopes:
        return AccessDecision(False, "denied:scope", f"the patient has not allowed {needed.value}")
    if _mine(principal, facts, ConsentKind.restriction, category, purpose):
        return AccessDecision(False, "denied:consent-restricted", f"the patient withheld {category.value} from you")
    if category in SENSITIVE_CATEGORIES and not _mine(principal, facts, ConsentKind.grant, category, purpose):
        return AccessDecision(False, "denied:consent-required",
                              f"{category.value} needs the patient's explicit consent")
    return AccessDecision(True, "caregiver")


def _staff(principal: Principal, facts: PatientFacts, category: DataCategory, purpose: str | None) -> AccessDecision:
    if _mine(principal, facts, ConsentKind.break_glass, category, None):
        return AccessDecision(True, BREAK_GLASS_BASIS, "emergency access opened with a reason")
    if _mine(principal, facts, ConsentKind.restriction, category, purpose):
        return AccessDecision(False, "denied:consent-restricted",
                              f"the patient withheld {category.value} from you or your organization")
    if _mine(principal, facts, ConsentKind.grant, category, purpose):
        return AccessDecision(True, "consent")
    treating = principal.organization_id is not None and principal.organization_id in facts.organization_ids
    if not treating:
        return AccessDecision(False, "denied:organization", "this patient is not cared for by your organization")
    if category in facts.organization_default and category not in SENSITIVE_CATEGORIES:
        return AccessDecision(True, "organization")
    return AccessDecision(False, "denied:consent-required",
                          f"{category.value} needs the patient's explicit consent (or break-glass in an emergency)")


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
