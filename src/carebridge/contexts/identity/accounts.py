"""Helpers every identity use case shares: loading the caller, uniqueness, password policy, sessions."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from carebridge.contexts.identity.models import AuthSession, User
from carebridge.contexts.identity.passwords import password_problems
from carebridge.contexts.identity.schemas import UserRead
from carebridge.kernel.errors import Conflict, Unauthorized, ValidationProblem
from carebridge.security import Principal


def user_read(user: User) -> UserRead:
    return UserRead.model_validate(user)


def current_user(session: Session, principal: Principal) -> User:
    """The caller's row; a deleted or deactivated account is signed out, whatever its token says."""
    user = session.get(User, principal.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("this account no longer exists or was deactivated; sign in again")
    return user


def find_by_username(session: Session, username: str) -> User | None:
    return session.execute(select(User).where(User.username == username.strip().lower())).scalar_one_or_none()


def ensure_unique(session: Session, *, username: str, email: str | None, exclude: uuid.UUID | None = None) -> None:
    # usernames and emails are stored lower-case (the schemas fold them), so the unique indexes answer this
    taken = session.execute(select(User.id).where(User.username == username.lower())).scalar()
    if taken is not None and taken != exclude:
        raise Conflict(f"the username {username!r} is taken; choose another",
                       errors=[{"field": "username", "message": "already taken"}])
    if email:
        taken = session.execute(select(User.id).where(User.email == email.lower())).scalar()
        if taken is not None and taken != exclude:
            raise Conflict("an account with this email already exists; sign in or use another email",
                           errors=[{"field": "email", "message": "already registered"}])


def flush_new_user(session: Session, user: User) -> None:
    """Insert the user; a concurrent sign-up that won the race becomes a 409, not a 500."""
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError as exc:
        raise Conflict("the username or email was just taken by another sign-up; choose another",
                       errors=[{"field": "username", "message": "already taken"}]) from exc


def check_password(password: str, *, field: str, username: str, full_name: str = "", email: str | None = None) -> None:
    context = (username, *full_name.split(), (email or "").split("@")[0])
    problems = password_problems(password, context_words=tuple(w for w in context if w))
    if problems:
        raise ValidationProblem(
            f"{field}: " + "; ".join(problems),
            errors=[{"field": field, "in": "body", "message": p} for p in problems],
        )


def revoke_sessions(session: Session, user_id: uuid.UUID, *, now: datetime, reason: str,
                    keep: uuid.UUID | None = None) -> int:
    """End every live sign-in of a user (but `keep`); their access tokens stop working at once."""
    stmt = (
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
        .execution_options(synchronize_session="fetch")
    )
    if keep is not None:
        stmt = stmt.where(AuthSession.id != keep)
    session.flush()
    result = session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)
