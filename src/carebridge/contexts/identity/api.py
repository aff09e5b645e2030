"""JSON API of the identity context: sign-in, the caller's account, staff and caregiver links."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Query, Request, Response, status

from carebridge.contexts.identity import service
from carebridge.contexts.identity.auth import CurrentPrincipal
from carebridge.contexts.identity.schemas import (
    CaredPatientRead,
    CaregiverLinkCreate,
    CaregiverLinkRead,
    LoginRequest,
    MeRead,
    MeUpdate,
    PasswordChange,
    RefreshRequest,
    RegistrationCreate,
    RoleChange,
    StaffCreate,
    TokenResponse,
    TotpConfirm,
    TotpDisable,
    TotpSetup,
    UserPage,
    UserRead,
)
from carebridge.kernel.deps import ClockDep, KeysDep, RequestInfoDep, SessionDep, SettingsDep
from carebridge.kernel.errors import ValidationProblem
from carebridge.security import Role

router = APIRouter(prefix="/api/v1", tags=["identity"])

_DESCRIPTIONS = {
    401: "Not signed in, or the sign-in ended (problem+json)",
    403: "Not allowed for this role; `totp-required` while an admin has not enrolled TOTP (problem+json)",
    404: "No such resource visible to the caller (problem+json)",
    409: "Conflicts with the current state, e.g. username taken (problem+json)",
    422: "Invalid input; `errors` lists the field paths (problem+json)",
    429: "Too many failed sign-ins; wait `retry_after` seconds (problem+json, Retry-After header)",
}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"description": _DESCRIPTIONS[c], "content": {"application/problem+json": {}}} for c in codes}


def _tokens(result: service.LoginResult) -> TokenResponse:
    if result.access_token is None or result.refresh_token is None:
        raise RuntimeError("an API sign-in must carry tokens")
    return TokenResponse(access_token=result.access_token, refresh_token=result.refresh_token,
                         expires_in=result.expires_in, user=result.user)


# --- sign-in -------------------------------------------------------------------------------------------------------

@router.post("/auth/login", summary="Sign in with username and password (and TOTP code)", response_model=TokenResponse,
             responses=_errors(401, 422, 429))
def login(body: LoginRequest, request: Request, session: SessionDep, settings: SettingsDep, keys: KeysDep,
          clock: ClockDep, info: RequestInfoDep) -> TokenResponse:
    """A `totp-required` 401 means: send `totp_code` as well."""
    result = service.login(session, username=body.username, password=body.password, totp_code=body.totp_code,
                           kind="api", client_address=info.client_address,
                           user_agent=request.headers.get("user-agent"), settings=settings, keys=keys,
                           now=clock.now())
    return _tokens(result)


@router.post("/auth/refresh", summary="Swap a refresh token for a new token pair", response_model=TokenResponse,
             responses=_errors(401, 422))
def refresh(body: RefreshRequest, session: SessionDep, settings: SettingsDep, keys: KeysDep,
            clock: ClockDep) -> TokenResponse:
    """Each refresh token works once; presenting one again revokes the whole sign-in."""
    return _tokens(service.refresh(session, refresh_token=body.refresh_token, settings=settings, keys=keys,
                                   now=clock.now()))


@router.post("/auth/logout", summary="End this sign-in", status_code=status.HTTP_204_NO_CONTENT,
             responses=_errors(401))
def logout(principal: CurrentPrincipal, session: SessionDep, clock: ClockDep) -> Response:
    service.logout(session, principal, now=clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/auth/register", summary="Create a patient or caregiver account", response_model=UserRead,
             status_code=status.HTTP_201_CREATED, responses=_errors(403, 409, 422))
def register(body: RegistrationCreate, session: SessionDep, settings: SettingsDep, clock: ClockDep) -> UserRead:
    """A patient account comes with the patient's own record; sign in afterwards."""
    return service.register(session, data=body, settings=settings, now=clock.now())


# --- the caller's own account --------------------------------------------------------------------------------------

@router.get("/me", summary="Who am I: account, role, organization, patient id, TOTP status", response_model=MeRead,
            responses=_errors(401))
def get_me(principal: CurrentPrincipal, session: SessionDep) -> MeRead:
    return service.get_me(session, principal)


@router.patch("/me", summary="Change my display name or language", response_model=MeRead,
              responses=_errors(401, 422))
def update_me(body: MeUpdate, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep) -> MeRead:
    return service.update_me(session, principal, data=body, now=clock.now())


@router.post("/me/password", summary="Change my password (signs out my other sessions)",
             status_code=status.HTTP_204_NO_CONTENT, responses=_errors(401, 422, 429))
def change_password(body: PasswordChange, principal: CurrentPrincipal, session: SessionDep, settings: SettingsDep,
                    clock: ClockDep) -> Response:
    service.change_password(session, principal, current_password=body.current_password,
                            new_password=body.new_password, now=clock.now(), settings=settings)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/me/totp/setup", summary="Start two-factor enrolment: secret, otpauth URI and QR code",
             response_model=TotpSetup, responses=_errors(401, 409))
def totp_setup(principal: CurrentPrincipal, session: SessionDep, keys: KeysDep) -> TotpSetup:
    """Nothing changes at sign-in until the code is confirmed."""
    return service.totp_begin(session, principal, keys=keys)


