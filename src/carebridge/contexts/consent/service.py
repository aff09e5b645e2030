"""Consent use cases: a patient (or a caregiver with `manage_consent`) grants, restricts and revokes; a clinician
breaks the glass in an emergency.

Each change is audited (resource "Consent") and emitted (`consent.granted` / `consent.revoked` /
`consent.break_glass`) in the caller's transaction. The access policy reads the directives on every decision
(`consent.facts`), so a revocation holds from the next request on.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from carebridge.contexts import audit, patients
from carebridge.contexts.audit import PurposeOfUse
from carebridge.contexts.consent import lookups
from carebridge.contexts.consent.facts import ALL_CATEGORIES, categories_of, organization_default
from carebridge.contexts.consent.models import ConsentDirective
from carebridge.contexts.consent.notify import break_glass_notice
from carebridge.contexts.consent.schemas import (
    BreakGlassCreate,
    ConsentCategory,
    ConsentCreate,
    ConsentEffect,
    ConsentOverview,
    ConsentRead,
    GranteeType,
    OrganizationAccessRead,
)
from carebridge.kernel.errors import Conflict, NotFound, ValidationProblem
from carebridge.kernel.events import emit
from carebridge.kernel.ids import new_id
from carebridge.kernel.pagination import Page, decode_time_cursor, encode_cursor
from carebridge.security import ConsentKind, DataCategory, Permission, Principal, Role, require
from carebridge.security.roles import SENSITIVE_CATEGORIES

RESOURCE = "Consent"
BREAK_GLASS_ACTION = "break_glass"
MAX_LISTED = 200


def _bad(field: str, message: str) -> ValidationProblem:
    return ValidationProblem(f"{field}: {message}", errors=[{"field": field, "in": "body", "message": message}])


def _purpose(principal: Principal) -> str:
    return (PurposeOfUse.family_request if principal.role is Role.caregiver else PurposeOfUse.patient_request).value


def _patient_side(session: Session, principal: Principal, patient_id: uuid.UUID, permission: Permission, *,
                  now: datetime) -> None:
    """Only the patient, or a caregiver they allowed to manage consent, reaches this (refusals audited)."""
    patients.load_patient_for(session, principal, patient_id, permission, purpose=_purpose(principal), now=now,
                              audit_success=False, action="read" if permission is Permission.consent_read
                              else "update")


def _stored_categories(chosen: list[ConsentCategory]) -> list[str]:
    if ConsentCategory.all in chosen:
        return [ALL_CATEGORIES]
    return [c.value for c in ConsentCategory if c in chosen]


def _read(row: ConsentDirective, names: dict[uuid.UUID, str], now: datetime,
          practitioners: dict[uuid.UUID, uuid.UUID] | None = None) -> ConsentRead:
    grantee = row.grantee_organization_id if row.grantee_type == GranteeType.organization.value \
        else row.grantee_user_id
    assert grantee is not None  # noqa: S101 - every directive names its grantee (set by this module)
    cats = categories_of(list(row.categories or []))
    shown = [ConsentCategory.all] if cats is None else [ConsentCategory(c.value) for c in DataCategory if c in cats]
    live = row.revoked_at is None and (row.expires_at is None or row.expires_at > now)
    return ConsentRead(id=row.id, patient_id=row.patient_id, kind=ConsentKind(row.kind),
                       grantee_type=GranteeType(row.grantee_type), grantee_id=grantee,
                       grantee_name=names.get(grantee, ""), categories=shown,
                       grantee_practitioner_id=(practitioners or {}).get(grantee)
                       if row.grantee_type == GranteeType.practitioner.value else None,
                       purposes=[PurposeOfUse(p) for p in row.purposes or [] if p in PurposeOfUse.__members__],
                       expires_at=row.expires_at, note=row.reason, created_at=row.created_at,
                       revoked_at=row.revoked_at, active=live)


def _names(session: Session, rows: list[ConsentDirective]) -> dict[uuid.UUID, str]:
    orgs = {r.grantee_organization_id for r in rows if r.grantee_organization_id is not None}
    users = {r.grantee_user_id for r in rows if r.grantee_user_id is not None}
    return {**lookups.organization_names(session, orgs), **lookups.user_names(session, users)}


def _practitioners(session: Session, rows: list[ConsentDirective]) -> dict[uuid.UUID, uuid.UUID]:
    return lookups.practitioner_ids(session, {r.grantee_user_id for r in rows if r.grantee_user_id is not None
                                              and r.grantee_type == GranteeType.practitioner.value})


def _trail(session: Session, principal: Principal, row: ConsentDirective, action: str, *, now: datetime,
           purpose: str, extra: dict[str, Any] | None = None) -> None:
    detail: dict[str, Any] = {"kind": row.kind, "grantee_type": row.grantee_type,
                              "grantee_id": str(row.grantee_organization_id or row.grantee_user_id),
                              "categories": list(row.categories or []), "purposes": list(row.purposes or []),
                              "expires_at": row.expires_at.isoformat() if row.expires_at else None}
    detail.update(extra or {})
    audit.record(session, principal, action=action, resource_type=RESOURCE, resource_id=row.id,
                 patient_id=row.patient_id, purpose=purpose, detail=detail, at=now)


def _event_payload(row: ConsentDirective) -> dict[str, Any]:
    return {"consent_id": str(row.id), "patient_id": str(row.patient_id), "kind": row.kind,
            "grantee_type": row.grantee_type,
            "grantee_id": str(row.grantee_organization_id or row.grantee_user_id),
            "categories": list(row.categories or []),
            "expires_at": row.expires_at.isoformat() if row.expires_at else None}


def _grantee(session: Session, patient_id: uuid.UUID, body: ConsentCreate) -> tuple[uuid.UUID | None,
                                                                                      uuid.UUID | None]:
    """(user id, organization id) of the grantee; 422 naming `grantee_id` when there is no such grantee."""
    if body.grantee_type is GranteeType.organization:
        if not lookups.organization_names(session, {body.grantee_id}):
            raise _bad("grantee_id", "no such organization")
        return None, body.grantee_id
    if body.grantee_type is GranteeType.practitioner:
        staff = lookups.staff_account(session, body.grantee_id)
        if staff is None:
            raise _bad("grantee_id", "no such practitioner (give a practitioner id or a staff account id)")
        return staff.id, None
    carer = lookups.linked_caregiver(session, patient_id, body.grantee_id)
    if carer is None:
        raise _bad("grantee_id", "no caregiver you have linked has this id (link them first)")
    return carer.id, None


def grant_consent(session: Session, principal: Principal, *, patient_id: uuid.UUID, body: ConsentCreate,
                  now: datetime) -> ConsentRead:
    """Grant (effect allow) or withhold (effect deny) categories of the record from one grantee."""
    _patient_side(session, principal, patient_id, Permission.consent_manage, now=now)
    if body.expires_at is not None and body.expires_at <= now:
        raise _bad("expires_at", "the expiry must be in the future")
    user_id, org_id = _grantee(session, patient_id, body)
    row = ConsentDirective(
        id=new_id(), patient_id=patient_id,
        kind=(ConsentKind.grant if body.effect is ConsentEffect.allow else ConsentKind.restriction).value,
        grantee_type=body.grantee_type.value, grantee_user_id=user_id, grantee_organization_id=org_id,
        categories=_stored_categories(body.categories),
        purposes=[p.value for p in PurposeOfUse if p in body.purposes], expires_at=body.expires_at,
        reason=body.note or None, created_by_user_id=principal.user_id, created_at=now)
    session.add(row)
    session.flush()
    _trail(session, principal, row, "create", now=now, purpose=_purpose(principal))
    emit(session, "consent.granted", _event_payload(row))
    return _read(row, _names(session, [row]), now, _practitioners(session, [row]))


def revoke_consent(session: Session, principal: Principal, *, patient_id: uuid.UUID, consent_id: uuid.UUID,
                   now: datetime) -> ConsentRead:
    """Revoke a grant or a restriction; it stops counting at the next access decision. Revoking twice is a no-op."""
    _patient_side(session, principal, patient_id, Permission.consent_manage, now=now)
    row = session.get(ConsentDirective, consent_id)
    if row is None or row.patient_id != patient_id:
        raise NotFound("no such consent for this patient")
    if row.kind == ConsentKind.break_glass.value:
        raise Conflict("break-glass access is not consent: it closes by itself when its time is up",
                       slug="break-glass-not-revocable", title="Not revocable")
    if row.revoked_at is None:
        row.revoked_at = now
        row.revoked_by_user_id = principal.user_id
        session.flush()
        _trail(session, principal, row, "revoke", now=now, purpose=_purpose(principal))
        emit(session, "consent.revoked", _event_payload(row))
    return _read(row, _names(session, [row]), now, _practitioners(session, [row]))


def _default_access(session: Session, patient_id: uuid.UUID, rows: list[ConsentDirective],
                    now: datetime) -> list[OrganizationAccessRead]:
    treating = lookups.treating_organizations(session, patient_id)
    names = lookups.organization_names(session, set(treating))
    default = organization_default()
    out = []
    for org in treating:
        withheld: set[DataCategory] = set()
        for r in rows:
            if (r.kind == ConsentKind.restriction.value and r.grantee_organization_id == org and r.revoked_at is None
                    and (r.expires_at is None or r.expires_at > now)):
                cats = categories_of(list(r.categories or []))
                withheld |= set(DataCategory) if cats is None else set(cats)
        reach = [c for c in DataCategory if c in default and c not in withheld and c not in SENSITIVE_CATEGORIES]
        out.append(OrganizationAccessRead(organization_id=org, name=names.get(org, ""), categories=reach,
                                          withheld=[c for c in DataCategory if c in withheld and c in default]))
    return sorted(out, key=lambda a: a.name.lower())


def list_consents(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime,
                  include_inactive: bool = False) -> ConsentOverview:
    """Who can see the patient's record: treating organizations by default, grants, restrictions, break-glass."""
    _patient_side(session, principal, patient_id, Permission.consent_read, now=now)
    rows = list(session.scalars(select(ConsentDirective).where(ConsentDirective.patient_id == patient_id)
                                .order_by(ConsentDirective.created_at.desc(), ConsentDirective.id)
                                .limit(MAX_LISTED)))
    names = _names(session, rows)
    reads = [_read(r, names, now) for r in rows]
    directives = [r for r in reads if r.kind is not ConsentKind.break_glass and (include_inactive or r.active)]
    glass = [r for r in reads if r.kind is ConsentKind.break_glass]
    audit.record(session, principal, action="read", resource_type=RESOURCE, patient_id=patient_id,
                 purpose=_purpose(principal), detail={"directives": len(directives)}, at=now)
    return ConsentOverview(patient_id=patient_id, default_access=_default_access(session, patient_id, rows, now),
                           directives=directives, break_glass=glass)


