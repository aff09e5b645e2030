"""Read-only projections of other contexts' tables (the way consent and prescribing read user rows): who is on
a patient's care team, and the name an alert message shows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Boolean, String, Uuid, column, select, table
from sqlalchemy.orm import Session

from carebridge.security import Role

CARE_TEAM_ROLES = (Role.practitioner, Role.nurse)
MAX_TEAM = 50

_users = table("users", column("id", Uuid()), column("username", String()), column("full_name", String()),
               column("role", String()), column("organization_id", Uuid()), column("is_active", Boolean()))
_treating = table("patient_organizations", column("patient_id", Uuid()), column("organization_id", Uuid()))
_patients = table("patients", column("id", Uuid()), column("given_name", String()), column("family_name", String()))


@dataclass(frozen=True, slots=True)
class Member:
    user_id: uuid.UUID
    name: str
    role: Role
    organization_id: uuid.UUID


def care_team(session: Session, patient_id: uuid.UUID) -> list[Member]:
    """Active practitioners and nurses of the organizations treating the patient (the policy then decides)."""
    orgs = select(_treating.c.organization_id).where(_treating.c.patient_id == patient_id)
    rows = session.execute(
        select(_users.c.id, _users.c.username, _users.c.full_name, _users.c.role, _users.c.organization_id)
        .where(_users.c.organization_id.in_(orgs), _users.c.is_active.is_(True),
               _users.c.role.in_([r.value for r in CARE_TEAM_ROLES]))
        .order_by(_users.c.username).limit(MAX_TEAM)).tuples()
    return [Member(uid, (full or name)[:200], Role(role), org) for uid, name, full, role, org in rows]


def patient_name(session: Session, patient_id: uuid.UUID) -> str:
    row = session.execute(select(_patients.c.given_name, _patients.c.family_name)
                          .where(_patients.c.id == patient_id)).tuples().first()
    return " ".join(p for p in row if p)[:200] if row else ""
