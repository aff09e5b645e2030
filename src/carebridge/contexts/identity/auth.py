"""Turning a request into a Principal: bearer JWT for the API, a cookie session for the web pages.

Access tokens are short-lived but still checked against their session row, so logout and refresh
token reuse revoke them at once rather than at expiry. The row, not the token, also says whether
the sign-in was confirmed with a second factor: confirming TOTP enrolment upgrades the session
the user is in, and turning TOTP off downgrades every session, without new tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, NamedTuple, cast

from fastapi import Depends, Request
from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from carebridge.contexts.audit import service as audit_service
from carebridge.contexts.identity.models import AuthSession, CaregiverLink, User
from carebridge.contexts.identity.tokens import AccessClaims, decode_access_token
from carebridge.kernel.clock import Clock
from carebridge.kernel.db import Database
from carebridge.kernel.deps import SessionDep, read_request_info
from carebridge.kernel.errors import Unauthorized
from carebridge.kernel.keys import ServerKeys
from carebridge.security import CaregiverScope, Principal, Role
from carebridge.settings import Settings

SESSION_COOKIE = "cb_session"


def sign_session_id(secret: bytes, session_id: uuid.UUID) -> str:
    mac = hmac.new(secret, b"web-session:" + session_id.bytes, hashlib.sha256).hexdigest()[:32]
    return f"{session_id.hex}.{mac}"


def unsign_session_id(secret: bytes, value: str) -> uuid.UUID | None:
    if len(value) > 100 or "." not in value:
        return None
    raw, mac = value.split(".", 1)
    try:
        sid = uuid.UUID(hex=raw)
    except ValueError:
        return None
    expected = sign_session_id(secret, sid).split(".", 1)[1]
    return sid if hmac.compare_digest(mac, expected) else None


def caregiver_scopes(session: Session, user_id: uuid.UUID) -> dict[uuid.UUID, frozenset[CaregiverScope]]:
    rows = session.execute(
        select(CaregiverLink.patient_id, CaregiverLink.scopes).where(
            CaregiverLink.caregiver_user_id == user_id, CaregiverLink.revoked_at.is_(None)
        )
    ).all()
    out: dict[uuid.UUID, frozenset[CaregiverScope]] = {}
    for pid, scopes in rows:
        out[pid] = frozenset(CaregiverScope(s) for s in scopes if s in CaregiverScope.__members__)
    return out


class LiveSession(NamedTuple):
    id: uuid.UUID
    user_id: uuid.UUID
    kind: str
    mfa: bool
    scope: str | None = None


_SESSIONS = cast(Table, AuthSession.__table__)
_LIVE_SESSION = select(_SESSIONS.c.id, _SESSIONS.c.user_id, _SESSIONS.c.kind, _SESSIONS.c.mfa,
                       _SESSIONS.c.revoked_at, _SESSIONS.c.expires_at, _SESSIONS.c.scope
                       ).where(_SESSIONS.c.id == bindparam("sid"))


def _session_alive(session: Session, sid: uuid.UUID, clock: Clock) -> LiveSession | None:
    """Checked on every request, so a plain column read: no ORM object, no identity-map staleness."""
    row = session.execute(_LIVE_SESSION, {"sid": sid}).first()
    if row is None or row.revoked_at is not None or row.expires_at <= clock.now():
        return None
    return LiveSession(row.id, row.user_id, row.kind, bool(row.mfa), row.scope)


_VERIFIED: dict[tuple[bytes, str], AccessClaims] = {}
_VERIFIED_MAX = 4096


def _claims(secret: bytes, token: str, clock: Clock) -> AccessClaims | None:
    """`decode_access_token`, remembering tokens whose signature already checked out.

    What a token says is fixed by its bytes and the secret, so a verified token needs no second HMAC
    and JSON parse (7% of a patient read). Expiry is checked again on every use, and the session row
    (logout, revocation, second factor) is still read on every request: nothing about access is cached.
    """
    key = (secret, token)
    claims = _VERIFIED.get(key)
    if claims is None:
        claims = decode_access_token(secret, token, now=clock.now())
        if claims is not None:
            if len(_VERIFIED) >= _VERIFIED_MAX:
                _VERIFIED.clear()
            _VERIFIED[key] = claims
        return claims
    return claims if claims.expires_at > int(clock.now().timestamp()) else None


def _needs_totp(settings: Settings, role: Role, mfa: bool) -> bool:
    return role is Role.admin and settings.require_totp_for_admins and not mfa


def authenticate(request: Request, session: Session) -> Principal | None:
    keys: ServerKeys = request.app.state.keys
    clock: Clock = request.app.state.clock
    settings: Settings = request.app.state.settings
    client = request.client.host if request.client else None
    rid = getattr(request.state, "request_id", None)
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("the Authorization header must be `Bearer <access token>`")
        claims = _claims(keys.token_secret, token.strip(), clock)
        if claims is None:
            raise Unauthorized("the access token is invalid or expired; refresh it or sign in again")
        live = _session_alive(session, claims.session_id, clock)
        if live is None or live.user_id != claims.user_id:
            raise Unauthorized("this sign-in has ended (logged out or revoked); sign in again")
        cg = caregiver_scopes(session, claims.user_id) if claims.role is Role.caregiver else {}
        return Principal(
            user_id=claims.user_id, role=claims.role, username=claims.username,
            organization_id=claims.organization_id, patient_id=claims.patient_id, caregiver_of=cg,
            session_id=claims.session_id, mfa=live.mfa, needs_totp=_needs_totp(settings, claims.role, live.mfa),
            client_address=client, request_id=rid, scope=live.scope,
        )
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        sid = unsign_session_id(keys.token_secret, cookie)
        row = _session_alive(session, sid, clock) if sid else None
        if row is None or row.kind != "web":
            return None
        user = session.get(User, row.user_id)
        if user is None or not user.is_active:
            return None
        role = Role(user.role)
        cg = caregiver_scopes(session, user.id) if role is Role.caregiver else {}
        return Principal(
            user_id=user.id, role=role, username=user.username, organization_id=user.organization_id,
            patient_id=user.patient_id, caregiver_of=cg, session_id=row.id, mfa=row.mfa,
            needs_totp=_needs_totp(settings, role, row.mfa), client_address=client, request_id=rid,
        )
    return None


async def optional_principal(request: Request, session: SessionDep) -> Principal | None:
    return authenticate(request, session)


async def require_principal(request: Request, session: SessionDep) -> Principal:
    principal = authenticate(request, session)
    if principal is None:
        raise Unauthorized()
    return principal


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


@dataclass(frozen=True, slots=True)
class ReadAccess:
    session: Session
    principal: Principal


async def read_access(request: Request) -> AsyncIterator[ReadAccess]:
    """The whole pipeline of a read-only route in one dependency: a read-only transaction, the caller, and
    the audit entries the route queued, committed by the group writer before the response is sent.

    The token and its session row are checked on every request as for `CurrentPrincipal` (no cache: a
    logout takes effect at once). Routes on this dependency must not write anything but audit entries:
    the transaction is rolled back. On PostgreSQL the read holds a slot of the request gate (never waiting
    for a pooled connection on the event loop); on SQLite it needs none, since it takes no write lock.
    """
    db: Database = request.app.state.database
    gate = None if db.is_sqlite else db.sqlite_gate()
    if gate is not None:
        await gate.acquire()
    error: BaseException | None = None
    try:
        with db.read_only(info={"request": read_request_info(request)}) as session:
            try:
                principal = authenticate(request, session)
                if principal is None:
                    raise Unauthorized()
                yield ReadAccess(session, principal)
            except BaseException as exc:  # re-raised below, once its audit entries are committed
                error = exc
            entries = audit_service.take_read_entries(db, session, failed=error is not None)
    finally:
        if gate is not None:
            gate.release()
    await audit_service.group_committer(db).append(entries)  # the session is closed: no connection held
    if error is not None:
        raise error


ReadAccessDep = Annotated[ReadAccess, Depends(read_access, scope="function")]
