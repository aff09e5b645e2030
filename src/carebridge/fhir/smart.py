"""SMART on FHIR scopes: a token may be narrowed to resource types and interactions, never widened.

A sign-in through `POST /api/v1/auth/token` with a `scope` form field (`patient/*.read`, `user/Observation.write`,
`system/*.read`, or SMART v2 `patient/Observation.rs`) keeps the scopes on its session row; the token carries
them too, and so does every token refreshed from it. Without `scope` a sign-in is a first-party client and keeps
today's behaviour (roles and consent decide alone).

Enforcement sits in front of every mapper (`install` wraps each one the registry serves), so every path into a
mapper is narrowed: REST interactions, Bundle entries, `_include`, history, `$everything` (a type the scopes
leave out is dropped with a warning there) and `$export`. A scope only narrows: the mapper still applies the
role, the organization relationship and consent (security/policy.py), and writes the audit entry. A refusal by
scope is a 403 OperationOutcome, audited with outcome `denied`.

Contexts: `patient/` scopes are for patients and caregivers (the policy already keeps them to their own or
linked patients: there is no launch context to pick another); `user/` for any account; `system/` for
administrators (a backend service signs in as an admin account; it reaches what that account reaches).
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request

from carebridge.contexts import audit, identity
from carebridge.fhir.outcome import FhirError
from carebridge.fhir.registry import Context, Found, Mapper, Query, Registry, Stored
from carebridge.kernel.deps import ClockDep, KeysDep, RequestInfoDep, SessionDep, SettingsDep
from carebridge.kernel.errors import Problem
from carebridge.security import Principal, Role

# SMART v1 `.read/.write/.*` or v2 `.cruds` letters (in that order, at least one)
_RESOURCE_SCOPE = re.compile(r"^(patient|user|system)/(\*|[A-Z][A-Za-z]{1,63})\.(read|write|\*|c?r?u?d?s?)$")
OTHER_SCOPES = frozenset({"openid", "fhirUser", "profile", "offline_access", "online_access", "launch",
                          "launch/patient"})
MAX_SCOPE = 1000
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
OPERATIONS = {"read": "r", "search": "s", "create": "c", "update": "u", "delete": "d"}
SUPPORTED = ["patient/*.read", "patient/*.rs", "user/*.read", "user/*.write", "user/*.*", "user/*.cruds",
             "system/*.read", "system/*.rs", "openid", "fhirUser", "offline_access"]


@dataclass(frozen=True, slots=True)
class Grant:
    context: str  # patient | user | system
    resource_type: str  # a type or *
    ops: frozenset[str]  # of c r u d s


@lru_cache(maxsize=1024)
def parse(scope: str) -> tuple[Grant, ...]:
    """The resource grants of a space-separated scope string; ValueError names the first malformed one."""
    if len(scope) > MAX_SCOPE:
        raise ValueError(f"scope is longer than {MAX_SCOPE} characters")
    grants = []
    for word in scope.split():
        if word in OTHER_SCOPES:
            continue
        m = _RESOURCE_SCOPE.match(word)
        if m is None or not m.group(3):
            raise ValueError(f"{word[:80]!r} is not a scope this server knows (e.g. patient/*.read, "
                             "user/Observation.write, system/*.read)")
        grants.append(Grant(m.group(1), m.group(2), frozenset(_V1.get(m.group(3), m.group(3)))))
    return tuple(grants)


def check_for(principal: Principal, scope: str) -> str:
    """The normalized scope string if this account may ask for it; ValueError says why not."""
    grants = parse(scope)
    for g in grants:
        if g.context == "patient" and principal.role not in (Role.patient, Role.caregiver):
            raise ValueError("patient/ scopes are for patients and caregivers; staff use user/ scopes")
        if g.context == "system" and principal.role is not Role.admin:
            raise ValueError("system/ scopes are for backend services signed in as an administrator")
    if not grants:
        raise ValueError("the scope names no resource access (e.g. user/*.read)")
    return " ".join(scope.split())


def allows(principal: Principal, resource_type: str, operation: str) -> bool:
    """Whether the principal's scopes (if any) allow `operation` (read, search, create, update, delete) on the type."""
    if principal.scope is None:
        return True
    try:
        grants = parse(principal.scope)
    except ValueError:
        return False
    letter = OPERATIONS[operation]
    return any(letter in g.ops and g.resource_type in ("*", resource_type) for g in grants)


def require(ctx: Context, resource_type: str, operation: str, resource_id: uuid.UUID | None = None) -> None:
    """403 (audited as denied) unless the token's scopes allow the interaction."""
    if allows(ctx.principal, resource_type, operation):
        return
    audit.record(ctx.session, ctx.principal, action=operation, resource_type=resource_type, resource_id=resource_id,
                 purpose=ctx.purpose, outcome="denied", at=ctx.now,
                 detail={"basis": "denied:scope", "scope": (ctx.principal.scope or "")[:300]})
    raise FhirError(403, f"the token's scopes do not allow {operation} of {resource_type} "
                         f"(granted: {(ctx.principal.scope or '')[:200]})", code="forbidden")


# --- the guard in front of every mapper -------------------------------------------------------------------------

