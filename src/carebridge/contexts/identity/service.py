"""Use cases of the identity context: sign-in, tokens, registration, the caller's own account, TOTP.

Staff administration lives in `staff.py` and caregiver links in `caregivers.py`; both are re-exported
here so callers have one module to import. Every function is keyword-only after the session and
principal, takes its time from the caller's clock and never commits.
"""

from __future__ import annotations

import uuid
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from carebridge.contexts.audit import service as audit
from carebridge.contexts.identity import throttle, totp
from carebridge.contexts.identity.accounts import (
    check_password,
    current_user,
    ensure_unique,
    find_by_username,
    flush_new_user,
    revoke_sessions,
    user_read,
)
from carebridge.contexts.identity.auth import sign_session_id
from carebridge.contexts.identity.caregivers import (
    link_caregiver,
    list_cared_patients,
    list_caregivers,
    revoke_caregiver,
)
from carebridge.contexts.identity.models import AuthSession, RefreshToken, User
from carebridge.contexts.identity.passwords import hash_password, needs_rehash, verify_password
from carebridge.contexts.identity.schemas import (
    MeRead,
    MeUpdate,
    RegistrationCreate,
    TotpSetup,
    UserRead,
)
from carebridge.contexts.identity.staff import (
    bootstrap_admin,
    change_role,
    create_staff,
    deactivate_user,
    get_user,
    list_users,
    reactivate_user,
)
from carebridge.contexts.identity.tokens import hash_refresh_token, issue_access_token, new_refresh_token
from carebridge.contexts.patients import AdministrativeSex, PatientCreate, PurposeOfUse, create_patient
from carebridge.contexts.practitioners import get_organization
from carebridge.kernel.errors import Conflict, Forbidden, NotFound, Problem, Unauthorized, ValidationProblem
from carebridge.kernel.ids import new_id
from carebridge.kernel.keys import ServerKeys
from carebridge.security import ROLE_PERMISSIONS, Principal, Role
from carebridge.settings import Settings, get_settings

__all__ = [
    "LoginResult",
    "bootstrap_admin",
    "change_password",
    "change_role",
    "create_staff",
    "deactivate_user",
    "get_me",
    "get_user",
    "link_caregiver",
    "list_cared_patients",
    "list_caregivers",
    "list_users",
    "login",
    "logout",
    "reactivate_user",
    "refresh",
    "register",
    "revoke_caregiver",
    "set_language",
    "totp_begin",
    "totp_confirm",
    "totp_disable",
    "update_me",
]

TOTP_TITLE = "Two-factor sign-in required"


@dataclass(frozen=True, slots=True)
class LoginResult:
    """A started sign-in: API sessions carry tokens, web sessions a signed cookie value."""

    user_id: uuid.UUID
    role: Role
    session_id: uuid.UUID
    access_token: str | None
    refresh_token: str | None
    expires_in: int
    cookie_value: str | None
    user: UserRead
    scope: str | None = None  # the SMART scopes the sign-in was narrowed to (fhir/smart.py)


def _principal_of(user: User, *, session_id: uuid.UUID | None = None, mfa: bool = False,
                  client_address: str | None = None) -> Principal:
    return Principal(user_id=user.id, role=Role(user.role), username=user.username,
                     organization_id=user.organization_id, patient_id=user.patient_id, session_id=session_id,
                     mfa=mfa, client_address=client_address)


def _totp_secret(user: User, keys: ServerKeys) -> str:
    if user.totp_secret_enc is None:
        raise Conflict("two-factor sign-in has not been set up for this account", slug="totp-not-set-up")
    try:
        return totp.decrypt_secret(keys.token_secret, user.id, user.totp_secret_enc)
    except totp.TotpSecretUnreadable as exc:
        raise Conflict(
            "the stored two-factor secret cannot be read (the server key changed); ask an administrator to reset it",
            slug="totp-unreadable",
        ) from exc


def _consume_step(session: Session, user: User, step: int) -> bool:
    """Record the accepted step; False if a concurrent request already used this or a later one."""
    result = session.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session="fetch")
    )
    return bool(getattr(result, "rowcount", 0))


