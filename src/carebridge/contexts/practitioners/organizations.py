"""Organizations: admins create and change them; anyone signed in may list and read them.

An admin who belongs to an organization changes only that one; an admin with no organization
(the network's own administrator) may change any.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from carebridge.contexts import audit
from carebridge.contexts.practitioners.models import Organization
from carebridge.contexts.practitioners.schemas import (
    OrganizationCreate,
    OrganizationPage,
    OrganizationRead,
    OrganizationType,
    OrganizationUpdate,
)
from carebridge.kernel.errors import Conflict, Forbidden, NotFound, ValidationProblem
from carebridge.kernel.ids import new_id
from carebridge.kernel.pagination import decode_cursor, encode_cursor
from carebridge.security import Permission, Principal, require


def organization_exists(session: Session, organization_id: uuid.UUID) -> bool:
    return session.get(Organization, organization_id) is not None


def org_read(o: Organization) -> OrganizationRead:
    return OrganizationRead(
        id=o.id, name=o.name, type=OrganizationType(o.type), external_id=o.external_id, phone=o.phone,
        email=o.email, address_line=o.address_line, city=o.city, state=o.state, postal_code=o.postal_code,
        country=o.country, active=o.active, created_at=o.created_at, updated_at=o.updated_at,
    )


def flush_unique(session: Session, what: str) -> None:
    """Flush now so a unique key lost to a concurrent writer answers 409, not 500."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"{what} already exists", slug="already-exists", title="Already exists") from exc


def _check_external_id(session: Session, external_id: str | None, own: uuid.UUID | None = None) -> None:
    if external_id is None:
        return
    other = session.scalar(select(Organization.id).where(Organization.external_id == external_id))
    if other is not None and other != own:
        raise Conflict(f"another organization already has external_id {external_id!r}", slug="already-exists",
                       title="Already exists", extra={"organization_id": str(other)})


def create_organization(session: Session, principal: Principal, *, data: OrganizationCreate,
                        now: datetime) -> OrganizationRead:
    require(principal, Permission.organization_write)
    _check_external_id(session, data.external_id)
    org = Organization(id=new_id(), **data.model_dump(mode="json"), active=True, created_at=now, updated_at=now)
    session.add(org)
    flush_unique(session, "an organization with this external_id")
    audit.record(session, principal, action="create", resource_type="Organization", resource_id=org.id, at=now)
    return org_read(org)


def _load(session: Session, organization_id: uuid.UUID) -> Organization:
    org = session.get(Organization, organization_id)
    if org is None:
        raise NotFound("no such organization")
    return org


def update_organization(session: Session, principal: Principal, *, organization_id: uuid.UUID,
                        data: OrganizationUpdate, now: datetime) -> OrganizationRead:
    require(principal, Permission.organization_write)
    org = _load(session, organization_id)
    if principal.organization_id is not None and principal.organization_id != organization_id:
        raise Forbidden("you administer another organization")
    sent = data.model_dump(mode="json", exclude_unset=True)
    for field in ("name", "type", "active"):
        if field in sent and sent[field] is None:
            raise ValidationProblem(f"{field}: may not be null",
                                    errors=[{"field": field, "in": "body", "message": "may not be null"}])
    _check_external_id(session, sent.get("external_id"), own=org.id)
    for field, value in sent.items():
        setattr(org, field, value)
    if sent:
        org.updated_at = now
        flush_unique(session, "an organization with this external_id")
    audit.record(session, principal, action="update", resource_type="Organization", resource_id=org.id,
                 detail={"fields": sorted(sent)}, at=now)
    return org_read(org)


def get_organization(session: Session, principal: Principal, *, organization_id: uuid.UUID) -> OrganizationRead:
    require(principal, Permission.organization_read)
    return org_read(_load(session, organization_id))


def list_organizations(session: Session, principal: Principal, *, name: str | None, type_: OrganizationType | None,
                       include_inactive: bool, limit: int, cursor: str | None) -> OrganizationPage:
    """Organizations ordered by name; `name` matches a case-insensitive prefix of the name."""
    require(principal, Permission.organization_read)
    stmt = select(Organization)
    if not include_inactive:
        stmt = stmt.where(Organization.active.is_(True))
    if type_ is not None:
        stmt = stmt.where(Organization.type == type_.value)
    if name:
        escaped = name.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(func.lower(Organization.name).like(escaped + "%", escape="\\"))
    after = decode_cursor(cursor, arity=2)
    if after is not None:
        try:
            last = uuid.UUID(str(after[1]))
        except ValueError as exc:
            raise ValidationProblem("cursor is not one this server issued",
                                    errors=[{"field": "cursor", "message": "malformed"}]) from exc
        stmt = stmt.where(tuple_(Organization.name, Organization.id) > tuple_(str(after[0]), last))
    rows = list(session.scalars(stmt.order_by(Organization.name, Organization.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = encode_cursor([rows[-1].name, str(rows[-1].id)]) if more and rows else None
    return OrganizationPage(items=[org_read(o) for o in rows], next_cursor=nxt, limit=limit)
