"""JSON API of prescribing: the medicine picker, e-prescriptions, decision support, dispensing, doses."""

from __future__ import annotations

import io
import uuid
from typing import Annotated, Any, Literal

import segno
from fastapi import APIRouter, Path, Query, Request, Response, status
from starlette.responses import StreamingResponse

from carebridge.contexts.identity import CurrentPrincipal
from carebridge.contexts.prescribing import doses, lifecycle, refills, service, signing
from carebridge.contexts.prescribing.schemas import (
    AdherenceRead,
    AlertDecide,
    CancelBody,
    CheckOn,
    CheckRead,
    DispenseCreate,
    DispenseRead,
    DoseMark,
    DoseRead,
    MedicationPage,
    OpenAlert,
    PrescriptionCreate,
    PrescriptionPage,
    PrescriptionRead,
    PrescriptionUpdate,
    RefillCreate,
    RefillDecide,
    RefillRead,
    RxStatus,
    SignedText,
    VerifyRead,
)
from carebridge.contexts.prescribing.stream import alert_events
from carebridge.kernel.bus import EventBus
from carebridge.kernel.deps import ClockDep, KeysDep, SessionDep
from carebridge.kernel.sse import sse_response

router = APIRouter(prefix="/api/v1", tags=["prescribing"])


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {}}}


READ_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _problem("Not signed in."),
    403: _problem("Your role or relationship does not allow this."),
    404: _problem("Not found."),
    422: _problem("Invalid input; `errors` lists the fields."),
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    409: _problem("The prescription's status does not allow this, or unresolved alerts block signing."),
}
RxId = Annotated[uuid.UUID, Path(description="Prescription id.")]
Limit = Annotated[int, Query(ge=1, le=50)]
Cursor = Annotated[str | None, Query(max_length=512)]


@router.get("/medications", summary="Pick a medicine: generic, brand (incl. Indian brands) or ATC code",
            response_model=MedicationPage, responses=READ_ERRORS)
def medications(principal: CurrentPrincipal, q: Annotated[str, Query(min_length=1, max_length=100)],
                limit: Limit = 10, cursor: Cursor = None) -> MedicationPage:
    return service.search_medications(principal, q=q, limit=limit, cursor=cursor)


@router.post("/prescriptions", summary="Write a draft prescription (checked at once)", status_code=201,
             response_model=PrescriptionRead, responses=WRITE_ERRORS)
def create(body: PrescriptionCreate, session: SessionDep, principal: CurrentPrincipal,
           clock: ClockDep) -> PrescriptionRead:
    return lifecycle.create(session, principal, data=body, now=clock.now())


@router.get("/prescriptions/{rx_id}", summary="Read one prescription with its latest check",
            response_model=PrescriptionRead, responses=READ_ERRORS)
