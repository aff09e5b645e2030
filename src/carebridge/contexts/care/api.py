"""JSON API of care requests, and the compatibility brokering routes `/diagnose` and `/geo`."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, status

from carebridge.contexts.care import compat, service
from carebridge.contexts.care.compat_schemas import DiagnoseRequest, DiagnoseResponse, GeoRequest, GeoResponse
from carebridge.contexts.care.config import CareConfig, config_from
from carebridge.contexts.care.schemas import CareRequestCreate, CareRequestRead
from carebridge.contexts.identity import CurrentPrincipal, OptionalPrincipal
from carebridge.contexts.integrations import ApiClientDep
from carebridge.kernel.deps import ClockDep, RequestInfoDep, SessionDep, SettingsDep
from carebridge.kernel.errors import PROBLEM_MEDIA_TYPE

router = APIRouter(prefix="/api/v1", tags=["care"])
compat_router = APIRouter(tags=["compat"])

_TEXT = {
    401: "Not signed in (or, on /diagnose and /geo: no API key, or an unknown or revoked one).",
    403: "Not allowed: the patient's record is not yours to reach, or the API key lacks the scope.",
    404: "No such care request or query (it may have expired).",
    409: "The care request is not linked to a patient, so it cannot be saved to a record.",
    422: "A field is invalid (the `errors` list names it by path, e.g. `location.lat`).",
    429: "Too many requests (anonymous per client address, or per API key); wait `Retry-After` seconds.",
    503: "The configured remote facility provider did not answer.",
}


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"description": _TEXT[c], "content": {PROBLEM_MEDIA_TYPE: {}}} for c in codes}


async def care_config(settings: SettingsDep) -> CareConfig:
    return config_from(settings)


CareConfigDep = Annotated[CareConfig, Depends(care_config)]


@router.post("/care-requests", status_code=status.HTTP_201_CREATED, response_model=CareRequestRead,
             summary="Triage symptoms and find matching facilities nearby, with next steps",
             responses=_problems(401, 403, 404, 422, 429, 503))
def create_care_request(data: CareRequestCreate, session: SessionDep, principal: OptionalPrincipal,
                        clock: ClockDep, info: RequestInfoDep, config: CareConfigDep) -> CareRequestRead:
    """Anyone may ask; without signing in the requests per client address are limited. A signed-in
    patient's request is linked to their record (and may be saved there); it is otherwise deleted after
    the configured TTL."""
    return service.create_care_request(session, principal, data=data, client_address=info.client_address,
                                       config=config, now=clock.now())


@router.get("/care-requests/{request_id}", response_model=CareRequestRead, summary="Read a care request back",
            responses=_problems(401, 403, 404, 422))
def get_care_request(request_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                     clock: ClockDep) -> CareRequestRead:
    return service.get_care_request(session, principal, request_id=request_id, now=clock.now())


@router.post("/care-requests/{request_id}/save", response_model=CareRequestRead,
             summary="Save a care request to the patient's record (it is then never purged)",
             responses=_problems(401, 403, 404, 409, 422))
def save_care_request(request_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                      clock: ClockDep) -> CareRequestRead:
    return service.save_care_request(session, principal, request_id=request_id, now=clock.now())


@compat_router.post("/diagnose", status_code=status.HTTP_201_CREATED, response_model=DiagnoseResponse,
                    summary="Compatibility: store a symptom query for an app (API key, scope care:diagnose)",
                    responses=_problems(401, 403, 422, 429))
def diagnose(data: DiagnoseRequest, client: ApiClientDep, session: SessionDep, clock: ClockDep,
             config: CareConfigDep) -> DiagnoseResponse:
    return compat.diagnose(session, client, data=data, config=config, now=clock.now())


@compat_router.post("/geo", response_model=GeoResponse,
                    summary="Compatibility: ranked facilities for a stored query (API key, scope care:geo)",
                    responses=_problems(401, 403, 404, 422, 429, 503))
def geo(data: GeoRequest, client: ApiClientDep, session: SessionDep, clock: ClockDep,
        config: CareConfigDep) -> GeoResponse:
    return compat.geo(session, client, data=data, config=config, now=clock.now())
