"""Staff administration: an admin manages the accounts of their own organization, and only those.

Accounts outside the admin's organization answer 404, not 403, so an admin cannot learn which
usernames exist elsewhere. A role change or deactivation ends the account's sessions: access
tokens carry the role, and must not keep the old one until they expire.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carebridge.contexts.audit import service as audit
from carebridge.contexts.identity.accounts import (
    check_password,
    ensure_unique,
    flush_new_user,
    revoke_sessions,
    user_read,
)
from carebridge.contexts.identity.models import User
from carebridge.contexts.identity.passwords import hash_password
from carebridge.contexts.identity.schemas import USERNAME_PATTERN, StaffCreate, UserPage, UserRead
from carebridge.contexts.practitioners import (
    OrganizationCreate,
    OrganizationType,
    create_organization,
    list_organizations,
)
from carebridge.kernel.errors import Conflict, Forbidden, NotFound, ValidationProblem
from carebridge.kernel.ids import new_id
from carebridge.kernel.pagination import decode_cursor, encode_cursor
from carebridge.security import STAFF_ROLES, Permission, Principal, Role, require


def _admin_org(principal: Principal, permission: Permission) -> uuid.UUID:
    require(principal, permission)
    if principal.organization_id is None:
        raise Forbidden("your account belongs to no organization, so it has no staff to manage")
    return principal.organization_id


def _org_user(session: Session, org_id: uuid.UUID, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None or user.organization_id != org_id:
        raise NotFound("no user with this id in your organization")
    return user


def _staff_role(role: Role | str) -> Role:
    try:
        value = Role(role)
    except ValueError:
        value = None
    if value is None or value not in STAFF_ROLES:
        allowed = ", ".join(sorted(r.value for r in STAFF_ROLES))
        raise ValidationProblem(f"role: {role!r} is not a staff role; choose one of {allowed}",
                                errors=[{"field": "role", "in": "body", "message": f"choose one of {allowed}"}])
    return value


def _new_staff_user(session: Session, data: StaffCreate, *, org_id: uuid.UUID | None, now: datetime) -> User:
    role = _staff_role(data.role)
    ensure_unique(session, username=data.username, email=data.email)
    check_password(data.password, field="password", username=data.username, full_name=data.full_name,
                   email=data.email)
    user = User(id=new_id(), username=data.username, email=data.email, full_name=data.full_name,
                password_hash=hash_password(data.password), role=role.value, organization_id=org_id,
                language=data.language, created_at=now, updated_at=now, password_changed_at=now)
    flush_new_user(session, user)
    return user


def create_staff(session: Session, principal: Principal, *, data: StaffCreate, now: datetime) -> UserRead:
    """An admin opens a staff account in their own organization."""
    org_id = _admin_org(principal, Permission.user_manage)
    user = _new_staff_user(session, data, org_id=org_id, now=now)
    audit.record(session, principal, action="create", resource_type="User", resource_id=user.id,
                 detail={"role": user.role, "username": user.username}, at=now)
    return user_read(user)


def list_users(session: Session, principal: Principal, *, cursor: str | None, limit: int, role: Role | None = None,
               active: bool | None = None) -> UserPage:
    """Accounts of the admin's organization by username, a page at a time."""
    org_id = _admin_org(principal, Permission.user_manage)
    after = decode_cursor(cursor, arity=1)
    stmt = select(User).where(User.organization_id == org_id)
    if role is not None:
        stmt = stmt.where(User.role == role.value)
    if active is not None:
        stmt = stmt.where(User.is_active.is_(active))
    if after is not None:
        if not isinstance(after[0], str) or not re.fullmatch(USERNAME_PATTERN, after[0]):
            raise ValidationProblem("cursor is not one this server issued",
                                    errors=[{"field": "cursor", "in": "query", "message": "malformed"}])
        stmt = stmt.where(User.username > after[0])
    rows = session.execute(stmt.order_by(User.username).limit(limit + 1)).scalars().all()
    items = [user_read(u) for u in rows[:limit]]
    next_cursor = encode_cursor([rows[limit - 1].username]) if len(rows) > limit else None
    return UserPage(items=items, next_cursor=next_cursor, limit=limit)


def get_user(session: Session, principal: Principal, *, user_id: uuid.UUID) -> UserRead:
    org_id = _admin_org(principal, Permission.user_manage)
    return user_read(_org_user(session, org_id, user_id))