def read(rx_id: RxId, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> PrescriptionRead:
    return service.get_prescription(session, principal, rx_id=rx_id, now=clock.now())


@router.put("/prescriptions/{rx_id}", summary="Change a draft prescription's items (checked again)",
            response_model=PrescriptionRead, responses=WRITE_ERRORS)
def update(rx_id: RxId, body: PrescriptionUpdate, session: SessionDep, principal: CurrentPrincipal,
           clock: ClockDep) -> PrescriptionRead:
    return lifecycle.update(session, principal, rx_id=rx_id, data=body, now=clock.now())


@router.post("/prescriptions/{rx_id}/check", summary="Run decision support on a prescription now",
             response_model=CheckRead, responses=WRITE_ERRORS)
def check(rx_id: RxId, body: CheckOn, session: SessionDep, principal: CurrentPrincipal,
          clock: ClockDep) -> CheckRead:
    return lifecycle.run_check(session, principal, rx_id=rx_id, clinical=body.clinical, now=clock.now())


@router.post("/prescriptions/{rx_id}/alerts", summary="Acknowledge or override (with a reason) one alert",
             response_model=PrescriptionRead, responses=WRITE_ERRORS)
def decide(rx_id: RxId, body: AlertDecide, session: SessionDep, principal: CurrentPrincipal,
           clock: ClockDep) -> PrescriptionRead:
    return lifecycle.decide_alert(session, principal, rx_id=rx_id, data=body, now=clock.now())


@router.post("/prescriptions/{rx_id}/sign", summary="Sign a draft (refused while major alerts are unresolved)",
             response_model=PrescriptionRead, responses=WRITE_ERRORS)
def sign(rx_id: RxId, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
         keys: KeysDep) -> PrescriptionRead:
    return lifecycle.sign(session, principal, rx_id=rx_id, keys=keys, now=clock.now())


@router.get("/prescriptions/{rx_id}/verify", summary="Verify a prescription's signature against its content",
            response_model=VerifyRead, responses=READ_ERRORS)
def verify(rx_id: RxId, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
           keys: KeysDep) -> VerifyRead:
    return lifecycle.verify(session, principal, rx_id=rx_id, keys=keys, now=clock.now())


@router.get("/prescriptions/{rx_id}/signed-text", summary="The compact signed text printed in the QR code",
            response_model=SignedText, responses=WRITE_ERRORS)
def signed_text(rx_id: RxId, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> SignedText:
    return lifecycle.signed_text(session, principal, rx_id=rx_id, now=clock.now())


@router.get("/prescriptions/{rx_id}/qr.svg", summary="The signed text as a QR code (SVG) for the printed copy",
            response_class=Response, responses={**WRITE_ERRORS, 200: {"content": {"image/svg+xml": {}}}})
def qr_svg(rx_id: RxId, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> Response:
    text = lifecycle.signed_text(session, principal, rx_id=rx_id, now=clock.now()).text
    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="svg", scale=4, xmldecl=False)
    return Response(buf.getvalue(), media_type="image/svg+xml")


@router.post("/prescriptions/verify-text", summary="Check a scanned QR text was signed by this server",
             response_model=SignedText, responses=READ_ERRORS)
def verify_text(body: SignedText, principal: CurrentPrincipal, keys: KeysDep) -> SignedText:
    return SignedText(text=body.text, valid=signing.verify_qr_text(keys.public_key, body.text))


@router.post("/prescriptions/{rx_id}/cancel", summary="Cancel a draft or signed prescription",
             response_model=PrescriptionRead, responses=WRITE_ERRORS)
def cancel(rx_id: RxId, body: CancelBody, session: SessionDep, principal: CurrentPrincipal,
           clock: ClockDep) -> PrescriptionRead:
    return lifecycle.cancel(session, principal, rx_id=rx_id, reason=body.reason, now=clock.now())


@router.post("/prescriptions/{rx_id}/dispense", summary="Record a (partial or full) dispense by a pharmacist",
             status_code=201, response_model=list[DispenseRead], responses=WRITE_ERRORS)
def dispense(rx_id: RxId, body: DispenseCreate, session: SessionDep, principal: CurrentPrincipal,
             clock: ClockDep) -> list[DispenseRead]:
    return lifecycle.dispense(session, principal, rx_id=rx_id, data=body, now=clock.now())


@router.post("/prescriptions/{rx_id}/complete", summary="Close a dispensed prescription as completed",
             response_model=PrescriptionRead, responses=WRITE_ERRORS)
def complete(rx_id: RxId, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> PrescriptionRead:
    return lifecycle.complete(session, principal, rx_id=rx_id, now=clock.now())


@router.post("/prescriptions/{rx_id}/refill-requests", summary="Ask for a refill (patient or caregiver)",
             status_code=status.HTTP_201_CREATED, response_model=RefillRead, responses=WRITE_ERRORS)
def refill(rx_id: RxId, body: RefillCreate, session: SessionDep, principal: CurrentPrincipal,
           clock: ClockDep) -> RefillRead:
    return lifecycle.request_refill(session, principal, rx_id=rx_id, note=body.note, now=clock.now())


@router.post("/refill-requests/{request_id}/decision", summary="Approve or refuse (with a reason) a refill request",
             response_model=RefillRead, responses=WRITE_ERRORS)
def decide_refill(request_id: Annotated[uuid.UUID, Path(description="Refill request id.")], body: RefillDecide,
                  session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> RefillRead:
    return refills.decide(session, principal, request_id=request_id, data=body, now=clock.now())


@router.get("/patients/{patient_id}/refill-requests", summary="A patient's refill requests, newest first",
            response_model=list[RefillRead], responses=READ_ERRORS)
def refill_requests(patient_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                    status_: Annotated[Literal["open", "approved", "refused"] | None, Query(alias="status")] = None
                    ) -> list[RefillRead]:
    return refills.list_for_patient(session, principal, patient_id=patient_id, status=status_, now=clock.now())


@router.get("/patients/{patient_id}/prescriptions", summary="A patient's prescriptions, newest first",
            response_model=PrescriptionPage, responses=READ_ERRORS)
def for_patient(patient_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                status_: Annotated[RxStatus | None, Query(alias="status")] = None, limit: Limit = 20,
                cursor: Cursor = None) -> PrescriptionPage:
    return service.list_for_patient(session, principal, patient_id=patient_id, status=status_, limit=limit,
                                    cursor=cursor, now=clock.now())


@router.get("/patients/{patient_id}/prescription-alerts", summary="Unresolved major alerts on a patient's drafts",
            response_model=list[OpenAlert], responses=READ_ERRORS)
def alerts(patient_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
           clock: ClockDep) -> list[OpenAlert]:
    return service.open_alerts(session, principal, patient_id=patient_id, now=clock.now())


@router.get("/prescription-alerts/stream",
            summary="Live stream (Server-Sent Events) of prescription events about one patient",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "An endless event stream."},
                       **READ_ERRORS})
def alert_stream(request: Request, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                 patient: Annotated[uuid.UUID, Query(description="The patient whose prescriptions to watch.")]
                 ) -> StreamingResponse:
    """`prescription.*` events about the patient (`prescription.checked` after every decision-support run,
    with `outcome` and the number of `blocking` alerts; created, signed, dispensed ...): ids and counts only,
    fetch the alerts from `/patients/{id}/prescription-alerts`. The policy is checked when the stream opens;
    a comment line is sent every 15 s."""
    service.authorize_stream(session, principal, patient_id=patient, now=clock.now())
    bus: EventBus = request.app.state.bus
    return sse_response(alert_events(request, bus, patient))


@router.get("/patients/{patient_id}/doses", summary="Today's doses across a patient's active prescriptions",
            response_model=list[DoseRead], responses=READ_ERRORS)
def today(patient_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
          clock: ClockDep) -> list[DoseRead]:
    return doses.doses_on(session, principal, patient_id=patient_id, now=clock.now())


@router.get("/patients/{patient_id}/adherence", summary="Doses taken of those due, per medication",
            response_model=list[AdherenceRead], responses=READ_ERRORS)
def adherence(patient_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
              clock: ClockDep) -> list[AdherenceRead]:
    return doses.adherence(session, principal, patient_id=patient_id, now=clock.now())


@router.post("/doses/{dose_id}", summary="Mark a dose taken or skipped", response_model=DoseRead,
             responses=WRITE_ERRORS)
def mark_dose(dose_id: Annotated[str, Path(max_length=60)], body: DoseMark, session: SessionDep,
              principal: CurrentPrincipal, clock: ClockDep) -> DoseRead:
    return doses.mark(session, principal, dose_id=dose_id, status=body.status, now=clock.now())


@router.get("/pharmacy/queue", summary="Signed prescriptions waiting at the caller's pharmacy",
            response_model=list[PrescriptionRead], responses=READ_ERRORS)
def queue(session: SessionDep, principal: CurrentPrincipal, clock: ClockDep, limit: Limit = 20
          ) -> list[PrescriptionRead]:
    return service.pharmacy_queue(session, principal, limit=limit, now=clock.now())