def _issue_tokens(session: Session, user: User, auth: AuthSession, *, settings: Settings, keys: ServerKeys,
                  now: datetime) -> LoginResult:
    token, token_hash = new_refresh_token()
    session.add(RefreshToken(id=new_id(), session_id=auth.id, token_hash=token_hash, created_at=now))
    access = issue_access_token(
        keys.token_secret, user_id=user.id, role=Role(user.role), username=user.username, session_id=auth.id,
        organization_id=user.organization_id, patient_id=user.patient_id, mfa=auth.mfa, now=now,
        ttl_seconds=settings.access_token_ttl_seconds, scope=auth.scope,
    )
    return LoginResult(user_id=user.id, role=Role(user.role), session_id=auth.id, access_token=access,
                       refresh_token=token, expires_in=settings.access_token_ttl_seconds, cookie_value=None,
                       user=user_read(user), scope=auth.scope)


def login(session: Session, *, username: str, password: str, totp_code: str | None, kind: Literal["api", "web"],
          client_address: str | None, user_agent: str | None, settings: Settings, keys: ServerKeys,
          now: datetime, scope: str | None = None) -> LoginResult:
    """Check the password (and TOTP code when enrolled) and start a session; failures are throttled."""
    name = throttle.account_key(username)
    user = find_by_username(session, name)
    throttle.check(session, username=name, client_address=client_address, settings=settings, now=now)

    def _fail(reason: str) -> None:
        throttle.record_failure(session, username=name, client_address=client_address, now=now)
        audit.record(session, _principal_of(user, client_address=client_address) if user else None,
                     action="login", resource_type="User", resource_id=user.id if user else None,
                     outcome="failure", detail={"username": name, "reason": reason, "kind": kind}, at=now)

    if not verify_password(user.password_hash if user else None, password) or user is None:
        _fail("password")
        raise Unauthorized("the username or password is wrong", slug="invalid-credentials")
    if not user.is_active:
        raise Unauthorized("this account has been deactivated; ask your organization's administrator",
                           slug="account-inactive")
    mfa = False
    if user.totp_enabled:
        if not totp_code:
            raise Problem("this account uses two-factor sign-in: send totp_code, the 6-digit code from your app",
                          status=401, slug="totp-required", title=TOTP_TITLE)
        step, replayed = totp.match_step(_totp_secret(user, keys), totp_code, now=now,
                                         last_step=user.totp_last_step)
        if step is None or not _consume_step(session, user, step):
            _fail("totp-replay" if replayed or step is not None else "totp")
            detail = ("this code was already used; wait for the next code from your app" if replayed
                      else "the two-factor code is wrong or expired; check your phone's clock and try the next code")
            raise Problem(detail, status=401, slug="totp-required", title=TOTP_TITLE)
        mfa = True
    throttle.forgive_account(session, username=name)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    ttl = (timedelta(days=settings.refresh_token_ttl_days) if kind == "api"
           else timedelta(hours=settings.web_session_ttl_hours))
    auth = AuthSession(id=new_id(), user_id=user.id, kind=kind, mfa=mfa, created_at=now, expires_at=now + ttl,
                       client_address=(client_address or None) and client_address[:64],
                       user_agent=(user_agent or None) and user_agent[:256], scope=scope)
    session.add(auth)
    audit.record(session, _principal_of(user, session_id=auth.id, mfa=mfa, client_address=client_address),
                 action="login", resource_type="User", resource_id=user.id, detail={"kind": kind, "mfa": mfa},
                 at=now)
    if kind == "web":
        return LoginResult(user_id=user.id, role=Role(user.role), session_id=auth.id, access_token=None,
                           refresh_token=None, expires_in=int(ttl.total_seconds()),
                           cookie_value=sign_session_id(keys.token_secret, auth.id), user=user_read(user))
    return _issue_tokens(session, user, auth, settings=settings, keys=keys, now=now)


