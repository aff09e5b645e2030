"""The FHIR R4 REST facade at /fhir/R4: thin over the mappers in the registry.

Every failure leaves as an OperationOutcome (`FhirRoute` catches what the services and FastAPI raise,
after the request's transaction has rolled back). Authentication is the REST API's bearer token;
the mappers call the contexts' services, so policy and audit are the ones the REST API applies.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from email.utils import format_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from carebridge.contexts.identity import CurrentPrincipal
from carebridge.contexts.patients import PurposeOfUse
from carebridge.fhir import capability, outcome, search
from carebridge.fhir.mappers import REGISTRY
from carebridge.fhir.outcome import FHIR_JSON, FhirError
from carebridge.fhir.registry import Context, Mapper, Stored
from carebridge.kernel.deps import ClockDep, SessionDep
from carebridge.kernel.errors import Problem
from carebridge.security import Principal, Role

BASE_PATH = "/fhir/R4"
_FORMATS = {"json", "application/json", "application/fhir+json"}
_DEFAULT_PURPOSE = {Role.patient: PurposeOfUse.patient_request, Role.caregiver: PurposeOfUse.family_request}


class FhirRoute(APIRoute):
    """Turns every error raised while handling a FHIR request into an OperationOutcome."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                _check_format(request)
                return await handler(request)
            except FhirError as exc:
                return outcome.response(exc)
            except Problem as exc:
                return outcome.response(outcome.from_problem(exc))
            except RequestValidationError as exc:
                return outcome.response(outcome.from_validation(exc))
            except HTTPException as exc:
                return outcome.response(FhirError(exc.status_code, str(exc.detail)[:500],
                                                  headers=dict(exc.headers or {})))
        return handle


def _check_format(request: Request) -> None:
    fmt = request.query_params.get("_format")
    if fmt is not None and fmt not in _FORMATS:
        raise FhirError(406, "only JSON is served: _format=json or application/fhir+json", code="not-supported")
    accept = request.headers.get("accept", "")
    if accept and not any(t in accept for t in ("json", "*/*")):
        raise FhirError(406, "only application/fhir+json (or application/json) is served", code="not-supported")


def _media(request: Request) -> str:
    accept = request.headers.get("accept", "")
    plain = "application/json" in accept and "fhir+json" not in accept
    return "application/json" if plain or request.query_params.get("_format") == "application/json" else FHIR_JSON


def _json(request: Request, body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, media_type=_media(request), headers=headers)


def _stored(request: Request, stored: Stored, status: int = 200, location: str | None = None) -> Response:
    headers = {"ETag": f'W/"{stored.version}"', "Last-Modified": format_datetime(stored.last_updated, usegmt=True)}
    if location:
        headers["Location"] = location
    return _json(request, stored.body, status, headers)


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + BASE_PATH


def _context(session: Any, principal: Principal, clock: Any, purpose: str | None) -> Context:
    try:
        chosen = PurposeOfUse(purpose) if purpose else _DEFAULT_PURPOSE.get(principal.role, PurposeOfUse.treatment)
    except ValueError:
        raise FhirError(400, "X-Purpose-Of-Use is not a known purpose of use", code="invalid",
                        expression=["X-Purpose-Of-Use"]) from None
    return Context(session=session, principal=principal, now=clock.now(), purpose=chosen.value)


def _id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise outcome.not_found(f"no resource with id {value[:64]!r}") from None


def _if_match(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 9:
        raise FhirError(400, 'If-Match must be the ETag you read, e.g. W/"3"', code="invalid", expression=["If-Match"])
    return text


router = APIRouter(prefix=BASE_PATH, tags=["fhir"], route_class=FhirRoute)
well_known = APIRouter(tags=["fhir"], route_class=FhirRoute)

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {FHIR_JSON: {}}} for code, text in (
        (400, "Unsupported or malformed search parameter (OperationOutcome)."),
        (401, "Not signed in (OperationOutcome)."), (403, "Refused by the access policy; audited."),
        (404, "Unknown resource type or id."))}
_WRITE_ERRORS = {**_ERRORS, 409: {"description": "Duplicate or conflicting record."},
                 412: {"description": "If-Match does not match the current version."},
                 422: {"description": "Invalid resource; issue.expression names the element."}}
Purpose = Annotated[str | None, Header(alias="X-Purpose-Of-Use", max_length=40)]


