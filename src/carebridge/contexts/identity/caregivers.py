"""Caregiver links: a patient lets a caregiver act for them, within scopes the patient picks.

The link is the patient's decision alone; `auth` reads the live links on every request, so a
revocation takes effect on the caregiver's very next call, whatever tokens they hold.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts.audit import service as audit
from carebridge.contexts.identity.accounts import find_by_username
from carebridge.contexts.identity.models import CaregiverLink, User
from carebridge.contexts.identity.schemas import CaredPatientRead, CaregiverLinkRead
from carebridge.kernel.errors import Forbidden, NotFound
from carebridge.kernel.ids import new_id
from carebridge.security import CaregiverScope, Permission, Principal, Role, require

PATIENT_REQUEST = "patient_request"  # the audit purpose of what a patient (or their caregiver) asks for


def _own_patient_id(principal: Principal) -> uuid.UUID:
    require(principal, Permission.caregiver_link)
    if principal.role is not Role.patient or principal.patient_id is None:
        raise Forbidden("only a patient account can choose its caregivers")
    return principal.patient_id


def _scopes(values: list[CaregiverScope] | list[str]) -> list[CaregiverScope]:
    chosen = {CaregiverScope(v) for v in values if v in CaregiverScope.__members__}
    return [s for s in CaregiverScope if s in chosen]


def _read(link: CaregiverLink, caregiver: User) -> CaregiverLinkRead:
    return CaregiverLinkRead(id=link.id, patient_id=link.patient_id, caregiver_user_id=caregiver.id,
                             caregiver_username=caregiver.username, caregiver_full_name=caregiver.full_name,
                             scopes=_scopes(link.scopes), created_at=link.created_at, revoked_at=link.revoked_at)


def link_caregiver(session: Session, principal: Principal, *, caregiver_username: str,
                   scopes: list[CaregiverScope], now: datetime) -> CaregiverLinkRead:
    """Link (or re-link, replacing the scopes of) a caregiver account by its username."""
    patient_id = _own_patient_id(principal)
    caregiver = find_by_username(session, caregiver_username)
    if caregiver is None or caregiver.role != Role.caregiver.value or not caregiver.is_active:
        raise NotFound(f"no caregiver account is called {caregiver_username.strip().lower()!r}; "
                       "ask them to register as a caregiver first")
    chosen = _scopes(scopes)
    link = session.execute(
        select(CaregiverLink).where(CaregiverLink.patient_id == patient_id,
                                    CaregiverLink.caregiver_user_id == caregiver.id)
    ).scalar_one_or_none()
    if link is None:
        link = CaregiverLink(id=new_id(), patient_id=patient_id, caregiver_user_id=caregiver.id,
                             scopes=[s.value for s in chosen], created_at=now)
        session.add(link)
    else:
        if link.revoked_at is not None:
            link.created_at = now
        link.revoked_at = None
        link.scopes = [s.value for s in chosen]
    session.flush()
    audit.record(session, principal, action="caregiver_link", resource_type="CaregiverLink", resource_id=link.id,
                 patient_id=patient_id, purpose=PATIENT_REQUEST,
                 detail={"caregiver": caregiver.username, "scopes": [s.value for s in chosen]}, at=now)
    return _read(link, caregiver)


def list_caregivers(session: Session, principal: Principal, *, include_revoked: bool = False,
                    now: datetime | None = None) -> list[CaregiverLinkRead]:
    patient_id = _own_patient_id(principal)
    stmt = (select(CaregiverLink, User).join(User, User.id == CaregiverLink.caregiver_user_id)
            .where(CaregiverLink.patient_id == patient_id))
    if not include_revoked:
        stmt = stmt.where(CaregiverLink.revoked_at.is_(None))
    rows = session.execute(stmt.order_by(CaregiverLink.created_at, CaregiverLink.id)).all()
    audit.record(session, principal, action="read", resource_type="CaregiverLink", patient_id=patient_id,
                 purpose=PATIENT_REQUEST, detail={"count": len(rows)}, at=now)
    return [_read(link, user) for link, user in rows]


def revoke_caregiver(session: Session, principal: Principal, *, link_id: uuid.UUID, now: datetime) -> None:
    """End a caregiver's access to this patient at once."""
    patient_id = _own_patient_id(principal)
    link = session.get(CaregiverLink, link_id)
    if link is None or link.patient_id != patient_id or link.revoked_at is not None:
        raise NotFound("no active caregiver link with this id on your account")
    link.revoked_at = now
    audit.record(session, principal, action="caregiver_revoke", resource_type="CaregiverLink", resource_id=link.id,
                 patient_id=patient_id, purpose=PATIENT_REQUEST, at=now)


def list_cared_patients(session: Session, principal: Principal, *,
                        now: datetime | None = None) -> list[CaredPatientRead]:
    """The patients who linked this caregiver, with what each one allows, by name."""
    if principal.role is not Role.caregiver:
        raise Forbidden("only caregiver accounts care for patients")
    links = session.execute(
        select(CaregiverLink).where(CaregiverLink.caregiver_user_id == principal.user_id,
                                    CaregiverLink.revoked_at.is_(None))
    ).scalars().all()
    # A link is made by the patient's own account, so that account's name is the one to show.
    names: dict[uuid.UUID, str] = {}
    if links:
        for pid, full_name in session.execute(
            select(User.patient_id, User.full_name)
            .where(User.patient_id.in_([link.patient_id for link in links]), User.role == Role.patient.value)
            .order_by(User.created_at)
        ):
            if pid is not None:
                names.setdefault(pid, full_name)
    out = []
    for link in links:
        audit.record(session, principal, action="read", resource_type="CaregiverLink", resource_id=link.id,
                     patient_id=link.patient_id, purpose=PATIENT_REQUEST, at=now)
        out.append(CaredPatientRead(link_id=link.id, patient_id=link.patient_id,
                                    patient_name=names.get(link.patient_id, ""), scopes=_scopes(link.scopes),
                                    linked_at=link.created_at))
    return sorted(out, key=lambda c: (c.patient_name.lower(), str(c.patient_id)))


def caregiver_user_ids(session: Session, *, patient_id: uuid.UUID) -> list[uuid.UUID]:
    """The accounts of the caregivers a patient has linked now (for alerts the patient's emergency sends)."""
    return list(session.scalars(
        select(CaregiverLink.caregiver_user_id)
        .join(User, User.id == CaregiverLink.caregiver_user_id)
        .where(CaregiverLink.patient_id == patient_id, CaregiverLink.revoked_at.is_(None), User.is_active.is_(True))
        .order_by(CaregiverLink.created_at, CaregiverLink.id)))
