"""JSON API of consent: "who can see my record", grant, restrict, revoke, and break-glass. Thin over `service`."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from carebridge.contexts.consent import service
from carebridge.contexts.consent.merge import move_consents
from carebridge.contexts.consent.schemas import BreakGlassCreate, ConsentCreate, ConsentOverview, ConsentRead
from carebridge.contexts.identity import CurrentPrincipal
from carebridge.kernel.deps import ClockDep, SessionDep, SettingsDep

router = APIRouter(prefix="/api/v1", tags=["consent"])
MERGE_HANDLER = move_consents  # registered with the patients context when this module is imported


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {}}}


READ_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _problem("Not signed in"),
    403: _problem("Only the patient, or a caregiver they allowed to manage consent, may do this"),
    404: _problem("No such patient (or consent)"),
    422: _problem("Invalid input: an expiry in the past, an unknown grantee, ... (field path in `errors`)"),
}
REVOKE_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS, 409: _problem("Break-glass access is not consent and cannot be revoked")}
GLASS_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _problem("Not signed in"),
    403: _problem("Only clinicians may break the glass"),
    404: _problem("No such patient"),
    422: _problem("Invalid input: a reason of at least 10 characters is required (field path in `errors`)"),
}


@router.get("/patients/{patient_id}/consents", summary="Who can see this patient's record (the patient's view)",
            response_model=ConsentOverview, responses=READ_ERRORS)
def list_consents(patient_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                  include_inactive: Annotated[bool, Query()] = False) -> ConsentOverview:
    return service.list_consents(session, principal, patient_id=patient_id, now=clock.now(),
                                 include_inactive=include_inactive)


@router.post("/patients/{patient_id}/consents", summary="Grant or withhold access to parts of the record",
             status_code=status.HTTP_201_CREATED, response_model=ConsentRead, responses=READ_ERRORS)
def grant(patient_id: uuid.UUID, body: ConsentCreate, session: SessionDep, principal: CurrentPrincipal,
          clock: ClockDep) -> ConsentRead:
    return service.grant_consent(session, principal, patient_id=patient_id, body=body, now=clock.now())


@router.post("/patients/{patient_id}/consents/{consent_id}/revoke",
             summary="Revoke a grant or a restriction (effective at once)", response_model=ConsentRead,
             responses=REVOKE_ERRORS)
def revoke(patient_id: uuid.UUID, consent_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
           clock: ClockDep) -> ConsentRead:
    return service.revoke_consent(session, principal, patient_id=patient_id, consent_id=consent_id, now=clock.now())


@router.post("/patients/{patient_id}/break-glass",
             summary="Emergency access without consent: time-boxed, audited, and the patient is told",
             status_code=status.HTTP_201_CREATED, response_model=ConsentRead, responses=GLASS_ERRORS)
def break_glass(patient_id: uuid.UUID, body: BreakGlassCreate, session: SessionDep, principal: CurrentPrincipal,
                clock: ClockDep, settings: SettingsDep) -> ConsentRead:
    return service.break_glass(session, principal, patient_id=patient_id, body=body, now=clock.now(),
                               default_minutes=settings.consent_break_glass_minutes)
