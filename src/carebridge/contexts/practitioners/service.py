"""Practitioners and their roles at organizations.

Any admin may register a practitioner; after that, the practitioner's record is changed by an
admin of an organization where they hold a role (or by the network's own admin, who belongs to
no organization). Roles are added by an admin of the organization they are at. Staff, patients
and caregivers may read and search practitioners: finding a doctor is not patient data.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, exists, or_, select, tuple_
from sqlalchemy.orm import Session
from unidecode import unidecode

from carebridge.contexts import audit
from carebridge.contexts.practitioners.models import Practitioner, PractitionerRole
from carebridge.contexts.practitioners.organizations import flush_unique, organization_exists
from carebridge.contexts.practitioners.schemas import (
    Gender,
    PractitionerCreate,
    PractitionerPage,
    PractitionerRead,
    PractitionerRoleCreate,
    PractitionerRoleRead,
    PractitionerRoleUpdate,
    PractitionerUpdate,
    Qualification,
    RoleCode,
)
from carebridge.engines import names, specialties
from carebridge.kernel.db import get_row
from carebridge.kernel.errors import Conflict, Forbidden, NotFound, ValidationProblem
from carebridge.kernel.ids import new_id
from carebridge.kernel.pagination import decode_cursor, encode_cursor
from carebridge.security import Permission, Principal, require


def _bad(field: str, message: str, where: str = "body") -> ValidationProblem:
    return ValidationProblem(f"{field}: {message}", errors=[{"field": field, "in": where, "message": message}])


def practitioner_read(p: Practitioner) -> PractitionerRead:
    return PractitionerRead(
        id=p.id, given_name=p.given_name, family_name=p.family_name,
        gender=Gender(p.gender) if p.gender else None, registration_number=p.registration_number,
        registration_council=p.registration_council,
        qualifications=[Qualification.model_validate(q) for q in p.qualifications or []],
        specialties=list(p.specialties or []), languages=list(p.languages or []), phone=p.phone, email=p.email,
        active=p.active, created_at=p.created_at, updated_at=p.updated_at,
    )


def role_read(r: PractitionerRole) -> PractitionerRoleRead:
    return PractitionerRoleRead(id=r.id, practitioner_id=r.practitioner_id, organization_id=r.organization_id,
                                code=RoleCode(r.code), specialties=list(r.specialties or []), active=r.active,
                                created_at=r.created_at)


def _check_registration(session: Session, council: str | None, number: str | None,
                        own: uuid.UUID | None = None) -> None:
    if council is None or number is None:
        return
    other = session.scalar(select(Practitioner.id).where(Practitioner.registration_council == council,
                                                         Practitioner.registration_number == number))
    if other is not None and other != own:
        raise Conflict(f"registration {number} of {council} already belongs to practitioner {other}",
                       slug="registration-in-use", title="Registration in use",
                       extra={"practitioner_id": str(other)})


def create_practitioner(session: Session, principal: Principal, *, data: PractitionerCreate,
                        now: datetime) -> PractitionerRead:
    require(principal, Permission.practitioner_write)
    _check_registration(session, data.registration_council, data.registration_number)
    fields = data.model_dump(mode="json")
    p = Practitioner(id=new_id(), **fields, active=True, created_at=now, updated_at=now)
    session.add(p)
    flush_unique(session, "a practitioner with this registration")
    audit.record(session, principal, action="create", resource_type="Practitioner", resource_id=p.id, at=now)
    return practitioner_read(p)


def _load(session: Session, practitioner_id: uuid.UUID) -> Practitioner:
    p = session.get(Practitioner, practitioner_id)
    if p is None:
        raise NotFound("no such practitioner")
    return p


def _may_administer(session: Session, principal: Principal, practitioner_id: uuid.UUID) -> None:
    if principal.organization_id is None:
        return
    orgs = set(session.scalars(select(PractitionerRole.organization_id)
                               .where(PractitionerRole.practitioner_id == practitioner_id,
                                      PractitionerRole.active.is_(True))))
    if orgs and principal.organization_id not in orgs:
        raise Forbidden("this practitioner works at other organizations; their admins keep the record")


def update_practitioner(session: Session, principal: Principal, *, practitioner_id: uuid.UUID,
                        data: PractitionerUpdate, now: datetime) -> PractitionerRead:
    require(principal, Permission.practitioner_write)
    p = _load(session, practitioner_id)
    _may_administer(session, principal, p.id)
    sent = data.model_dump(mode="json", exclude_unset=True)
    for field in ("given_name", "family_name", "active"):
        if field in sent and sent[field] is None:
            raise _bad(field, "may not be null")
    for field in ("qualifications", "specialties", "languages"):
        if field in sent and sent[field] is None:
            sent[field] = []
    council = sent.get("registration_council", p.registration_council)
    number = sent.get("registration_number", p.registration_number)
    if (council is None) != (number is None):
        raise _bad("registration_number", "registration_number and registration_council go together")
    _check_registration(session, council, number, own=p.id)
    for field, value in sent.items():
        setattr(p, field, value)
    if sent:
        p.updated_at = now
        flush_unique(session, "a practitioner with this registration")
    audit.record(session, principal, action="update", resource_type="Practitioner", resource_id=p.id,
                 detail={"fields": sorted(sent)}, at=now)
    return practitioner_read(p)


def practitioner_exists(session: Session, principal: Principal, *, practitioner_id: uuid.UUID) -> bool:
    """Whether the record may point at this practitioner, without building the full read (roles, codes)."""
    require(principal, Permission.practitioner_read)
    return get_row(session, Practitioner, practitioner_id) is not None


def get_practitioner(session: Session, principal: Principal, *, practitioner_id: uuid.UUID) -> PractitionerRead:
    require(principal, Permission.practitioner_read)
    return practitioner_read(_load(session, practitioner_id))


def _json_contains_code(column: Any, code: str) -> Any:
    """Codes are [a-z0-9_] slugs, so a quoted LIKE on the JSON text is exact on every engine."""
    return cast(column, String).like('%"' + code.replace("_", "\\_") + '"%', escape="\\")


def search_practitioners(session: Session, principal: Principal, *, name: str | None, specialty: str | None,
                         organization_id: uuid.UUID | None, include_inactive: bool, limit: int,
                         cursor: str | None) -> PractitionerPage:
    """Practitioners by name prefix, specialty code and organization, ordered by (family, given, id)."""
    require(principal, Permission.practitioner_read)
    stmt = select(Practitioner)
    if not include_inactive:
        stmt = stmt.where(Practitioner.active.is_(True))
    if name is not None:
        words = names.words(name, fallback=lambda t: str(unidecode(t)))
        if not words:
            raise _bad("name", "has no letters or digits to search for", "query")
        for w in words[:6]:
            column = Practitioner.name_search
            stmt = stmt.where(or_(column.like(w + "%"), column.like("% " + w + "%")))
    if specialty is not None:
        if not specialties.is_known(specialty):
            msg = f"unknown specialty code {specialty!r}; GET /api/v1/specialties lists them"
            raise _bad("specialty", msg, "query")
        role_has = exists().where(PractitionerRole.practitioner_id == Practitioner.id,
                                  PractitionerRole.active.is_(True),
                                  _json_contains_code(PractitionerRole.specialties, specialty))
        stmt = stmt.where(or_(_json_contains_code(Practitioner.specialties, specialty), role_has))
    if organization_id is not None:
        stmt = stmt.where(exists().where(PractitionerRole.practitioner_id == Practitioner.id,
                                         PractitionerRole.organization_id == organization_id,
                                         PractitionerRole.active.is_(True)))
    after = decode_cursor(cursor, arity=3)
    if after is not None:
        try:
            last = uuid.UUID(str(after[2]))
        except ValueError as exc:
            raise _bad("cursor", "malformed", "query") from exc
        stmt = stmt.where(tuple_(Practitioner.family_name, Practitioner.given_name, Practitioner.id)
                          > tuple_(str(after[0]), str(after[1]), last))
    stmt = stmt.order_by(Practitioner.family_name, Practitioner.given_name, Practitioner.id).limit(limit + 1)
    rows = list(session.scalars(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = encode_cursor([rows[-1].family_name, rows[-1].given_name, str(rows[-1].id)]) if more and rows else None
    return PractitionerPage(items=[practitioner_read(p) for p in rows], next_cursor=nxt, limit=limit)


def _org_admin(principal: Principal, organization_id: uuid.UUID) -> None:
    if principal.organization_id is not None and principal.organization_id != organization_id:
        raise Forbidden("only an admin of that organization manages its practitioner roles")


def add_role(session: Session, principal: Principal, *, practitioner_id: uuid.UUID, data: PractitionerRoleCreate,
             now: datetime) -> PractitionerRoleRead:
    require(principal, Permission.practitioner_write)
    p = _load(session, practitioner_id)
    _org_admin(principal, data.organization_id)
    if not organization_exists(session, data.organization_id):
        raise _bad("organization_id", "no such organization")
    clash = session.scalar(select(PractitionerRole.id).where(
        PractitionerRole.practitioner_id == p.id, PractitionerRole.organization_id == data.organization_id,
        PractitionerRole.code == data.code.value))
    if clash is not None:
        raise Conflict(f"the practitioner already has the role {data.code.value} there (role {clash})",
                       slug="already-exists", title="Already exists", extra={"role_id": str(clash)})
    role = PractitionerRole(id=new_id(), practitioner_id=p.id, organization_id=data.organization_id,
                            code=data.code.value, specialties=list(data.specialties), active=True, created_at=now)
    session.add(role)
    flush_unique(session, "this role")
    audit.record(session, principal, action="create", resource_type="PractitionerRole", resource_id=role.id,
                 detail={"practitioner_id": str(p.id), "organization_id": str(data.organization_id)}, at=now)
    return role_read(role)


def update_role(session: Session, principal: Principal, *, role_id: uuid.UUID, data: PractitionerRoleUpdate,
                now: datetime) -> PractitionerRoleRead:
    require(principal, Permission.practitioner_write)
    role = session.get(PractitionerRole, role_id)
    if role is None:
        raise NotFound("no such practitioner role")
    _org_admin(principal, role.organization_id)
    sent = data.model_dump(exclude_unset=True)
    if "active" in sent and sent["active"] is None:
        raise _bad("active", "may not be null")
    if "specialties" in sent:
        role.specialties = list(sent["specialties"] or [])
    if "active" in sent:
        role.active = bool(sent["active"])
    audit.record(session, principal, action="update", resource_type="PractitionerRole", resource_id=role.id,
                 detail={"fields": sorted(sent)}, at=now)
    return role_read(role)


def list_roles(session: Session, principal: Principal, *, practitioner_id: uuid.UUID | None = None,
               organization_id: uuid.UUID | None = None, include_inactive: bool = False,
               limit: int = 100) -> list[PractitionerRoleRead]:
    require(principal, Permission.practitioner_read)
    if practitioner_id is None and organization_id is None:
        raise _bad("practitioner_id", "give practitioner_id or organization_id", "query")
    stmt = select(PractitionerRole)
    if practitioner_id is not None:
        _load(session, practitioner_id)
        stmt = stmt.where(PractitionerRole.practitioner_id == practitioner_id)
    if organization_id is not None:
        stmt = stmt.where(PractitionerRole.organization_id == organization_id)
    if not include_inactive:
        stmt = stmt.where(PractitionerRole.active.is_(True))
    stmt = stmt.order_by(PractitionerRole.created_at, PractitionerRole.id).limit(limit)
    return [role_read(r) for r in session.scalars(stmt)]


def list_specialties() -> list[specialties.Specialty]:
    return list(specialties.all_specialties())