def break_glass(session: Session, principal: Principal, *, patient_id: uuid.UUID, body: BreakGlassCreate,
                now: datetime, default_minutes: int) -> ConsentRead:
    """Open the whole record to this clinician for a short time, with a reason; audited, flagged, and the patient
    is told at once."""
    require(principal, Permission.break_glass)
    if lookups.patient_contact(session, patient_id) is None:
        raise NotFound("no such patient")
    until = now + timedelta(minutes=body.minutes or default_minutes)
    me = lookups.account(session, principal.user_id)
    row = ConsentDirective(id=new_id(), patient_id=patient_id, kind=ConsentKind.break_glass.value,
                           grantee_type=GranteeType.practitioner.value, grantee_user_id=principal.user_id,
                           categories=[ALL_CATEGORIES], purposes=[], expires_at=until, reason=body.reason,
                           created_by_user_id=principal.user_id, created_at=now)
    session.add(row)
    session.flush()
    clinician = me.name if me is not None else principal.username
    queued = break_glass_notice(session, patient_id=patient_id, directive_id=row.id, clinician=clinician,
                                reason=body.reason, at=now, until=until)
    _trail(session, principal, row, BREAK_GLASS_ACTION, now=now, purpose=PurposeOfUse.emergency.value,
           extra={"break_glass": True, "reason": body.reason, "notified": len(queued)})
    emit(session, "consent.break_glass", {**_event_payload(row), "user_id": str(principal.user_id)})
    return _read(row, {principal.user_id: clinician}, now)


