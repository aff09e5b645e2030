"""The FHIR R4 REST facade at /fhir/R4: thin routes over `fhir.interactions`, `bundle` and `everything`.

Every failure leaves as an OperationOutcome (`FhirRoute` catches what the services and FastAPI raise
and rolls back the endpoint's SAVEPOINT first, see `fhir.unit`). Authentication is the REST API's
bearer token; the mappers call the contexts' services, so policy and audit are the ones the REST API applies.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from email.utils import format_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from carebridge.contexts import documents
from carebridge.contexts.identity import CurrentPrincipal
from carebridge.contexts.patients import PurposeOfUse
from carebridge.fhir import bundle, capability, everything, interactions, outcome, unit
from carebridge.fhir.interactions import SERVED
from carebridge.fhir.outcome import FHIR_JSON, FhirError
from carebridge.fhir.registry import Context, Stored
from carebridge.kernel.deps import ClockDep, SessionDep
from carebridge.kernel.errors import Problem
from carebridge.security import Principal, Role

BASE_PATH = "/fhir/R4"
_FORMATS = {"json", "application/json", "application/fhir+json"}
_DEFAULT_PURPOSE = {Role.patient: PurposeOfUse.patient_request, Role.caregiver: PurposeOfUse.family_request}


class FhirRoute(APIRoute):
    """Turns every error raised while handling a FHIR request into an OperationOutcome.

    The endpoint's work runs in a SAVEPOINT (`fhir.unit`, begun by `_context`): an error rolls it back
    before the OperationOutcome is answered, since the error never reaches the request's unit of work
    (a Bundle transaction is all or nothing; a refusal's audit entry still commits).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                _check_format(request)
                return await handler(request)
            except FhirError as exc:
                error = exc
            except Problem as exc:
                error = outcome.from_problem(exc)
            except RequestValidationError as exc:
                error = outcome.from_validation(exc)
            except HTTPException as exc:
                error = FhirError(exc.status_code, str(exc.detail)[:500], headers=dict(exc.headers or {}))
            work: unit.Unit | None = getattr(request.state, "fhir_unit", None)
            if work is not None:
                work.rollback()
            return outcome.response(error)
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


def _context(request: Request, session: Session, principal: Principal, clock: Any,
             purpose: str | None) -> Context:
    """The mappers' context; begins the SAVEPOINT an error rolls back (see FhirRoute)."""
    try:
        chosen = PurposeOfUse(purpose) if purpose else _DEFAULT_PURPOSE.get(principal.role, PurposeOfUse.treatment)
    except ValueError:
        raise FhirError(400, "X-Purpose-Of-Use is not a known purpose of use", code="invalid",
                        expression=["X-Purpose-Of-Use"]) from None
    request.state.fhir_unit = unit.begin(session)
    return Context(session=session, principal=principal, now=clock.now(), purpose=chosen.value,
                   vault=documents.app_vault(request.app.state))


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
        (404, "Unknown resource type or id."), (410, "The resource was deleted."))}
_WRITE_ERRORS = {**_ERRORS, 405: {"description": "The type does not support this interaction."},
                 409: {"description": "Duplicate or conflicting record."},
                 410: {"description": "The resource was deleted."},
                 412: {"description": "If-Match does not match the current version."},
                 422: {"description": "Invalid resource; issue.expression names the element."}}
Purpose = Annotated[str | None, Header(alias="X-Purpose-Of-Use", max_length=40)]


@router.get("/metadata", summary="FHIR CapabilityStatement, generated from the mapped resource types")
def metadata(request: Request, clock: ClockDep) -> Response:
    return _json(request, capability.capability_statement(SERVED, base=base_url(request), now=clock.now()))


@well_known.get("/.well-known/smart-configuration", summary="SMART configuration (what exists today)")
def smart_configuration(request: Request) -> Response:
    return _json(request, capability.smart_configuration(issuer=str(request.base_url).rstrip("/")))


def _raw(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


def _self_url(request: Request) -> str:
    return f"{base_url(request)}{request.url.path.removeprefix(BASE_PATH)}" + (
        f"?{request.url.query}" if request.url.query else "")


def _result(request: Request, result: interactions.Result) -> Response:
    if result.stored is None:
        return Response(status_code=result.status)
    location = f"{base_url(request)}/{result.location}" if result.status == 201 else None
    return _stored(request, result.stored, result.status, location)


IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=20)]
IfNoneExist = Annotated[str | None, Header(alias="If-None-Exist", max_length=500)]
FhirBody = Annotated[dict[str, Any], Body(media_type=FHIR_JSON)]


@router.post("", summary="FHIR Bundle: transaction (all or nothing) or batch", responses=_WRITE_ERRORS)
@router.post("/", include_in_schema=False)  # the base with a slash, as clients such as fhirpy send it
def system_bundle(body: FhirBody, request: Request, session: SessionDep, principal: CurrentPrincipal,
                  clock: ClockDep, purpose: Purpose = None) -> Response:
    ctx = _context(request, session, principal, clock, purpose)
    return _json(request, bundle.process(ctx, base_url(request), body))


@router.get("/{resource_type}/_history", summary="FHIR type history (versions written through the facade)",
            responses=_ERRORS)
def type_history(resource_type: str, request: Request, session: SessionDep, principal: CurrentPrincipal,
                 clock: ClockDep, purpose: Purpose = None) -> Response:
    ctx = _context(request, session, principal, clock, purpose)
    return _json(request, interactions.history_type(ctx, base_url(request), resource_type,
                                                    dict(request.query_params), _self_url(request)))