def refresh(session: Session, *, refresh_token: str, settings: Settings, keys: ServerKeys,
            now: datetime) -> LoginResult:
    """Swap a refresh token for a new pair; a token presented twice ends its whole sign-in (theft)."""
    row = session.execute(
        select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(refresh_token))
    ).scalar_one_or_none()
    ended = Unauthorized("this refresh token is not valid or its sign-in has ended; sign in again",
                         slug="invalid-refresh-token")
    if row is None:
        raise ended
    auth = session.get(AuthSession, row.session_id)
    if auth is None or auth.kind != "api" or auth.revoked_at is not None or auth.expires_at <= now:
        raise ended
    consumed = session.execute(
        update(RefreshToken).where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
        .values(used_at=now).execution_options(synchronize_session="fetch")
    )
    if not getattr(consumed, "rowcount", 0):
        sid = auth.id

        def _revoke(s: Session) -> None:
            s.execute(update(AuthSession).where(AuthSession.id == sid, AuthSession.revoked_at.is_(None))
                      .values(revoked_at=now, revoked_reason="refresh-token-reuse")
                      .execution_options(synchronize_session="fetch"))

        throttle.persist_despite_rollback(session, _revoke)
        audit.record(session, None, action="refresh_reuse", resource_type="AuthSession", resource_id=sid,
                     outcome="failure", detail={"user_id": str(auth.user_id)}, at=now)
        raise Unauthorized("this refresh token was already used, so it may have been stolen: the whole sign-in "
                           "is now revoked; sign in again", slug="refresh-token-reused")
    user = session.get(User, auth.user_id)
    if user is None or not user.is_active:
        raise ended
    return _issue_tokens(session, user, auth, settings=settings, keys=keys, now=now)


def logout(session: Session, principal: Principal, *, now: datetime) -> None:
    """End the caller's current sign-in; its access tokens and refresh tokens stop working at once."""
    if principal.session_id is None:
        return
    session.execute(
        update(AuthSession).where(AuthSession.id == principal.session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason="logout").execution_options(synchronize_session="fetch")
    )


def _name_parts(full_name: str) -> tuple[str, str]:
    """Split a display name for the patient record: the last word is the family name."""
    given, _, family = full_name.strip().rpartition(" ")
    if not given:
        return family.strip()[:100], ""
    return given.strip()[:100], family.strip()[:100]


def register(session: Session, *, data: RegistrationCreate, settings: Settings, now: datetime) -> UserRead:
    """Self-registration of a patient (with their patient record) or of a caregiver."""
    if not settings.self_registration:
        raise Forbidden("this server does not allow self-registration; ask your clinic to create your account",
                        slug="registration-closed")
    ensure_unique(session, username=data.username, email=data.email)
    check_password(data.password, field="password", username=data.username, full_name=data.full_name,
                   email=data.email)
    user = User(id=new_id(), username=data.username, email=data.email, full_name=data.full_name,
                password_hash=hash_password(data.password), role=data.role, language=data.language,
                created_at=now, updated_at=now, password_changed_at=now)
    if data.role == Role.patient.value:
        given, family = _name_parts(data.full_name)
        record = PatientCreate(
            given_name=given, family_name=family, birth_date=data.birth_date,
            sex=AdministrativeSex(data.sex or "unknown"), preferred_languages=[data.language], phone=data.phone,
            email=data.email,
        )
        user.patient_id = create_patient(session, None, data=record, now=now,
                                         purpose=PurposeOfUse.patient_request.value).id
    flush_new_user(session, user)
    audit.record(session, _principal_of(user), action="create", resource_type="User", resource_id=user.id,
                 patient_id=user.patient_id, purpose=PurposeOfUse.patient_request.value,
                 detail={"via": "self-registration", "role": data.role}, at=now)
    return user_read(user)


def _reauthenticate(session: Session, user: User, principal: Principal, *, password: str, field: str,
                    settings: Settings | None, now: datetime) -> None:
    """Ask again for the password before a sensitive change; guesses are throttled like sign-ins."""
    throttle.check(session, username=user.username, client_address=principal.client_address,
                   settings=settings or get_settings(), now=now)
    if not verify_password(user.password_hash, password):
        throttle.record_failure(session, username=user.username, client_address=principal.client_address, now=now)
        raise ValidationProblem(f"{field}: the password is wrong",
                                errors=[{"field": field, "in": "body", "message": "the password is wrong"}])


def change_password(session: Session, principal: Principal, *, current_password: str, new_password: str,
                    now: datetime, settings: Settings | None = None) -> None:
    """Set a new password and end every other sign-in of this account (they may be an attacker's)."""
    user = current_user(session, principal)
    _reauthenticate(session, user, principal, password=current_password, field="current_password",
                    settings=settings, now=now)
    check_password(new_password, field="new_password", username=user.username, full_name=user.full_name,
                   email=user.email)
    if new_password == current_password:
        raise ValidationProblem("new_password: choose a password different from the current one",
                                errors=[{"field": "new_password", "in": "body", "message": "same as current"}])
    user.password_hash = hash_password(new_password)
    user.password_changed_at = now
    user.updated_at = now
    revoke_sessions(session, user.id, now=now, reason="password-change", keep=principal.session_id)
    audit.record(session, principal, action="password_change", resource_type="User", resource_id=user.id, at=now)