@router.post("/me/totp/confirm", summary="Confirm two-factor enrolment with a current code",
             status_code=status.HTTP_204_NO_CONTENT, responses=_errors(401, 409, 422))
def totp_confirm(body: TotpConfirm, principal: CurrentPrincipal, session: SessionDep, keys: KeysDep,
                 clock: ClockDep) -> Response:
    service.totp_confirm(session, principal, code=body.code, keys=keys, now=clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/me/totp/disable", summary="Turn two-factor sign-in off (password and a current code)",
             status_code=status.HTTP_204_NO_CONTENT, responses=_errors(401, 409, 422, 429))
def totp_disable(body: TotpDisable, principal: CurrentPrincipal, session: SessionDep, keys: KeysDep,
                 settings: SettingsDep, clock: ClockDep) -> Response:
    service.totp_disable(session, principal, password=body.password, code=body.code, keys=keys, now=clock.now(),
                         settings=settings)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- caregivers ----------------------------------------------------------------------------------------------------

@router.post("/me/caregivers", summary="Link a caregiver to my record, with scopes", response_model=CaregiverLinkRead,
             status_code=status.HTTP_201_CREATED, responses=_errors(401, 403, 404, 422))
def link_caregiver(body: CaregiverLinkCreate, principal: CurrentPrincipal, session: SessionDep,
                   clock: ClockDep) -> CaregiverLinkRead:
    """Linking an already linked caregiver replaces the scopes."""
    return service.link_caregiver(session, principal, caregiver_username=body.caregiver_username,
                                  scopes=body.scopes, now=clock.now())


@router.get("/me/caregivers", summary="List my caregivers", response_model=list[CaregiverLinkRead],
            responses=_errors(401, 403))
def list_caregivers(principal: CurrentPrincipal, session: SessionDep, clock: ClockDep,
                    include_revoked: bool = Query(False, description="Also list links I revoked.")
                    ) -> list[CaregiverLinkRead]:
    return service.list_caregivers(session, principal, include_revoked=include_revoked, now=clock.now())


@router.delete("/me/caregivers/{link_id}", summary="Revoke a caregiver's access",
               status_code=status.HTTP_204_NO_CONTENT, responses=_errors(401, 403, 404, 422))
def revoke_caregiver(link_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep,
                     clock: ClockDep) -> Response:
    service.revoke_caregiver(session, principal, link_id=link_id, now=clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me/patients", summary="Patients I care for (caregivers)", response_model=list[CaredPatientRead],
            responses=_errors(401, 403))
def list_cared_patients(principal: CurrentPrincipal, session: SessionDep, clock: ClockDep) -> list[CaredPatientRead]:
    return service.list_cared_patients(session, principal, now=clock.now())


# --- staff administration ------------------------------------------------------------------------------------------

@router.post("/users", summary="Create a staff account in my organization (admin)", response_model=UserRead,
             status_code=status.HTTP_201_CREATED, responses=_errors(401, 403, 409, 422))
def create_user(body: StaffCreate, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep) -> UserRead:
    return service.create_staff(session, principal, data=body, now=clock.now())


@router.get("/users", summary="List my organization's accounts (admin)", response_model=UserPage,
            responses=_errors(401, 403, 422))
def list_users(
    principal: CurrentPrincipal, session: SessionDep, settings: SettingsDep,
    cursor: str | None = Query(None, max_length=512, description="`next_cursor` of the previous page."),
    limit: int | None = Query(None, ge=1, le=1000, description="Page size (default and maximum set by the server)."),
    role: Role | None = Query(None, description="Only accounts with this role."),
    active: bool | None = Query(None, description="Only active (true) or deactivated (false) accounts."),
) -> UserPage:
    size = limit or settings.default_page_size
    if size > settings.max_page_size:
        message = f"at most {settings.max_page_size}"
        raise ValidationProblem(f"limit: {message}", errors=[{"field": "limit", "in": "query", "message": message}])
    return service.list_users(session, principal, cursor=cursor, limit=size, role=role, active=active)


@router.get("/users/{user_id}", summary="One account of my organization (admin)", response_model=UserRead,
            responses=_errors(401, 403, 404, 422))
def get_user(user_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep) -> UserRead:
    return service.get_user(session, principal, user_id=user_id)


@router.put("/users/{user_id}/role", summary="Change a staff member's role (admin, audited)",
            response_model=UserRead, responses=_errors(401, 403, 404, 409, 422))
def change_role(user_id: uuid.UUID, body: RoleChange, principal: CurrentPrincipal, session: SessionDep,
                clock: ClockDep) -> UserRead:
    """The account's sessions end, so its next sign-in carries the new role."""
    return service.change_role(session, principal, user_id=user_id, role=Role(body.role), now=clock.now())


@router.post("/users/{user_id}/deactivate", summary="Deactivate a staff account and end its sessions (admin)",
             response_model=UserRead, responses=_errors(401, 403, 404, 409, 422))
def deactivate_user(user_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep,
                    clock: ClockDep) -> UserRead:
    return service.deactivate_user(session, principal, user_id=user_id, now=clock.now())


@router.post("/users/{user_id}/reactivate", summary="Reactivate a staff account (admin)", response_model=UserRead,
             responses=_errors(401, 403, 404, 422))
def reactivate_user(user_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep,
                    clock: ClockDep) -> UserRead:
    return service.reactivate_user(session, principal, user_id=user_id, now=clock.now())