@router.get("/{resource_type}", summary="FHIR search (GET)", responses=_ERRORS)
def search_get(resource_type: str, request: Request, session: SessionDep, principal: CurrentPrincipal,
               clock: ClockDep, purpose: Purpose = None) -> Response:
    ctx = _context(request, session, principal, clock, purpose)
    return _json(request, interactions.search_bundle(ctx, base_url(request), resource_type, _raw(request)))


@router.post("/{resource_type}/_search", summary="FHIR search (POST, form-encoded)", responses=_ERRORS)
async def search_post(resource_type: str, request: Request, session: SessionDep, principal: CurrentPrincipal,
                      clock: ClockDep, purpose: Purpose = None) -> Response:
    raw = _raw(request)
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = await request.form(max_files=0, max_fields=100)
        raw += [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    ctx = _context(request, session, principal, clock, purpose)
    return _json(request, interactions.search_bundle(ctx, base_url(request), resource_type, raw))


@router.get("/Patient/{patient_id}/$everything", summary="FHIR Patient $everything", responses=_ERRORS)
def patient_everything(patient_id: str, request: Request, session: SessionDep, principal: CurrentPrincipal,
                       clock: ClockDep, purpose: Purpose = None) -> Response:
    ctx = _context(request, session, principal, clock, purpose)
    return _json(request, everything.everything(ctx, base_url(request), patient_id, dict(request.query_params)))


@router.get("/{resource_type}/{resource_id}/_history", summary="FHIR instance history", responses=_ERRORS)
def instance_history(resource_type: str, resource_id: str, request: Request, session: SessionDep,
                     principal: CurrentPrincipal, clock: ClockDep, purpose: Purpose = None) -> Response:
    ctx = _context(request, session, principal, clock, purpose)
    return _json(request, interactions.history_instance(ctx, base_url(request), resource_type, resource_id,
                                                        dict(request.query_params), _self_url(request)))


@router.get("/{resource_type}/{resource_id}/_history/{version_id}", summary="FHIR vread", responses=_ERRORS)
def vread(resource_type: str, resource_id: str, version_id: str, request: Request, session: SessionDep,
          principal: CurrentPrincipal, clock: ClockDep, purpose: Purpose = None) -> Response:
    ctx = _context(request, session, principal, clock, purpose)
    return _stored(request, interactions.vread(ctx, resource_type, resource_id, version_id[:64]))


@router.get("/{resource_type}/{resource_id}", summary="FHIR read", responses=_ERRORS)
def read(resource_type: str, resource_id: str, request: Request, session: SessionDep, principal: CurrentPrincipal,
         clock: ClockDep, purpose: Purpose = None) -> Response:
    return _stored(request, interactions.read(_context(request, session, principal, clock, purpose), resource_type,
                                              resource_id))


@router.post("/{resource_type}", summary="FHIR create (If-None-Exist: conditional)", status_code=201,
             responses=_WRITE_ERRORS)
def create(resource_type: str, body: FhirBody, request: Request, session: SessionDep, principal: CurrentPrincipal,
           clock: ClockDep, purpose: Purpose = None, if_none_exist: IfNoneExist = None) -> Response:
    ctx = _context(request, session, principal, clock, purpose)
    return _result(request, interactions.create(ctx, resource_type, body, if_none_exist=if_none_exist))


@router.put("/{resource_type}/{resource_id}", summary="FHIR update (If-Match versioned)", responses=_WRITE_ERRORS)
def update(resource_type: str, resource_id: str, body: FhirBody, request: Request, session: SessionDep,
           principal: CurrentPrincipal, clock: ClockDep, purpose: Purpose = None, if_match: IfMatch = None
           ) -> Response:
    ctx = _context(request, session, principal, clock, purpose)
    return _result(request, interactions.update(ctx, resource_type, resource_id, body,
                                                if_match=_if_match(if_match)))


@router.put("/{resource_type}", summary="FHIR conditional update (PUT /Type?search)", responses=_WRITE_ERRORS)
def conditional_update(resource_type: str, body: FhirBody, request: Request, session: SessionDep,
                       principal: CurrentPrincipal, clock: ClockDep, purpose: Purpose = None,
                       if_match: IfMatch = None) -> Response:
    ctx = _context(request, session, principal, clock, purpose)
    return _result(request, interactions.conditional_update(ctx, resource_type, request.url.query, body,
                                                            if_match=_if_match(if_match)))


@router.delete("/{resource_type}/{resource_id}", summary="FHIR delete (where the record allows it)",
               status_code=204, responses=_WRITE_ERRORS)
def delete(resource_type: str, resource_id: str, request: Request, session: SessionDep,
           principal: CurrentPrincipal, clock: ClockDep, purpose: Purpose = None) -> Response:
    ctx = _context(request, session, principal, clock, purpose)
    return _result(request, interactions.delete(ctx, resource_type, resource_id))


@router.delete("/{resource_type}", summary="FHIR conditional delete (DELETE /Type?search)", status_code=204,
               responses=_WRITE_ERRORS)
def conditional_delete(resource_type: str, request: Request, session: SessionDep, principal: CurrentPrincipal,
                       clock: ClockDep, purpose: Purpose = None) -> Response:
    ctx = _context(request, session, principal, clock, purpose)
    return _result(request, interactions.conditional_delete(ctx, resource_type, request.url.query))


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
def unsupported(rest: str) -> Response:
    raise FhirError(404, f"/{rest[:100]} is not an interaction this server supports; see /fhir/R4/metadata",
                    code="not-supported")