def _other_active_admins(session: Session, org_id: uuid.UUID, user_id: uuid.UUID) -> int:
    return int(session.execute(
        select(func.count()).select_from(User).where(
            User.organization_id == org_id, User.role == Role.admin.value, User.is_active.is_(True),
            User.id != user_id,
        )
    ).scalar_one())


def change_role(session: Session, principal: Principal, *, user_id: uuid.UUID, role: Role | str,
                now: datetime) -> UserRead:
    """Give a staff member another staff role; audited with the old and new role."""
    org_id = _admin_org(principal, Permission.user_change_role)
    new_role = _staff_role(role)
    user = _org_user(session, org_id, user_id)
    old_role = user.role
    if old_role == new_role.value:
        return user_read(user)
    if old_role == Role.admin.value and user.is_active and _other_active_admins(session, org_id, user.id) == 0:
        raise Conflict("this is the organization's last active admin; make another admin first",
                       slug="last-admin")
    user.role = new_role.value
    user.updated_at = now
    revoke_sessions(session, user.id, now=now, reason="role-change")
    audit.record(session, principal, action="role_change", resource_type="User", resource_id=user.id,
                 detail={"old": old_role, "new": new_role.value, "username": user.username}, at=now)
    return user_read(user)


def deactivate_user(session: Session, principal: Principal, *, user_id: uuid.UUID, now: datetime) -> UserRead:
    """Close a staff account: it can no longer sign in and its sessions end at once."""
    org_id = _admin_org(principal, Permission.user_manage)
    user = _org_user(session, org_id, user_id)
    if user.id == principal.user_id:
        raise Conflict("you cannot deactivate your own account; ask another admin", slug="self-deactivation")
    if user.is_active:
        user.is_active = False
        user.updated_at = now
        revoke_sessions(session, user.id, now=now, reason="deactivated")
        audit.record(session, principal, action="deactivate", resource_type="User", resource_id=user.id,
                     detail={"username": user.username, "role": user.role}, at=now)
    return user_read(user)


def reactivate_user(session: Session, principal: Principal, *, user_id: uuid.UUID, now: datetime) -> UserRead:
    org_id = _admin_org(principal, Permission.user_manage)
    user = _org_user(session, org_id, user_id)
    if not user.is_active:
        user.is_active = True
        user.updated_at = now
        audit.record(session, principal, action="reactivate", resource_type="User", resource_id=user.id,
                     detail={"username": user.username, "role": user.role}, at=now)
    return user_read(user)


def _bootstrap_org(session: Session, admin: Principal, name: str | None, now: datetime) -> uuid.UUID:
    if name:
        wanted = name.strip()
        candidates = list_organizations(session, admin, name=wanted, type_=None, include_inactive=True, limit=50,
                                        cursor=None).items
        for org in candidates:
            if org.name.lower() == wanted.lower():
                return org.id
        try:
            data = OrganizationCreate(name=wanted, type=OrganizationType.clinic)
        except ValidationError as exc:
            raise ValidationProblem(f"organization_name: {exc.errors()[0]['msg']}",
                                    errors=[{"field": "organization_name", "message": exc.errors()[0]["msg"]}]) from exc
        return create_organization(session, admin, data=data, now=now).id
    existing = list_organizations(session, admin, name=None, type_=None, include_inactive=False, limit=2,
                                  cursor=None).items
    if len(existing) == 1:
        return existing[0].id
    if not existing:
        raise ValidationProblem("organization_name: no organization exists yet; name the one to create",
                                errors=[{"field": "organization_name", "message": "required"}])
    raise ValidationProblem("organization_name: several organizations exist; say which one",
                            errors=[{"field": "organization_name", "message": "ambiguous"}])


def bootstrap_admin(session: Session, *, data: StaffCreate, organization_name: str | None,
                    now: datetime) -> UserRead:
    """The first admin, from the command line, which already holds the database: there is no caller to check.

    The new admin is the one who acts (creating the organization if needed), so the audit trail
    names them; TOTP is not demanded of a shell user.
    """
    user = _new_staff_user(session, data.model_copy(update={"role": "admin"}), org_id=None, now=now)
    acting = Principal(user_id=user.id, role=Role.admin, username=user.username)
    user.organization_id = _bootstrap_org(session, acting, organization_name, now)
    session.flush()
    acting = Principal(user_id=user.id, role=Role.admin, username=user.username, organization_id=user.organization_id)
    audit.record(session, acting, action="create", resource_type="User", resource_id=user.id,
                 detail={"via": "cli", "role": "admin", "username": user.username}, at=now)
    return user_read(user)
