"""Reaching one patient: the policy facts, the decision and the audit entry that records it.

Every path to a patient's data goes through `load_patient_for`, so the policy is asked the same
question everywhere and a refusal leaves a trace even though the request that asked fails.
The facts include the patient's live consent directives (one indexed query, skipped when the caller is the
patient or could not be allowed anyway); an access allowed by break-glass is always audited, flagged.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts import audit, consent
from carebridge.contexts.patients.models import Patient, PatientOrganization
from carebridge.kernel.errors import Forbidden, NotFound
from carebridge.security import (
    BREAK_GLASS_BASIS,
    ConsentFact,
    DataCategory,
    PatientFacts,
    Permission,
    Principal,
    decide_patient_access,
    needs_consent_facts,
)

RESOURCE = "Patient"

ACTION_FOR: dict[Permission, str] = {
    Permission.patient_read: "read",
    Permission.patient_search: "search",
    Permission.patient_create: "create",
    Permission.patient_update: "update",
    Permission.patient_deactivate: "deactivate",
    Permission.patient_merge: "merge",
}


FACTS_MEMO_KEY = "patients_policy_facts"
_Facts = tuple[frozenset[uuid.UUID], tuple[ConsentFact, ...]]


def remember_policy_facts(session: Session) -> None:
    """Let this session keep each patient's policy facts (organizations, consent directives) once read.

    For a job that writes many records of the same few patients as one principal in one transaction (an
    import: a Bundle is one patient's whole history) the facts cannot change under it, and reading them again
    for every entry was a third of its time. The decision and its audit entry are still made per access.
    Not for request sessions: a consent change made earlier in the same transaction would not be seen.
    """
    session.info.setdefault(FACTS_MEMO_KEY, {})


def facts_for(session: Session, patient_ids: Iterable[uuid.UUID], *, principal: Principal | None = None,
              now: datetime | None = None) -> dict[uuid.UUID, PatientFacts]:
    """Policy facts for many patients in three queries (absent ids are left out).

    The consent directives are those naming `principal` when given, else all live ones (the policy filters)."""
    ids = list(dict.fromkeys(patient_ids))
    if not ids:
        return {}
    active = dict(session.execute(select(Patient.id, Patient.active).where(Patient.id.in_(ids))).tuples().all())
    orgs: dict[uuid.UUID, set[uuid.UUID]] = {pid: set() for pid in active}
    rows = session.execute(
        select(PatientOrganization.patient_id, PatientOrganization.organization_id)
        .where(PatientOrganization.patient_id.in_(list(active)))
    ).tuples()
    for pid, org in rows:
        orgs[pid].add(org)
    consents = consent.consent_facts(session, list(active), principal=principal, now=now)
    default = consent.organization_default()
    return {pid: PatientFacts(patient_id=pid, organization_ids=frozenset(orgs[pid]), active=act,
                              consents=consents.get(pid, ()), organization_default=default, at=now)
            for pid, act in active.items()}


def get_patient_facts(session: Session, patient_id: uuid.UUID, *, principal: Principal | None = None,
                      now: datetime | None = None) -> PatientFacts:
    """What the access policy needs to know about one patient; 404 if there is no such patient."""
    facts = facts_for(session, [patient_id], principal=principal, now=now).get(patient_id)
    if facts is None:
        raise NotFound("no such patient")
    return facts


def visible_ids(session: Session, principal: Principal | None, patient_ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    """The ids among these that the caller may read: the only ones an error message may name."""
    if principal is None:
        return []
    facts = facts_for(session, patient_ids, principal=principal)
    return [pid for pid, f in facts.items()
            if decide_patient_access(principal, Permission.patient_read, f).allowed]


def load_patient_for(
    session: Session,
    principal: Principal,
    patient_id: uuid.UUID,
    permission: Permission,
    *,
    purpose: str = "treatment",
    now: datetime | None = None,
    audit_success: bool = True,
    action: str | None = None,
    category: DataCategory = DataCategory.demographics,
) -> Patient:
    """The patient row if the policy allows `permission`; records the access (or the refusal) in the audit trail.

    Callers that write their own, richer audit entry for the success pass `audit_success=False`;
    a refusal is always recorded, with outcome "denied", and survives the request's rollback.
    """
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound("no such patient")
    authorize(session, principal, patient_id, permission, active=patient.active, purpose=purpose, now=now,
              audit_success=audit_success, action=action, category=category)
    return patient


def authorize(
    session: Session,
    principal: Principal,
    patient_id: uuid.UUID,
    permission: Permission,
    *,
    active: bool,
    purpose: str = "treatment",
    now: datetime | None = None,
    audit_success: bool = True,
    action: str | None = None,
    category: DataCategory = DataCategory.demographics,
    organization_ids: frozenset[uuid.UUID] | None = None,
) -> None:
    """The policy decision and its audit entry for an existing patient; raises 403 (recorded) when refused.

    A caller that read the patient's organizations in the same statement as the patient passes them."""
    memo: dict[tuple[uuid.UUID, uuid.UUID | None, bool], _Facts] | None = session.info.get(FACTS_MEMO_KEY)
    wants_consents = needs_consent_facts(principal, permission, patient_id)
    key = (patient_id, principal.user_id, wants_consents)
    known = memo.get(key) if memo is not None else None
    consents: tuple[ConsentFact, ...] = ()
    if known is not None:
        organization_ids, consents = (known[0] if organization_ids is None else organization_ids), known[1]
    else:
        if organization_ids is None:
            organization_ids = frozenset(session.scalars(select(PatientOrganization.organization_id)
                                                         .where(PatientOrganization.patient_id == patient_id)))
        if wants_consents:
            consents = consent.consent_facts(session, [patient_id], principal=principal, now=now).get(
                patient_id, ())
        if memo is not None:
            memo[key] = (organization_ids, consents)
    facts = PatientFacts(patient_id=patient_id, organization_ids=organization_ids, active=active, consents=consents,
                         organization_default=consent.organization_default(), at=now)
    decision = decide_patient_access(principal, permission, facts, category, purpose=purpose)
    verb = action or ACTION_FOR.get(permission, "read")
    if not decision.allowed:
        audit.record(session, principal, action=verb, resource_type=RESOURCE, resource_id=patient_id,
                     patient_id=patient_id, purpose=purpose, outcome="denied",
                     detail={"basis": decision.basis, "permission": permission.value,
                             "category": category.value}, at=now)
        raise Forbidden(f"you may not {verb} this patient's record: {decision.reason}")
    if decision.basis == BREAK_GLASS_BASIS:
        # every access under break-glass is flagged, even where the caller writes its own richer entry
        audit.record(session, principal, action=verb, resource_type=RESOURCE, resource_id=patient_id,
                     patient_id=patient_id, purpose="emergency",
                     detail={"basis": decision.basis, "break_glass": True, "permission": permission.value,
                             "category": category.value, "asked_purpose": purpose}, at=now)
        return
    if audit_success:
        audit.record(session, principal, action=verb, resource_type=RESOURCE, resource_id=patient_id,
                     patient_id=patient_id, purpose=purpose, detail={"basis": decision.basis}, at=now)
