"""JSON API of the audit context: read-only by design (no route updates or deletes an entry)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from carebridge.contexts.audit import service
from carebridge.contexts.audit.schemas import AccessLogPage, AuditEntryFilter, AuditEntryPage, AuditVerifyRead
from carebridge.contexts.identity import CurrentPrincipal
from carebridge.kernel.deps import ClockDep, KeysDep, SessionDep, SettingsDep
from carebridge.kernel.errors import PROBLEM_MEDIA_TYPE, ValidationProblem
from carebridge.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["audit"])

_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["type", "title", "status", "detail"],
}
_PROBLEM_TEXT = {
    401: "Not signed in, or the token is invalid or expired.",
    403: "Signed in, but not allowed (role, relationship to the patient, or two-factor sign-in missing).",
    422: "A query parameter is invalid (the `errors` list names it).",
}


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        s: {"description": _PROBLEM_TEXT[s], "content": {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_SCHEMA}}}
        for s in statuses
    }


def _limit(limit: int | None, settings: Settings) -> int:
    if limit is None:
        return settings.default_page_size
    if limit > settings.max_page_size:
        raise ValidationProblem(
            f"limit: at most {settings.max_page_size} items per page",
            errors=[{"field": "limit", "in": "query", "message": f"must be at most {settings.max_page_size}"}],
        )
    return limit


Cursor = Annotated[str | None, Query(max_length=512, description="`next_cursor` from the previous page.")]
Limit = Annotated[int | None, Query(ge=1, le=1000, description="Items per page (server default and maximum apply).")]


@router.get(
    "/me/access-log",
    response_model=AccessLogPage,
    summary="Who accessed my record, and when",
    responses=_problems(401, 403, 422),
)
def my_access_log(
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    settings: SettingsDep,
    patient_id: Annotated[
        uuid.UUID | None, Query(description="Caregivers: the linked patient (required). Patients: omit.")
    ] = None,
    include_self: Annotated[bool, Query(description="`false` hides your own accesses.")] = True,
    cursor: Cursor = None,
    limit: Limit = None,
) -> AccessLogPage:
    """Every read and change of the record, newest first: when, who (user, role, organization), what,
    why (purpose of use) and whether it was allowed. Viewing this log is itself recorded."""
    return service.access_log(session, principal, patient_id=patient_id, include_self=include_self, cursor=cursor,
                              limit=_limit(limit, settings), now=clock.now())


@router.get(
    "/audit/entries",
    response_model=AuditEntryPage,
    summary="Search the audit trail (administrators)",
    responses=_problems(401, 403, 422),
)
def list_audit_entries(
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    settings: SettingsDep,
    patient_id: Annotated[uuid.UUID | None, Query(description="Entries about this patient.")] = None,
    user_id: Annotated[uuid.UUID | None, Query(description="Entries by this user.")] = None,
    action: Annotated[str | None, Query(max_length=32, description="e.g. read, update, search.")] = None,
    resource_type: Annotated[str | None, Query(max_length=64)] = None,
    outcome: Annotated[str | None, Query(max_length=16, description="success, denied or failure.")] = None,
    since: Annotated[datetime | None, Query(description="At or after this instant (ISO 8601 with zone).")] = None,
    until: Annotated[datetime | None, Query(description="Before this instant (ISO 8601 with zone).")] = None,
    cursor: Cursor = None,
    limit: Limit = None,
) -> AuditEntryPage:
    """Needs `audit:read` (and the admin's second factor when required). An admin sees the entries of
    their organization's staff and the entries about patients their organization cares for. Each
    patient on the returned page gets an audit entry recording this search."""
    filters = AuditEntryFilter(patient_id=patient_id, user_id=user_id, action=action, resource_type=resource_type,
                               outcome=outcome, since=since, until=until)
    return service.list_entries(session, principal, filters=filters, cursor=cursor, limit=_limit(limit, settings),
                                now=clock.now())


@router.get(
    "/audit/verify",
    response_model=AuditVerifyRead,
    summary="Walk the audit chain and report the first broken link",
    responses=_problems(401, 403),
)
def verify_audit_chain(
    session: SessionDep, principal: CurrentPrincipal, clock: ClockDep, keys: KeysDep
) -> AuditVerifyRead:
    """Needs `audit:verify`. A broken chain is still a 200 answer: `ok` is false and `first_broken_seq`
    names the lowest entry that cannot be trusted. Reads the whole trail; the CLI
    (`carebridge audit verify`) does the same in short transactions for large trails."""
    signer = service.AuditSigner(keys.signing_key)
    return service.verify_report(session, principal, public_key=keys.public_key, public_key_hex=signer.public_key_hex,
                                 now=clock.now())
