"""Issuing, listing, revoking and checking integration API keys.

A key reads `cbk_<prefix>_<secret>`: the prefix (8 random base-32 characters) finds the row by a
unique index; the secret (32 random bytes) is never stored, only SHA-256 over the whole key, compared
in constant time. Admin actions are audited (purpose system_admin); checks are not, since they touch
no patient data, but stamp `last_used_at` (at most once a minute, to spare a write per request).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts import audit
from carebridge.contexts.integrations import ratelimit
from carebridge.contexts.integrations.models import ApiKey
from carebridge.contexts.integrations.schemas import ApiKeyCreate, ApiKeyIssued, ApiKeyList, ApiKeyRead, ApiScope
from carebridge.kernel.errors import Forbidden, NotFound, Unauthorized
from carebridge.kernel.ids import new_id
from carebridge.security import Permission, Principal, require

KEY_PREFIX = "cbk_"
_PREFIX_LEN = 8
_MAX_KEY_LEN = 120
LAST_USED_RESOLUTION = timedelta(minutes=1)
RESOURCE = "ApiKey"


@dataclass(frozen=True, slots=True)
class ApiClient:
    """The integrating app a request came from, as the compatibility routes see it."""

    key_id: uuid.UUID
    app_name: str
    scopes: frozenset[str]

    def require(self, scope: ApiScope) -> None:
        if scope.value not in self.scopes:
            raise Forbidden(f"this API key lacks the scope {scope.value}", slug="api-key-scope")


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _new_key() -> tuple[str, str]:
    prefix = base64.b32encode(secrets.token_bytes(5)).decode().lower()[:_PREFIX_LEN]
    secret = secrets.token_urlsafe(32)
    return prefix, f"{KEY_PREFIX}{prefix}_{secret}"


def _read(row: ApiKey) -> ApiKeyRead:
    return ApiKeyRead(id=row.id, app_name=row.app_name, prefix=row.prefix, scopes=list(row.scopes),
                      rate_limit=row.rate_limit, created_at=row.created_at, revoked_at=row.revoked_at,
                      last_used_at=row.last_used_at)


def issue_key(session: Session, principal: Principal, *, data: ApiKeyCreate, now: datetime) -> ApiKeyIssued:
    require(principal, Permission.api_key_manage)
    prefix, key = _new_key()
    while session.scalar(select(ApiKey.id).where(ApiKey.prefix == prefix)) is not None:  # 2^40: all but never
        prefix, key = _new_key()
    row = ApiKey(id=new_id(), app_name=data.app_name, prefix=prefix, secret_hash=_digest(key),
                 scopes=[s.value for s in data.scopes], rate_limit=data.rate_limit, created_at=now,
                 created_by=principal.user_id)
    session.add(row)
    session.flush()
    audit.record(session, principal, action="create", resource_type=RESOURCE, resource_id=row.id,
                 purpose="system_admin", detail={"app_name": row.app_name, "scopes": row.scopes}, at=now)
    return ApiKeyIssued(**_read(row).model_dump(), key=key)


def list_keys(session: Session, principal: Principal) -> ApiKeyList:
    require(principal, Permission.api_key_manage)
    rows = session.scalars(select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.app_name, ApiKey.id))
    return ApiKeyList(items=[_read(r) for r in rows])


def revoke_key(session: Session, principal: Principal, *, key_id: uuid.UUID, now: datetime) -> ApiKeyRead:
    """Revoking twice is harmless: the first revocation time stays."""
    require(principal, Permission.api_key_manage)
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound("no such API key")
    if row.revoked_at is None:
        row.revoked_at, row.revoked_by = now, principal.user_id
        session.flush()
        audit.record(session, principal, action="delete", resource_type=RESOURCE, resource_id=row.id,
                     purpose="system_admin", detail={"app_name": row.app_name}, at=now)
    return _read(row)


def parse_key(authorization: str | None, x_api_key: str | None) -> str:
    """The key a request carries, in `Authorization: Bearer cbk_…` or `X-API-Key: cbk_…`."""
    key = (x_api_key or "").strip()
    if not key and authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer":
            key = token.strip()
    if not key:
        raise Unauthorized("send an API key: `Authorization: Bearer cbk_…` or `X-API-Key: cbk_…`",
                           slug="api-key-required")
    return key


def check_key(session: Session, *, key: str, now: datetime, default_limit: int, window_seconds: int) -> ApiClient:
    """The app behind a presented key, counted against its rate limit; 401 for any key that does not work.

    Unknown, malformed and revoked keys get the same answer, so the reply tells a guesser nothing.
    """
    refused = Unauthorized("the API key is not valid (unknown, malformed or revoked)",
                           slug="api-key-invalid", headers={"WWW-Authenticate": 'Bearer realm="api-key"'})
    if len(key) > _MAX_KEY_LEN or not key.startswith(KEY_PREFIX):
        raise refused
    prefix = key[len(KEY_PREFIX):len(KEY_PREFIX) + _PREFIX_LEN]
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if row is None or not hmac.compare_digest(row.secret_hash, _digest(key)) or row.revoked_at is not None:
        raise refused
    ratelimit.hit(session, bucket=f"key:{row.id.hex}", limit=row.rate_limit or default_limit,
                  window_seconds=window_seconds, now=now, what="requests for this API key")
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
        session.flush()
    return ApiClient(key_id=row.id, app_name=row.app_name, scopes=frozenset(row.scopes))