@router.get("/metadata", summary="FHIR CapabilityStatement, generated from the mapped resource types")
def metadata(request: Request, clock: ClockDep) -> Response:
    return _json(request, capability.capability_statement(REGISTRY, base=base_url(request), now=clock.now()))


@well_known.get("/.well-known/smart-configuration", summary="SMART configuration (what exists today)")
def smart_configuration(request: Request) -> Response:
    return _json(request, capability.smart_configuration(issuer=str(request.base_url).rstrip("/")))


def _search(request: Request, mapper: Mapper, ctx: Context, raw: list[tuple[str, str]]) -> Response:
    parsed = search.parse(mapper, raw)
    total = None
    if parsed.total and mapper.total is not None:
        total = mapper.total(ctx, parsed.query)
    found = None if parsed.summary_count else mapper.search(ctx, parsed.query, parsed.count, parsed.cursor)
    if total is None and found is not None and parsed.cursor is None and found.next_cursor is None:
        total = len(found.items)  # everything fits on the first page: the count is free
    return _json(request, search.searchset(base_url(request), mapper.type, raw, parsed, found, total))


@router.get("/{resource_type}", summary="FHIR search (GET)", responses=_ERRORS)
def search_get(resource_type: str, request: Request, session: SessionDep, principal: CurrentPrincipal,
               clock: ClockDep, purpose: Purpose = None) -> Response:
    mapper = REGISTRY.get(resource_type)
    return _search(request, mapper, _context(session, principal, clock, purpose),
                   list(request.query_params.multi_items()))


@router.post("/{resource_type}/_search", summary="FHIR search (POST, form-encoded)", responses=_ERRORS)
async def search_post(resource_type: str, request: Request, session: SessionDep, principal: CurrentPrincipal,
                      clock: ClockDep, purpose: Purpose = None) -> Response:
    mapper = REGISTRY.get(resource_type)
    raw = list(request.query_params.multi_items())
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = await request.form(max_files=0, max_fields=100)
        raw += [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    return _search(request, mapper, _context(session, principal, clock, purpose), raw)


@router.get("/{resource_type}/{resource_id}", summary="FHIR read", responses=_ERRORS)
def read(resource_type: str, resource_id: str, request: Request, session: SessionDep, principal: CurrentPrincipal,
         clock: ClockDep, purpose: Purpose = None) -> Response:
    mapper = REGISTRY.get(resource_type)
    if mapper.read is None:
        raise FhirError(405, f"{resource_type} has no read by id here; search it", code="not-supported")
    return _stored(request, mapper.read(_context(session, principal, clock, purpose), _id(resource_id)))


@router.post("/{resource_type}", summary="FHIR create", status_code=201, responses=_WRITE_ERRORS)
def create(resource_type: str, body: Annotated[dict[str, Any], Body(media_type=FHIR_JSON)], request: Request,
           session: SessionDep, principal: CurrentPrincipal, clock: ClockDep, purpose: Purpose = None) -> Response:
    mapper = REGISTRY.get(resource_type)
    if mapper.create is None:
        raise FhirError(405, f"{resource_type} cannot be created through FHIR yet", code="not-supported")
    stored = mapper.create(_context(session, principal, clock, purpose), body, None, None)
    return _stored(request, stored, 201, f"{base_url(request)}/{resource_type}/{stored.body['id']}")


@router.put("/{resource_type}/{resource_id}", summary="FHIR update (If-Match versioned)", responses=_WRITE_ERRORS)
def update(resource_type: str, resource_id: str, body: Annotated[dict[str, Any], Body(media_type=FHIR_JSON)],
           request: Request, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
           purpose: Purpose = None,
           if_match: Annotated[str | None, Header(alias="If-Match", max_length=20)] = None) -> Response:
    mapper = REGISTRY.get(resource_type)
    if mapper.update is None:
        raise FhirError(405, f"{resource_type} cannot be updated through FHIR yet", code="not-supported")
    stored = mapper.update(_context(session, principal, clock, purpose), body, _id(resource_id), _if_match(if_match))
    return _stored(request, stored)


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
def unsupported(rest: str) -> Response:
    raise FhirError(404, f"/{rest[:100]} is not an interaction this server supports; see /fhir/R4/metadata",
                    code="not-supported")
