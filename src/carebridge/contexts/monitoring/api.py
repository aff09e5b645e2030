"""Monitoring JSON API: devices, vitals ingestion and history, the current NEWS2, threshold rules, alerts, and
the live stream (Server-Sent Events) of a clinician's patients."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status
from pydantic import AwareDatetime
from starlette.responses import StreamingResponse

from carebridge.contexts.identity import CurrentPrincipal
from carebridge.contexts.monitoring import service
from carebridge.contexts.monitoring.schemas import (
    AlertList,
    AlertRead,
    AlertStatus,
    BatchReport,
    DeviceCreate,
    DeviceIssued,
    DeviceList,
    DeviceRead,
    News2Read,
    ReadingBatch,
    ReadingPage,
    ThresholdRuleIn,
    ThresholdRuleList,
    ThresholdRuleRead,
)
from carebridge.contexts.monitoring.stream import live_events
from carebridge.kernel.bus import EventBus
from carebridge.kernel.deps import ClockDep, SessionDep
from carebridge.kernel.errors import PROBLEM_MEDIA_TYPE, Unauthorized
from carebridge.kernel.sse import sse_response

router = APIRouter(prefix="/api/v1", tags=["monitoring"])

_TEXT = {
    401: "Not signed in (or, for ingestion, the device credential is missing, wrong or revoked).",
    403: "The policy refuses this patient's vitals to you.",
    404: "No such patient, device, alert or rule.",
    409: "The device is already registered, or the alert is not in a state that allows this.",
    422: "A field is invalid (the `errors` list names it).",
}


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"description": _TEXT[c], "content": {PROBLEM_MEDIA_TYPE: {}}} for c in codes}


async def device_credential(x_device_key: Annotated[str | None, Header(max_length=200)] = None) -> str:
    if not x_device_key:
        raise Unauthorized("send the device credential in the X-Device-Key header")
    return x_device_key


DeviceKey = Annotated[str, Depends(device_credential)]


@router.post("/patients/{patient_id}/devices", status_code=status.HTTP_201_CREATED, response_model=DeviceIssued,
             summary="Register a monitoring device to a patient (its credential is shown only in this answer)",
             responses=_problems(401, 403, 404, 409, 422))
def register_device(patient_id: uuid.UUID, data: DeviceCreate, session: SessionDep, principal: CurrentPrincipal,
                    clock: ClockDep) -> DeviceIssued:
    return service.register_device(session, principal, patient_id=patient_id, data=data, now=clock.now())


@router.get("/patients/{patient_id}/devices", response_model=DeviceList, summary="A patient's monitoring devices",
            responses=_problems(401, 403, 404, 422))
def list_devices(patient_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                 clock: ClockDep) -> DeviceList:
    return service.list_devices(session, principal, patient_id=patient_id, now=clock.now())


@router.delete("/devices/{device_id}", response_model=DeviceRead,
               summary="Revoke a device's credential at once (its readings are kept)",
               responses=_problems(401, 403, 404, 422))
def revoke_device(device_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                  clock: ClockDep) -> DeviceRead:
    return service.revoke_device(session, principal, device_id=device_id, now=clock.now())


@router.post("/vitals", response_model=BatchReport,
             summary="Ingest a batch of up to 5,000 readings from a device (bad items reported by index)",
             responses=_problems(401, 422))
def ingest_vitals(batch: ReadingBatch, credential: DeviceKey, session: SessionDep, clock: ClockDep) -> BatchReport:
    """Authenticated by the device's `X-Device-Key`. Good readings are stored even when others are rejected;
    re-sending a batch stores nothing twice (`duplicates`)."""
    return service.ingest_from_device(session, credential=credential, items=batch.readings, now=clock.now())


@router.get("/patients/{patient_id}/vitals", response_model=ReadingPage,
            summary="A patient's readings over a period (newest first)", responses=_problems(401, 403, 404, 422))
def list_readings(
    patient_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
    type_: Annotated[str | None, Query(alias="type", max_length=40)] = None,
    since: AwareDatetime | None = None, until: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_READINGS)] = 1000,
) -> ReadingPage:
    return service.list_readings(session, principal, patient_id=patient_id, reading_type=type_, since=since,
                                 until=until, limit=limit, now=clock.now())


@router.get("/patients/{patient_id}/news2", response_model=News2Read,
            summary="NEWS2 from the patient's latest set of readings", responses=_problems(401, 403, 404, 422))
def current_news2(patient_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                  clock: ClockDep) -> News2Read:
    return service.current_news2(session, principal, patient_id=patient_id, now=clock.now())


@router.get("/patients/{patient_id}/alerts", response_model=AlertList, summary="A patient's alerts (newest first)",
            responses=_problems(401, 403, 404, 422))
def list_alerts(patient_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                status_: Annotated[AlertStatus | None, Query(alias="status")] = None) -> AlertList:
    return service.list_alerts(session, principal, patient_id=patient_id, status=status_, now=clock.now())


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertRead, summary="Acknowledge an open alert",
             responses=_problems(401, 403, 404, 409, 422))
def acknowledge_alert(alert_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                      clock: ClockDep) -> AlertRead:
    return service.acknowledge_alert(session, principal, alert_id=alert_id, now=clock.now())


@router.post("/alerts/{alert_id}/resolve", response_model=AlertRead, summary="Resolve an open or acknowledged alert",
             responses=_problems(401, 403, 404, 409, 422))
def resolve_alert(alert_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                  clock: ClockDep) -> AlertRead:
    return service.resolve_alert(session, principal, alert_id=alert_id, now=clock.now())


@router.get("/patients/{patient_id}/threshold-rules", response_model=ThresholdRuleList,
            summary="A patient's threshold rules", responses=_problems(401, 403, 404, 422))
def list_rules(patient_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
               clock: ClockDep) -> ThresholdRuleList:
    return service.list_rules(session, principal, patient_id=patient_id, now=clock.now())


@router.put("/patients/{patient_id}/threshold-rules/{reading_type}", response_model=ThresholdRuleRead,
            summary="Set the care team's threshold for one reading type", responses=_problems(401, 403, 404, 422))
def set_rule(patient_id: uuid.UUID, reading_type: Annotated[str, Path(max_length=40)], data: ThresholdRuleIn,
             session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> ThresholdRuleRead:
    return service.set_rule(session, principal, patient_id=patient_id, reading_type=reading_type, data=data,
                            now=clock.now())


@router.delete("/patients/{patient_id}/threshold-rules/{reading_type}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Remove a threshold rule", responses=_problems(401, 403, 404, 422))
def delete_rule(patient_id: uuid.UUID, reading_type: Annotated[str, Path(max_length=40)], session: SessionDep,
                principal: CurrentPrincipal, clock: ClockDep) -> Response:
    service.delete_rule(session, principal, patient_id=patient_id, reading_type=reading_type, now=clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/monitoring/stream",
    summary="Live stream (Server-Sent Events) of vitals and alerts for the named patients",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "An endless event stream."},
               **_problems(401, 403, 404, 422)},
)
def vitals_stream(request: Request, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                  patient: Annotated[list[uuid.UUID], Query(max_length=service.MAX_STREAM_PATIENTS)]
                  ) -> StreamingResponse:
    """Events `monitoring.vitals_received` and `monitoring.alert_*` about the named patients (each checked
    by the policy when the stream opens); a comment line is sent every 15 s."""
    allowed = service.authorize_stream(session, principal, patient_ids=patient, now=clock.now())
    bus: EventBus = request.app.state.bus
    return sse_response(live_events(request, bus, allowed))
