"""JSON API of the patients context: thin over the service; errors are problem+json.

`X-Purpose-Of-Use` (treatment, payment, operations, emergency, research, patient_request, …) is
recorded on every audit entry; without it staff act for treatment, a patient on their own request and a
caregiver on the family's. Updates need the version read, as `version` in the
body or `If-Match: "<version>"` (the ETag of GET). `POST /patients?force=true` registers a patient
even when possible duplicates exist (the 409 `possible-duplicate` answer lists them).
"""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response, status

from carebridge.contexts.identity import CurrentPrincipal, ReadAccessDep
from carebridge.contexts.patients import merge, search, service
from carebridge.contexts.patients.schemas import (
    DeactivateRequest,
    EmergencyContactIn,
    EmergencyContactRead,
    IdentifierIn,
    IdentifierRead,
    MergeRequest,
    PatientCreate,
    PatientPage,
    PatientRead,
    PatientUpdate,
    PurposeOfUse,
)
from carebridge.kernel.deps import ClockDep, SessionDep
from carebridge.kernel.errors import ValidationProblem
from carebridge.kernel.pagination import resolve_limit
from carebridge.kernel.text import NoControl
from carebridge.security import Principal, Role
from carebridge.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["patients"])


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {}}}


ERRORS: dict[int | str, dict[str, Any]] = {
    401: _problem("Not signed in."),
    403: _problem("The policy refuses this caller (recorded in the audit trail)."),
    404: _problem("No such patient."),
    422: _problem("Invalid input; `errors` lists the fields."),
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS, 409: _problem("Identifier in use, possible duplicate, stale version, or merged/inactive patient."),
}
UPDATE_ERRORS: dict[int | str, dict[str, Any]] = {
    **WRITE_ERRORS,
    412: _problem("If-Match does not match the current version."),
    428: _problem("Neither `version` nor If-Match was sent."),
}

_DEFAULT_PURPOSE = {Role.patient: PurposeOfUse.patient_request, Role.caregiver: PurposeOfUse.family_request}


PurposeHeader = Annotated[PurposeOfUse | None, Header(alias="X-Purpose-Of-Use",
                                                     description="Why the data is reached (HL7 PurposeOfUse).")]


def resolve_purpose(principal: Principal, value: PurposeOfUse | None) -> str:
    return (value or _DEFAULT_PURPOSE.get(principal.role, PurposeOfUse.treatment)).value


async def purpose_of_use(principal: CurrentPrincipal, value: PurposeHeader = None) -> str:
    return resolve_purpose(principal, value)


Purpose = Annotated[str, Depends(purpose_of_use)]
Clean = Annotated[str, NoControl]
_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')


def page_limit(limit: int | None, settings: Settings) -> int:
    return resolve_limit(limit, default=settings.default_page_size, maximum=settings.max_page_size)


def _if_match(value: str | None) -> int | None:
    if value is None:
        return None
    m = _ETAG.match(value)
    if not m:
        msg = 'must be the ETag you read, e.g. "3"'
        raise ValidationProblem(f"If-Match: {msg}", errors=[{"field": "If-Match", "in": "header", "message": msg}])
    return int(m.group(1))


def _etag(response: Response, patient: PatientRead) -> PatientRead:
    response.headers["ETag"] = f'"{patient.version}"'
    return patient


@router.post("/patients", summary="Register a patient", status_code=status.HTTP_201_CREATED,
             response_model=PatientRead, responses=WRITE_ERRORS)
def create_patient(
    data: PatientCreate, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep, response: Response,
    purpose: Purpose,
    force: Annotated[bool, Query(description="Register even if possible duplicates exist.")] = False,
) -> PatientRead:
    created = service.create_patient(session, principal, data=data, now=clock.now(), force=force,
                                     purpose=purpose)
    response.headers["Location"] = f"/api/v1/patients/{created.id}"
    return _etag(response, created)


def _json(model: PatientRead | PatientPage, headers: dict[str, str] | None = None) -> Response:
    """Serialised once, by pydantic's own serialiser: FastAPI would validate the returned model again first."""
    return Response(model.model_dump_json(by_alias=True), media_type="application/json", headers=headers)


# The two read routes below are the hottest in the service: one dependency (read-only transaction,
# caller, group-committed audit entries) and direct serialisation; see docs/performance.md.


@router.get("/patients", summary="Search the patients you may see", response_model=PatientPage, responses=ERRORS)
async def search_patients(
    request: Request, access: ReadAccessDep, x_purpose: PurposeHeader = None,
    name: Annotated[Clean | None, Query(min_length=1, max_length=100,
                                      description="Words matched as prefixes, ignoring case, accents and script.")]
    = None,
    identifier: Annotated[Clean | None, Query(min_length=1, max_length=301,
                                            description="`system|value`, or a value in any system.")] = None,
    birth_date: Annotated[date | None, Query(description="Exact birth date, YYYY-MM-DD.")] = None,
    phone: Annotated[Clean | None, Query(min_length=1, max_length=32,
                                       description="Compared by its last 10 digits.")] = None,
    include_inactive: bool = False,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int | None, Query(ge=1, description="Page size; at most the server's max_page_size.")] = None,
) -> Response:
    query = search.PatientQuery(name=name, identifier=identifier, birth_date=birth_date, phone=phone,
                                include_inactive=include_inactive)
    state = request.app.state
    page = search.search_patients(access.session, access.principal, query=query,
                                  limit=page_limit(limit, state.settings), cursor=cursor, now=state.clock.now(),
                                  purpose=resolve_purpose(access.principal, x_purpose))
    return _json(page)


