"""JSON API of SOS and the emergency card. Thin: the rules live in `service` and `profile`."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, status
from fastapi.responses import PlainTextResponse, Response

from carebridge.contexts.emergency import profile, service
from carebridge.contexts.emergency.card import key_id
from carebridge.contexts.emergency.schemas import (
    CardKeyRead,
    EmergencyCardRead,
    EmergencyProfileRead,
    EmergencyProfileUpdate,
    SosCreate,
    SosList,
    SosRead,
    SosTransitionCreate,
)
from carebridge.contexts.identity import CurrentPrincipal
from carebridge.kernel.deps import ClockDep, KeysDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["emergency"])
key_router = APIRouter(tags=["emergency"])
CARD_KEY_PATH = "/.well-known/carebridge-card-key"


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {}}}


READ_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _problem("Not signed in"),
    403: _problem("The policy refuses you this patient's data"),
    404: _problem("No such patient or SOS"),
    422: _problem("Invalid input (field path in `errors`)"),
}
RAISE_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS, 429: _problem("Too many SOS from this account just now (Retry-After says how long)")}
MOVE_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS, 409: _problem("The SOS's status does not allow this action (e.g. it is closed)")}


@router.post("/sos", summary="Raise an SOS: nearest emergency care now, contacts and caregivers alerted",
             status_code=status.HTTP_201_CREATED, response_model=SosRead, responses=RAISE_ERRORS)
def raise_sos(body: SosCreate, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> SosRead:
    return service.raise_sos(session, principal, body=body, now=clock.now())


@router.get("/sos", summary="Open SOS of the patients your organization cares for (staff)",
            response_model=SosList, responses=READ_ERRORS)
def list_open(session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
              limit: Annotated[int, Query(ge=1, le=100)] = 50) -> SosList:
    return SosList(items=service.list_open_sos(session, principal, now=clock.now(), limit=limit))


@router.get("/sos/{sos_id}", summary="One SOS with its status trail", response_model=SosRead,
            responses=READ_ERRORS)
def get_sos(sos_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> SosRead:
    return service.get_sos(session, principal, sos_id=sos_id, now=clock.now())


@router.post("/sos/{sos_id}/transitions", summary="Acknowledge, close or cancel an SOS, with a note",
             response_model=SosRead, responses=MOVE_ERRORS)
def move_sos(sos_id: uuid.UUID, body: SosTransitionCreate, session: SessionDep, principal: CurrentPrincipal,
             clock: ClockDep) -> SosRead:
    return service.transition_sos(session, principal, sos_id=sos_id, body=body, now=clock.now())


@router.get("/patients/{patient_id}/sos", summary="A patient's recent SOS, newest first",
            response_model=SosList, responses=READ_ERRORS)
def patient_sos(patient_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                limit: Annotated[int, Query(ge=1, le=100)] = 20) -> SosList:
    return SosList(items=service.list_patient_sos(session, principal, patient_id=patient_id, now=clock.now(),
                                                  limit=limit))


@router.get("/patients/{patient_id}/emergency-profile", summary="The patient's emergency profile",
            response_model=EmergencyProfileRead, responses=READ_ERRORS)
def get_profile(patient_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                clock: ClockDep) -> EmergencyProfileRead:
    return profile.get_profile(session, principal, patient_id=patient_id, now=clock.now())


@router.put("/patients/{patient_id}/emergency-profile", summary="Replace the emergency profile (patient side)",
            response_model=EmergencyProfileRead, responses=READ_ERRORS)
def put_profile(patient_id: uuid.UUID, body: EmergencyProfileUpdate, session: SessionDep,
                principal: CurrentPrincipal, clock: ClockDep) -> EmergencyProfileRead:
    return profile.update_profile(session, principal, patient_id=patient_id, data=body, now=clock.now())


@router.get("/patients/{patient_id}/emergency-card",
            summary="The signed emergency card: JSON (text + QR SVG), or the card text with Accept: text/plain",
            response_model=EmergencyCardRead, responses={
                **READ_ERRORS, 200: {"content": {"application/json": {}, "text/plain": {}}}})
def get_card(patient_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
             keys: KeysDep, accept: Annotated[str | None, Header(max_length=500)] = None) -> Any:
    card = profile.issue_card(session, principal, patient_id=patient_id, signing_key=keys.signing_key,
                              now=clock.now())
    if accept and "text/plain" in accept and "json" not in accept:
        return PlainTextResponse(card.text, headers={"Cache-Control": "no-store"})
    return card


@key_router.get(CARD_KEY_PATH, summary="The public key that verifies emergency cards (JSON)",
                response_model=CardKeyRead)
async def card_key(keys: KeysDep) -> CardKeyRead:
    return CardKeyRead(key_id=key_id(keys.public_key), public_key_pem=keys.public_key_pem())


@key_router.get(CARD_KEY_PATH + ".pem", summary="The public key that verifies emergency cards (PEM)",
                response_class=PlainTextResponse)
async def card_key_pem(keys: KeysDep) -> Response:
    return PlainTextResponse(keys.public_key_pem(), media_type="application/x-pem-file")