def totp_begin(session: Session, principal: Principal, *, keys: ServerKeys) -> TotpSetup:
    """Start enrolment: a fresh secret stored encrypted, not yet required until confirmed with a code."""
    user = current_user(session, principal)
    if user.totp_enabled:
        raise Conflict("two-factor sign-in is already on; turn it off first to move it to a new device",
                       slug="totp-already-enabled")
    secret = totp.new_secret()
    user.totp_secret_enc = totp.encrypt_secret(keys.token_secret, user.id, secret)
    user.totp_last_step = None
    uri = totp.provisioning_uri(secret, user.username)
    return TotpSetup(secret=secret, otpauth_uri=uri, qr_svg=totp.qr_svg(uri))


def totp_confirm(session: Session, principal: Principal, *, code: str, keys: ServerKeys, now: datetime) -> None:
    """Turn TOTP on once the user proves their app shows the right codes; this sign-in counts as two-factor."""
    user = current_user(session, principal)
    if user.totp_enabled:
        raise Conflict("two-factor sign-in is already on", slug="totp-already-enabled")
    step, _ = totp.match_step(_totp_secret(user, keys), code, now=now, last_step=None)
    if step is None:
        raise ValidationProblem("code: the code does not match; check your phone's clock and enter the current code",
                                errors=[{"field": "code", "in": "body", "message": "does not match"}])
    user.totp_enabled = True
    user.totp_last_step = step
    user.updated_at = now
    if principal.session_id is not None:
        session.execute(update(AuthSession).where(AuthSession.id == principal.session_id)
                        .values(mfa=True).execution_options(synchronize_session="fetch"))
    audit.record(session, principal, action="totp_enable", resource_type="User", resource_id=user.id, at=now)


def totp_disable(session: Session, principal: Principal, *, password: str, code: str, keys: ServerKeys,
                 now: datetime, settings: Settings | None = None) -> None:
    """Turn TOTP off (password and a current code); no sign-in of this account counts as two-factor after."""
    user = current_user(session, principal)
    if not user.totp_enabled:
        raise Conflict("two-factor sign-in is not on", slug="totp-not-set-up")
    _reauthenticate(session, user, principal, password=password, field="password", settings=settings, now=now)
    step, replayed = totp.match_step(_totp_secret(user, keys), code, now=now, last_step=user.totp_last_step)
    if step is None or not _consume_step(session, user, step):
        message = "this code was already used; wait for the next one" if replayed else "the code does not match"
        raise ValidationProblem(f"code: {message}", errors=[{"field": "code", "in": "body", "message": message}])
    user.totp_enabled = False
    user.totp_secret_enc = None
    user.totp_last_step = None
    user.updated_at = now
    session.execute(update(AuthSession).where(AuthSession.user_id == user.id)
                    .values(mfa=False).execution_options(synchronize_session="fetch"))
    audit.record(session, principal, action="totp_disable", resource_type="User", resource_id=user.id, at=now)


def set_language(session: Session, principal: Principal, *, language: str) -> None:
    if language not in ("en", "hi"):
        raise ValidationProblem(f"language: {language!r} is not offered; choose en or hi",
                                errors=[{"field": "language", "in": "body", "message": "choose en or hi"}])
    current_user(session, principal).language = language


def update_me(session: Session, principal: Principal, *, data: MeUpdate, now: datetime) -> MeRead:
    user = current_user(session, principal)
    if data.full_name is not None:
        user.full_name = data.full_name
    if data.language is not None:
        user.language = data.language
    user.updated_at = now
    return get_me(session, principal)


def get_me(session: Session, principal: Principal) -> MeRead:
    user = current_user(session, principal)
    org_name = None
    if user.organization_id is not None:
        with suppress(NotFound):
            org_name = get_organization(session, principal, organization_id=user.organization_id).name
    role = Role(user.role)
    return MeRead(
        id=user.id, username=user.username, full_name=user.full_name, email=user.email, role=role,
        organization_id=user.organization_id, organization_name=org_name, patient_id=user.patient_id,
        language=user.language, totp_enabled=user.totp_enabled, totp_required=principal.needs_totp,
        session_mfa=principal.mfa, permissions=sorted(p.value for p in ROLE_PERMISSIONS.get(role, frozenset())),
    )
