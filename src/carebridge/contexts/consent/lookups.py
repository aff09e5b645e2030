"""Read-only projections of other contexts' tables: who a grantee is, and the patient's treating organizations.

Lookups, not dependencies on other contexts' internals (the same way prescribing and audit read user rows):
a grantee is named by an id the patient picked from a list, and the name shown beside a grant is read here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import JSON, Boolean, DateTime, String, Uuid, column, select, table
from sqlalchemy.orm import Session

from carebridge.security import STAFF_ROLES, Role

_users = table("users", column("id", Uuid()), column("username", String()), column("full_name", String()),
               column("role", String()), column("organization_id", Uuid()), column("patient_id", Uuid()),
               column("is_active", Boolean()))
_practitioners = table("practitioners", column("id", Uuid()), column("user_id", Uuid()))
_organizations = table("organizations", column("id", Uuid()), column("name", String()))
_links = table("caregiver_links", column("patient_id", Uuid()), column("caregiver_user_id", Uuid()),
               column("scopes", JSON()), column("revoked_at", DateTime(timezone=True)))
_treating = table("patient_organizations", column("patient_id", Uuid()), column("organization_id", Uuid()))
_patients = table("patients", column("id", Uuid()), column("given_name", String()), column("phone", String()))


@dataclass(frozen=True, slots=True)
class Account:
    id: uuid.UUID
    name: str
    role: Role
    organization_id: uuid.UUID | None


def _account(row: tuple[uuid.UUID, str, str, str, uuid.UUID | None]) -> Account | None:
    uid, username, full_name, role, org = row
    if role not in Role.__members__:
        return None
    return Account(id=uid, name=(full_name or username)[:200], role=Role(role), organization_id=org)


def account(session: Session, user_id: uuid.UUID) -> Account | None:
    """An active account by id."""
    row = session.execute(select(_users.c.id, _users.c.username, _users.c.full_name, _users.c.role,
                                 _users.c.organization_id)
                          .where(_users.c.id == user_id, _users.c.is_active.is_(True))).tuples().first()
    return None if row is None else _account(row)


def staff_account(session: Session, practitioner_or_user_id: uuid.UUID) -> Account | None:
    """The staff account a practitioner grant names: a practitioner record's account, or a staff account id."""
    user_id = session.scalar(select(_practitioners.c.user_id).where(_practitioners.c.id == practitioner_or_user_id))
    found = account(session, user_id if user_id is not None else practitioner_or_user_id)
    return found if found is not None and found.role in STAFF_ROLES else None


def practitioner_ids(session: Session, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """Staff account id -> its practitioner record id, for the accounts that have one (FHIR names the record)."""
    if not user_ids:
        return {}
    rows = session.execute(select(_practitioners.c.user_id, _practitioners.c.id)
                           .where(_practitioners.c.user_id.in_(list(user_ids)))).tuples()
    return {uid: pid for uid, pid in rows if uid is not None}


def linked_caregiver(session: Session, patient_id: uuid.UUID, user_id: uuid.UUID) -> Account | None:
    """A caregiver account the patient has linked (and not unlinked)."""
    linked = session.scalar(select(_links.c.caregiver_user_id).where(
        _links.c.patient_id == patient_id, _links.c.caregiver_user_id == user_id, _links.c.revoked_at.is_(None)))
    found = account(session, user_id) if linked is not None else None
    return found if found is not None and found.role is Role.caregiver else None


def organization_names(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = session.execute(select(_organizations.c.id, _organizations.c.name)
                           .where(_organizations.c.id.in_(list(ids)))).tuples()
    return {oid: str(name)[:200] for oid, name in rows}


def user_names(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = session.execute(select(_users.c.id, _users.c.username, _users.c.full_name)
                           .where(_users.c.id.in_(list(ids)))).tuples()
    return {uid: str(full or username)[:200] for uid, username, full in rows}


def treating_organizations(session: Session, patient_id: uuid.UUID) -> list[uuid.UUID]:
    return list(session.scalars(select(_treating.c.organization_id).where(_treating.c.patient_id == patient_id)))


def patient_accounts(session: Session, patient_id: uuid.UUID) -> list[uuid.UUID]:
    """The patient's own active accounts (a break-glass notice goes to each)."""
    return list(session.scalars(select(_users.c.id).where(
        _users.c.patient_id == patient_id, _users.c.role == Role.patient.value, _users.c.is_active.is_(True))))


def patient_contact(session: Session, patient_id: uuid.UUID) -> tuple[str, str | None] | None:
    row = session.execute(select(_patients.c.given_name, _patients.c.phone)
                          .where(_patients.c.id == patient_id)).tuples().first()
    return None if row is None else (str(row[0]), row[1])


def linked_caregivers(session: Session, patient_id: uuid.UUID) -> list[tuple[uuid.UUID, str]]:
    """The patient's linked caregivers (id, name), for the grant form's choices."""
    rows = session.execute(
        select(_users.c.id, _users.c.username, _users.c.full_name)
        .join(_links, _links.c.caregiver_user_id == _users.c.id)
        .where(_links.c.patient_id == patient_id, _links.c.revoked_at.is_(None), _users.c.is_active.is_(True))
        .order_by(_users.c.full_name)).tuples()
    return [(uid, str(full or username)[:200]) for uid, username, full in rows]