@router.get("/patients/{patient_id}", summary="Read a patient (merged ones carry merged_into_id)",
            response_model=PatientRead, responses=ERRORS)
async def get_patient(patient_id: uuid.UUID, request: Request, access: ReadAccessDep,
                      x_purpose: PurposeHeader = None) -> Response:
    purpose = resolve_purpose(access.principal, x_purpose)
    patient = service.get_patient(access.session, access.principal, patient_id=patient_id,
                                  now=request.app.state.clock.now(), purpose=purpose)
    return _json(patient, {"ETag": f'"{patient.version}"'})


@router.patch("/patients/{patient_id}", summary="Change a patient (needs version or If-Match)",
              response_model=PatientRead, responses=UPDATE_ERRORS)
def update_patient(
    patient_id: uuid.UUID, data: PatientUpdate, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
    response: Response, purpose: Purpose,
    if_match: Annotated[str | None, Header(alias="If-Match", max_length=40)] = None,
) -> PatientRead:
    return _etag(response, service.update_patient(session, principal, patient_id=patient_id, data=data,
                                                  now=clock.now(), if_match=_if_match(if_match),
                                                  purpose=purpose))


@router.post("/patients/{patient_id}/deactivate", summary="Deactivate a patient (records are never deleted)",
             response_model=PatientRead, responses=WRITE_ERRORS)
def deactivate_patient(
    patient_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep, response: Response,
    purpose: Purpose,
    data: Annotated[DeactivateRequest | None, Body()] = None,
) -> PatientRead:
    return _etag(response, service.deactivate_patient(session, principal, patient_id=patient_id,
                                                      data=data or DeactivateRequest(), now=clock.now(),
                                                      purpose=purpose))


@router.post("/patients/{patient_id}/merge", summary="Merge this patient into another (front desk, admin)",
             response_model=PatientRead, responses=WRITE_ERRORS)
def merge_patient(patient_id: uuid.UUID, data: MergeRequest, session: SessionDep, principal: CurrentPrincipal,
                  clock: ClockDep, response: Response, purpose: Purpose) -> PatientRead:
    return _etag(response, merge.merge_patients(session, principal, source_id=patient_id, target_id=data.into,
                                                now=clock.now(), purpose=purpose))


@router.get("/patients/{patient_id}/identifiers", summary="List a patient's identifiers",
            response_model=list[IdentifierRead], responses=ERRORS)
def list_identifiers(patient_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                     purpose: Purpose) -> list[IdentifierRead]:
    return service.list_identifiers(session, principal, patient_id=patient_id, now=clock.now(), purpose=purpose)


@router.post("/patients/{patient_id}/identifiers", summary="Add an identifier to a patient",
             status_code=status.HTTP_201_CREATED, response_model=IdentifierRead, responses=WRITE_ERRORS)
def add_identifier(patient_id: uuid.UUID, data: IdentifierIn, session: SessionDep, principal: CurrentPrincipal,
                   clock: ClockDep, purpose: Purpose) -> IdentifierRead:
    return service.add_identifier(session, principal, patient_id=patient_id, data=data, now=clock.now(),
                                  purpose=purpose)


@router.delete("/patients/{patient_id}/identifiers/{identifier_id}", summary="Remove an identifier from a patient",
               status_code=status.HTTP_204_NO_CONTENT, response_class=Response, responses=WRITE_ERRORS)
def remove_identifier(patient_id: uuid.UUID, identifier_id: uuid.UUID, session: SessionDep,
                      principal: CurrentPrincipal, clock: ClockDep,
                      purpose: Purpose) -> Response:
    service.remove_identifier(session, principal, patient_id=patient_id, identifier_id=identifier_id,
                              now=clock.now(), purpose=purpose)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/patients/{patient_id}/emergency-contacts", summary="List a patient's emergency contacts",
            response_model=list[EmergencyContactRead], responses=ERRORS)
def list_contacts(patient_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                  purpose: Purpose) -> list[EmergencyContactRead]:
    return service.list_contacts(session, principal, patient_id=patient_id, now=clock.now(), purpose=purpose)


@router.post("/patients/{patient_id}/emergency-contacts", summary="Add an emergency contact",
             status_code=status.HTTP_201_CREATED, response_model=EmergencyContactRead, responses=WRITE_ERRORS)
def add_contact(patient_id: uuid.UUID, data: EmergencyContactIn, session: SessionDep, principal: CurrentPrincipal,
                clock: ClockDep, purpose: Purpose) -> EmergencyContactRead:
    return service.add_contact(session, principal, patient_id=patient_id, data=data, now=clock.now(),
                               purpose=purpose)


@router.delete("/patients/{patient_id}/emergency-contacts/{contact_id}", summary="Remove an emergency contact",
               status_code=status.HTTP_204_NO_CONTENT, response_class=Response, responses=WRITE_ERRORS)
def remove_contact(patient_id: uuid.UUID, contact_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                   clock: ClockDep, purpose: Purpose) -> Response:
    service.remove_contact(session, principal, patient_id=patient_id, contact_id=contact_id, now=clock.now(),
                           purpose=purpose)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
