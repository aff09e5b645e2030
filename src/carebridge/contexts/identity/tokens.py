"""JWT access tokens (HS256, short-lived) and opaque refresh tokens (stored only as SHA-256)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from carebridge.security import Role

ISSUER = "carebridge"
AUDIENCE = "carebridge-api"
ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    role: Role
    username: str
    session_id: uuid.UUID
    organization_id: uuid.UUID | None
    patient_id: uuid.UUID | None
    mfa: bool
    expires_at: int
    scope: str | None = None


def issue_access_token(
    secret: bytes, *, user_id: uuid.UUID, role: Role, username: str, session_id: uuid.UUID,
    organization_id: uuid.UUID | None, patient_id: uuid.UUID | None, mfa: bool, now: datetime, ttl_seconds: int,
    scope: str | None = None,
) -> str:
    payload: dict[str, Any] = {
        "iss": ISSUER, "aud": AUDIENCE, "typ": "access",
        "sub": str(user_id), "role": role.value, "name": username, "sid": str(session_id),
        "org": str(organization_id) if organization_id else None,
        "pid": str(patient_id) if patient_id else None,
        "mfa": mfa,
        "iat": int(now.timestamp()), "exp": int((now + timedelta(seconds=ttl_seconds)).timestamp()),
        "jti": secrets.token_hex(8),
    }
    if scope is not None:
        payload["scope"] = scope
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def decode_access_token(secret: bytes, token: str, *, now: datetime) -> AccessClaims | None:
    """None for anything not a valid, unexpired access token of ours: callers answer 401 either way."""
    if len(token) > 4096:
        return None
    try:
        data = jwt.decode(
            token, secret, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
            options={"require": ["exp", "sub", "sid", "role"], "verify_exp": False},
        )
        if data.get("typ") != "access" or int(data["exp"]) <= int(now.timestamp()):
            return None
        return AccessClaims(
            user_id=uuid.UUID(data["sub"]), role=Role(data["role"]), username=str(data.get("name", "")),
            session_id=uuid.UUID(data["sid"]),
            organization_id=uuid.UUID(data["org"]) if data.get("org") else None,
            patient_id=uuid.UUID(data["pid"]) if data.get("pid") else None,
            mfa=bool(data.get("mfa")), expires_at=int(data["exp"]),
            scope=str(data["scope"]) if data.get("scope") is not None else None,
        )
    except (jwt.PyJWTError, ValueError, KeyError, TypeError):
        return None


def new_refresh_token() -> tuple[str, str]:
    """(token for the client, hash for the database)."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
