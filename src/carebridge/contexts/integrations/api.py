"""Admin JSON API for integration API keys: issue (the key is shown once), list, revoke."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, status

from carebridge.contexts.identity import CurrentPrincipal
from carebridge.contexts.integrations import service
from carebridge.contexts.integrations.schemas import ApiKeyCreate, ApiKeyIssued, ApiKeyList, ApiKeyRead
from carebridge.kernel.deps import ClockDep, SessionDep
from carebridge.kernel.errors import PROBLEM_MEDIA_TYPE

router = APIRouter(prefix="/api/v1", tags=["integrations"])

_TEXT = {
    401: "Not signed in, or the token is invalid or expired.",
    403: "Only administrators (with two-factor sign-in) manage API keys.",
    404: "No such API key.",
    422: "A field is invalid (the `errors` list names it).",
}


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"description": _TEXT[c], "content": {PROBLEM_MEDIA_TYPE: {}}} for c in codes}


@router.post("/api-keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyIssued,
             summary="Issue an API key for an integrating app (the key is shown only in this answer)",
             responses=_problems(401, 403, 422))
def issue_key(data: ApiKeyCreate, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> ApiKeyIssued:
    return service.issue_key(session, principal, data=data, now=clock.now())


@router.get("/api-keys", response_model=ApiKeyList, summary="List API keys (never their secrets)",
            responses=_problems(401, 403))
def list_keys(session: SessionDep, principal: CurrentPrincipal) -> ApiKeyList:
    return service.list_keys(session, principal)


@router.delete("/api-keys/{key_id}", response_model=ApiKeyRead, summary="Revoke an API key at once",
               responses=_problems(401, 403, 404, 422))
def revoke_key(key_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> ApiKeyRead:
    return service.revoke_key(session, principal, key_id=key_id, now=clock.now())