def guarded(m: Mapper) -> Mapper:
    """The mapper with each interaction checked against the token's scopes first."""
    t = m.type
    read, search, create, update, delete, total = m.read, m.search, m.create, m.update, m.delete, m.total

    def g_search(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
        require(ctx, t, "search")
        return search(ctx, query, count, cursor)

    def g_read(ctx: Context, rid: uuid.UUID) -> Stored:
        require(ctx, t, "read", rid)
        assert read is not None  # noqa: S101 - only wrapped when set
        return read(ctx, rid)

    def g_create(ctx: Context, body: dict[str, Any], rid: uuid.UUID | None, if_match: str | None) -> Stored:
        require(ctx, t, "create")
        assert create is not None  # noqa: S101
        return create(ctx, body, rid, if_match)

    def g_update(ctx: Context, body: dict[str, Any], rid: uuid.UUID | None, if_match: str | None) -> Stored:
        require(ctx, t, "update", rid)
        assert update is not None  # noqa: S101
        return update(ctx, body, rid, if_match)

    def g_delete(ctx: Context, rid: uuid.UUID) -> None:
        require(ctx, t, "delete", rid)
        assert delete is not None  # noqa: S101
        delete(ctx, rid)

    def g_total(ctx: Context, query: Query) -> int | None:
        require(ctx, t, "search")
        assert total is not None  # noqa: S101
        return total(ctx, query)

    return dataclasses.replace(m, search=g_search, read=g_read if read else None,
                               create=g_create if create else None, update=g_update if update else None,
                               delete=g_delete if delete else None, total=g_total if total else None)


def install(registry: Registry) -> None:
    registry.wrap(guarded)


# --- discovery and the token endpoint -------------------------------------------------------------------------

def configuration(*, issuer: str) -> dict[str, Any]:
    """`/.well-known/smart-configuration`: what exists, no more (no authorize endpoint, so no launch flows)."""
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/api/v1/auth/token",
        "token_endpoint_auth_methods_supported": ["none"],
        "grant_types_supported": ["password", "refresh_token"],
        "scopes_supported": SUPPORTED,
        "response_types_supported": [],
        "capabilities": ["client-public", "permission-patient", "permission-user", "permission-v1",
                         "permission-v2"],
        "code_challenge_methods_supported": [],
    }


router = APIRouter(prefix="/api/v1", tags=["fhir"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Unsupported grant_type or a scope this account may not have (invalid-scope)."},
    401: {"description": "Wrong username, password or TOTP code."}, 422: {"description": "Missing form fields."},
    429: {"description": "Too many failed sign-ins."}}
Field = Annotated[str | None, Form(max_length=MAX_SCOPE)]


@router.post("/auth/token", summary="OAuth-style token endpoint (form): a sign-in, optionally narrowed by SMART scopes",
             responses=_ERRORS)
def token(request: Request, session: SessionDep, settings: SettingsDep, keys: KeysDep, clock: ClockDep,
          info: RequestInfoDep, grant_type: Annotated[str, Form(max_length=40)],
          username: Annotated[str | None, Form(max_length=254)] = None,
          password: Annotated[str | None, Form(max_length=128)] = None,
          totp_code: Annotated[str | None, Form(max_length=10)] = None,
          refresh_token: Annotated[str | None, Form(max_length=200)] = None, scope: Field = None) -> dict[str, Any]:
    """`grant_type=password` with `scope` gives a narrowed token; `grant_type=refresh_token` keeps the scopes."""
    now = clock.now()
    if grant_type == "refresh_token":
        if not refresh_token:
            raise _bad("refresh_token is required with grant_type=refresh_token", "invalid-request")
        result = identity.refresh(session, refresh_token=refresh_token, settings=settings, keys=keys, now=now)
    elif grant_type == "password":
        if not username or not password:
            raise _bad("username and password are required with grant_type=password", "invalid-request")
        wanted = " ".join(scope.split()) if scope and scope.strip() else None
        if wanted is not None:
            try:
                parse(wanted)
            except ValueError as exc:
                raise _bad(str(exc), "invalid-scope") from None
        result = identity.login(session, username=username, password=password, totp_code=totp_code, kind="api",
                                client_address=info.client_address, user_agent=request.headers.get("user-agent"),
                                settings=settings, keys=keys, now=now, scope=wanted)
        if wanted is not None:
            try:
                check_for(Principal(user_id=result.user_id, role=result.role), wanted)
            except ValueError as exc:  # the account may not hold these scopes: end the sign-in just made
                identity.logout(session, Principal(user_id=result.user_id, role=result.role,
                                                   session_id=result.session_id), now=now)
                raise _bad(str(exc), "invalid-scope") from None
    else:
        raise _bad("grant_type must be password or refresh_token", "unsupported-grant-type")
    granted = result.scope
    out: dict[str, Any] = {"access_token": result.access_token, "token_type": "bearer",
                           "expires_in": result.expires_in, "refresh_token": result.refresh_token}
    if granted:
        out["scope"] = granted
    if result.role is Role.patient and result.user.patient_id is not None:
        out["patient"] = str(result.user.patient_id)
    return out


def _bad(detail: str, slug: str) -> Problem:
    return Problem(detail, status=400, slug=slug, title="Token request refused")