def caregiver_choices(session: Session, principal: Principal, *, patient_id: uuid.UUID,
                      now: datetime) -> list[tuple[uuid.UUID, str]]:
    """The caregivers a grant form may name: the ones the patient linked."""
    _patient_side(session, principal, patient_id, Permission.consent_read, now=now)
    return lookups.linked_caregivers(session, patient_id)


def get_consent(session: Session, principal: Principal, *, consent_id: uuid.UUID, now: datetime) -> ConsentRead:
    """One grant or restriction, for the patient's side only (break-glass openings are not consent: 404)."""
    row = session.get(ConsentDirective, consent_id)
    if row is None or row.kind == ConsentKind.break_glass.value:
        raise NotFound("no such consent")
    _patient_side(session, principal, row.patient_id, Permission.consent_read, now=now)
    audit.record(session, principal, action="read", resource_type=RESOURCE, resource_id=row.id,
                 patient_id=row.patient_id, purpose=_purpose(principal), at=now)
    return _read(row, _names(session, [row]), now, _practitioners(session, [row]))


def find_consents(session: Session, principal: Principal, *, patient_id: uuid.UUID, active: bool | None,
                  limit: int, cursor: str | None, now: datetime) -> Page[ConsentRead]:
    """A patient's grants and restrictions, oldest first (keyset on created_at, id); `active` narrows to the
    live ones (True) or the revoked and lapsed ones (False)."""
    _patient_side(session, principal, patient_id, Permission.consent_read, now=now)
    d = ConsentDirective
    q = select(d).where(d.patient_id == patient_id, d.kind != ConsentKind.break_glass.value)
    live = (d.revoked_at.is_(None)) & or_(d.expires_at.is_(None), d.expires_at > now)
    if active is not None:
        q = q.where(live if active else ~live)
    after = decode_time_cursor(cursor)
    if after is not None:
        at, rid = after
        q = q.where((d.created_at > at) | ((d.created_at == at) & (d.id > rid)))
    rows = list(session.scalars(q.order_by(d.created_at, d.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    audit.record(session, principal, action="search", resource_type=RESOURCE, patient_id=patient_id,
                 purpose=_purpose(principal), detail={"count": len(rows)}, at=now)
    names, practitioners = _names(session, rows), _practitioners(session, rows)
    nxt = encode_cursor([rows[-1].created_at.isoformat(), str(rows[-1].id)]) if more else None
    return Page[ConsentRead](items=[_read(r, names, now, practitioners) for r in rows], next_cursor=nxt,
                             limit=limit)
