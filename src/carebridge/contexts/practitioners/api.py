"""JSON API of the practitioners context: organizations, practitioners, their roles, and the specialty list."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from carebridge.contexts.identity import CurrentPrincipal
from carebridge.contexts.practitioners import organizations, service
from carebridge.contexts.practitioners.schemas import (
    OrganizationCreate,
    OrganizationPage,
    OrganizationRead,
    OrganizationType,
    OrganizationUpdate,
    PractitionerCreate,
    PractitionerPage,
    PractitionerRead,
    PractitionerRoleCreate,
    PractitionerRoleRead,
    PractitionerRoleUpdate,
    PractitionerUpdate,
    SpecialtyRead,
)
from carebridge.kernel.deps import ClockDep, SessionDep, SettingsDep
from carebridge.kernel.pagination import resolve_limit
from carebridge.kernel.text import NoControl

router = APIRouter(prefix="/api/v1", tags=["practitioners"])


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {}}}


READ_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _problem("Not signed in."),
    404: _problem("Not found."),
    422: _problem("Invalid input; `errors` lists the fields."),
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    403: _problem("Your role or organization may not make this change."),
    409: _problem("Registration number, external id or role already in use."),
}
Limit = Annotated[int | None, Query(ge=1, description="Page size; at most the server's max_page_size.")]
Cursor = Annotated[str | None, Query(max_length=512)]
Clean = Annotated[str, NoControl]


@router.get("/specialties", summary="The coded specialty and service list (English and Hindi names)",
            response_model=list[SpecialtyRead])
def list_specialties() -> list[SpecialtyRead]:
    return [SpecialtyRead.model_validate(s.model_dump()) for s in service.list_specialties()]


@router.post("/organizations", summary="Create an organization (admin)", status_code=status.HTTP_201_CREATED,
             response_model=OrganizationRead, responses=WRITE_ERRORS)
def create_organization(data: OrganizationCreate, session: SessionDep, principal: CurrentPrincipal,
                        clock: ClockDep, response: Response) -> OrganizationRead:
    org = organizations.create_organization(session, principal, data=data, now=clock.now())
    response.headers["Location"] = f"/api/v1/organizations/{org.id}"
    return org


@router.get("/organizations", summary="List organizations", response_model=OrganizationPage,
            responses=READ_ERRORS)
def list_organizations(
    session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep,
    name: Annotated[Clean | None, Query(min_length=1, max_length=200, description="Case-insensitive name prefix.")]
    = None,
    type: Annotated[OrganizationType | None, Query()] = None,
    include_inactive: bool = False, cursor: Cursor = None, limit: Limit = None,
) -> OrganizationPage:
    size = resolve_limit(limit, default=settings.default_page_size, maximum=settings.max_page_size)
    return organizations.list_organizations(session, principal, name=name, type_=type,
                                            include_inactive=include_inactive, limit=size, cursor=cursor)


@router.get("/organizations/{organization_id}", summary="Read an organization", response_model=OrganizationRead,
            responses=READ_ERRORS)
def get_organization(organization_id: uuid.UUID, session: SessionDep,
                     principal: CurrentPrincipal) -> OrganizationRead:
    return organizations.get_organization(session, principal, organization_id=organization_id)


@router.patch("/organizations/{organization_id}", summary="Change an organization (its admin)",
              response_model=OrganizationRead, responses=WRITE_ERRORS)
def update_organization(organization_id: uuid.UUID, data: OrganizationUpdate, session: SessionDep,
                        principal: CurrentPrincipal, clock: ClockDep) -> OrganizationRead:
    return organizations.update_organization(session, principal, organization_id=organization_id, data=data,
                                             now=clock.now())


@router.get("/organizations/{organization_id}/practitioner-roles", summary="Practitioner roles at an organization",
            response_model=list[PractitionerRoleRead], responses=READ_ERRORS)
def organization_roles(organization_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                       include_inactive: bool = False) -> list[PractitionerRoleRead]:
    organizations.get_organization(session, principal, organization_id=organization_id)
    return service.list_roles(session, principal, organization_id=organization_id,
                              include_inactive=include_inactive, limit=500)


@router.post("/practitioners", summary="Register a practitioner (admin)", status_code=status.HTTP_201_CREATED,
             response_model=PractitionerRead, responses=WRITE_ERRORS)
def create_practitioner(data: PractitionerCreate, session: SessionDep, principal: CurrentPrincipal,
                        clock: ClockDep, response: Response) -> PractitionerRead:
    p = service.create_practitioner(session, principal, data=data, now=clock.now())
    response.headers["Location"] = f"/api/v1/practitioners/{p.id}"
    return p


@router.get("/practitioners", summary="Search practitioners by name, specialty or organization",
            response_model=PractitionerPage, responses=READ_ERRORS)
def search_practitioners(
    session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep,
    name: Annotated[Clean | None, Query(min_length=1, max_length=100, description="Name word prefixes.")] = None,
    specialty: Annotated[Clean | None, Query(min_length=1, max_length=64, description="A code from /specialties.")]
    = None,
    organization_id: uuid.UUID | None = None, include_inactive: bool = False,
    cursor: Cursor = None, limit: Limit = None,
) -> PractitionerPage:
    size = resolve_limit(limit, default=settings.default_page_size, maximum=settings.max_page_size)
    return service.search_practitioners(session, principal, name=name, specialty=specialty,
                                        organization_id=organization_id, include_inactive=include_inactive,
                                        limit=size, cursor=cursor)


@router.get("/practitioners/{practitioner_id}", summary="Read a practitioner", response_model=PractitionerRead,
            responses=READ_ERRORS)
def get_practitioner(practitioner_id: uuid.UUID, session: SessionDep,
                     principal: CurrentPrincipal) -> PractitionerRead:
    return service.get_practitioner(session, principal, practitioner_id=practitioner_id)


@router.patch("/practitioners/{practitioner_id}", summary="Change a practitioner (admin of their organization)",
              response_model=PractitionerRead, responses=WRITE_ERRORS)
def update_practitioner(practitioner_id: uuid.UUID, data: PractitionerUpdate, session: SessionDep,
                        principal: CurrentPrincipal, clock: ClockDep) -> PractitionerRead:
    return service.update_practitioner(session, principal, practitioner_id=practitioner_id, data=data,
                                       now=clock.now())


@router.get("/practitioners/{practitioner_id}/roles", summary="A practitioner's roles",
            response_model=list[PractitionerRoleRead], responses=READ_ERRORS)
def practitioner_roles(practitioner_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                       include_inactive: bool = False) -> list[PractitionerRoleRead]:
    return service.list_roles(session, principal, practitioner_id=practitioner_id, include_inactive=include_inactive)


@router.post("/practitioners/{practitioner_id}/roles", summary="Give a practitioner a role at your organization",
             status_code=status.HTTP_201_CREATED, response_model=PractitionerRoleRead, responses=WRITE_ERRORS)
def add_role(practitioner_id: uuid.UUID, data: PractitionerRoleCreate, session: SessionDep,
             principal: CurrentPrincipal, clock: ClockDep) -> PractitionerRoleRead:
    return service.add_role(session, principal, practitioner_id=practitioner_id, data=data, now=clock.now())


@router.patch("/practitioner-roles/{role_id}", summary="Change or end a practitioner role",
              response_model=PractitionerRoleRead, responses=WRITE_ERRORS)
def update_role(role_id: uuid.UUID, data: PractitionerRoleUpdate, session: SessionDep, principal: CurrentPrincipal,
                clock: ClockDep) -> PractitionerRoleRead:
    return service.update_role(session, principal, role_id=role_id, data=data, now=clock.now())
