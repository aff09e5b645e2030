"""JSON API of the facilities context: public search and reads, admin writes, staff beds and hours."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from carebridge.contexts.facilities import exporters, importers, search, service
from carebridge.contexts.facilities.schemas import (
    MAX_RADIUS_KM,
    MAX_SEARCH_LIMIT,
    BedsUpdate,
    FacilityCreate,
    FacilityPage,
    FacilityRead,
    FacilitySearch,
    FacilitySearchResult,
    FacilityType,
    FacilityUpdate,
    HoursUpdate,
    ImportReport,
    Ownership,
)
from carebridge.contexts.identity import CurrentPrincipal
from carebridge.kernel.deps import ClockDep, DatabaseDep, SessionDep, SettingsDep
from carebridge.kernel.errors import PROBLEM_MEDIA_TYPE, PayloadTooLarge, ValidationProblem

router = APIRouter(prefix="/api/v1", tags=["facilities"])

IMPORT_PATH = "/api/v1/facilities/import"
"""The one route whose body may exceed CAREBRIDGE_MAX_BODY_BYTES, up to CAREBRIDGE_FACILITY_IMPORT_MAX_BYTES."""

_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"type": {"type": "string", "format": "uri"}, "title": {"type": "string"},
                   "status": {"type": "integer"}, "detail": {"type": "string"}, "instance": {"type": "string"},
                   "errors": {"type": "array", "items": {"type": "object"}}},
    "required": ["type", "title", "status", "detail"],
}
_PROBLEM_TEXT = {
    401: "Not signed in, or the token is invalid or expired.",
    403: "Signed in, but not allowed: the role lacks the permission, or the facility belongs to another "
         "organization, or an administrator has not set up two-factor sign-in.",
    404: "No such facility.",
    409: "Conflict: another facility has this external_id, or the facility changed since you read it.",
    413: "The upload is larger than the server accepts.",
    422: "A parameter or a field is invalid (the `errors` list names it).",
}


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"description": _PROBLEM_TEXT[s], "content": {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_SCHEMA}}}
            for s in statuses}


_QUERY_NAMES = {"open_at": "at", "types": "type"}


def _invalid(exc: ValidationError, where: str = "query") -> ValidationProblem:
    """Name the query parameter the client sent, not the DTO field behind it."""
    errors = []
    for e in exc.errors():
        field = ".".join(str(p) for p in e.get("loc", ())) or where
        errors.append({"field": _QUERY_NAMES.get(field, field), "in": where, "message": e.get("msg", "")})
    first = errors[0] if errors else {"field": where, "message": "invalid"}
    return ValidationProblem(f"{first['field']}: {first['message']}", errors=errors)


@router.get("/facilities/search", response_model=FacilitySearchResult, summary="Find the nearest matching facilities",
            responses=_problems(422))
def search_facilities(
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    lat: Annotated[float, Query(ge=-90, le=90, description="Search point latitude (WGS 84).")],
    lng: Annotated[float, Query(ge=-180, le=180, description="Search point longitude (WGS 84).")],
    radius_km: Annotated[float, Query(gt=0, le=MAX_RADIUS_KM, description="Search radius.")] = 25.0,
    limit: Annotated[int, Query(ge=1, le=MAX_SEARCH_LIMIT, description="How many facilities at most.")] = 10,
    specialty: Annotated[str | None, Query(max_length=50, description="A specialty code, e.g. cardiology.")] = None,
    service_code: Annotated[str | None, Query(alias="service", max_length=50,
                                              description="A service code, e.g. radiology.")] = None,
    open_now: Annotated[bool, Query(description="Only facilities open now.")] = False,
    at: Annotated[datetime | None, Query(description="Only facilities open at this instant (with offset).")] = None,
    emergency: Annotated[bool | None, Query(description="Only (or never) emergency facilities.")] = None,
    ownership: Annotated[Ownership | None, Query()] = None,
    insurance: Annotated[str | None, Query(max_length=40, description="A scheme, e.g. pmjay, cghs, esi.")] = None,
    type_: Annotated[list[FacilityType] | None, Query(alias="type", max_length=len(FacilityType),
                                                      description="Facility types (repeatable).")] = None,
) -> FacilitySearchResult:
    """Nearest first by great-circle distance, with a rough travel time. Public: no sign-in needed,
    and the position asked about is not stored."""
    try:
        query = FacilitySearch(lat=lat, lng=lng, radius_km=radius_km, limit=limit, specialty=specialty,
                               service=service_code, open_at=at if at is not None else (
                                   clock.now() if open_now else None),
                               emergency=emergency, ownership=ownership, insurance=insurance, types=type_ or [])
    except ValidationError as exc:
        raise _invalid(exc) from exc
    return search.search_facilities(session, query=query, road_factor=settings.facility_road_factor,
                                    average_speed_kmh=settings.facility_average_speed_kmh)


@router.get("/facilities", response_model=FacilityPage, summary="List facilities by name",
            responses=_problems(422))
def list_facilities(
    session: SessionDep,
    settings: SettingsDep,
    cursor: Annotated[str | None, Query(max_length=512, description="`next_cursor` of the previous page.")] = None,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    type_: Annotated[FacilityType | None, Query(alias="type")] = None,
    organization_id: Annotated[uuid.UUID | None, Query()] = None,
) -> FacilityPage:
    size = limit or settings.default_page_size
    if size > settings.max_page_size:
        raise ValidationProblem(f"limit: at most {settings.max_page_size} items per page",
                                errors=[{"field": "limit", "in": "query", "message": "too large"}])
    return service.list_facilities(session, limit=size, cursor=cursor, type_=type_, organization_id=organization_id)


@router.post("/facilities", response_model=FacilityRead, status_code=201, summary="Register a facility (admin)",
             responses=_problems(401, 403, 409, 422))
def create_facility(session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                    body: FacilityCreate) -> FacilityRead:
    return service.create_facility(session, principal, data=body, now=clock.now())


@router.get("/facilities/export", summary="Export every facility as CSV, GeoJSON or a FHIR bundle (admin)",
            responses={**_problems(401, 403, 422),
                       200: {"description": "The file, streamed.",
                             "content": {m: {} for m in exporters.MEDIA_TYPES.values()}}})
def export_facilities(
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    database: DatabaseDep,
    format_: Annotated[Literal["csv", "geojson", "fhir"], Query(alias="format")] = "csv",
) -> StreamingResponse:
    service.record_export(session, principal, fmt=format_, now=clock.now())

    def chunks() -> Iterator[str]:
        # its own read transaction: the request's ends before the body streams
        with database.unit_of_work() as reader:
            yield from exporters.export(format_, service.iter_facilities(reader))

    name = f"facilities.{exporters.EXTENSIONS[format_]}"
    return StreamingResponse(chunks(), media_type=exporters.MEDIA_TYPES[format_],
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/facilities/import", response_model=ImportReport,
             summary="Import facilities from CSV, GeoJSON or a FHIR bundle (admin)",
             responses=_problems(401, 403, 413, 422))
def import_facilities(
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="The file to import.")],
    format_: Annotated[Literal["csv", "geojson", "fhir"], Form(alias="format")] = "csv",
    profile: Annotated[str | None, Form(max_length=32, description="CSV column profile: carebridge, hifld.")] = None,
    time_zone: Annotated[str, Form(max_length=64, description="Zone of hours given without one.")] =
        importers.DEFAULT_TIME_ZONE,
) -> ImportReport:
    """Upserts by external_id in one transaction and reports every refused record with its line and reason."""
    service.require_import(principal)
    limit = settings.facility_import_max_bytes
    raw = file.file.read(limit + 1)
    if len(raw) > limit:
        raise PayloadTooLarge(f"imports through the API are limited to {limit} bytes; "
                              "use `carebridge facilities import` for larger files")
    try:
        used, records, notes = importers.read(format_, raw, profile=profile, default_time_zone=time_zone)
        return service.import_facilities(session, principal, fmt=format_, profile=used, records=records,
                                         notes=notes, now=clock.now())
    except importers.ImportFormatError as exc:
        raise ValidationProblem(str(exc), errors=[{"field": "file", "in": "body", "message": str(exc)}]) from exc


@router.get("/facilities/{facility_id}", response_model=FacilityRead, summary="Read one facility",
            responses=_problems(404, 422))
def get_facility(session: SessionDep, facility_id: uuid.UUID) -> FacilityRead:
    return service.get_facility(session, facility_id=facility_id)


@router.patch("/facilities/{facility_id}", response_model=FacilityRead, summary="Change a facility (admin)",
              responses=_problems(401, 403, 404, 409, 422))
def update_facility(session: SessionDep, principal: CurrentPrincipal, clock: ClockDep, facility_id: uuid.UUID,
                    body: FacilityUpdate) -> FacilityRead:
    return service.update_facility(session, principal, facility_id=facility_id, data=body, now=clock.now())


@router.delete("/facilities/{facility_id}", response_model=FacilityRead,
               summary="Deactivate a facility: searches stop finding it (admin)",
               responses=_problems(401, 403, 404, 422))
def deactivate_facility(session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                        facility_id: uuid.UUID) -> FacilityRead:
    return service.deactivate_facility(session, principal, facility_id=facility_id, now=clock.now())


@router.patch("/facilities/{facility_id}/beds", response_model=FacilityRead,
              summary="Report beds now available (staff of the facility's organization)",
              responses=_problems(401, 403, 404, 422))
def update_beds(session: SessionDep, principal: CurrentPrincipal, clock: ClockDep, facility_id: uuid.UUID,
                body: BedsUpdate) -> FacilityRead:
    return service.update_beds(session, principal, facility_id=facility_id, data=body, now=clock.now())


@router.patch("/facilities/{facility_id}/hours", response_model=FacilityRead,
              summary="Change opening hours and exceptions (staff of the facility's organization)",
              responses=_problems(401, 403, 404, 409, 422))
def update_hours(session: SessionDep, principal: CurrentPrincipal, clock: ClockDep, facility_id: uuid.UUID,
                 body: HoursUpdate) -> FacilityRead:
    return service.update_hours(session, principal, facility_id=facility_id, data=body, now=clock.now())
