"""Decision support that follows the record: domain events re-check the patient's open prescriptions.

A new or changed allergy, problem (ICD-10) or kidney/weight lab result (records' outbox events), and a
prescription written, changed, signed, cancelled or expired (which changes what the others interact with),
re-run `checks.run` on every draft and active prescription of that patient. The run is stored like any other
(`trigger="event"`, the event in `inputs.event`), so an alert that appears because of a new allergy shows on
the patient's open alerts and blocks signing a draft until someone acknowledges or overrides it.

The job reads the transactional outbox itself rather than the live bus: an event exists there iff its change
committed, survives a restart, and is the same in every process whatever bus is configured. Each event is
handled in its own transaction that also inserts its `HandledEvent` row, so the re-check and the receipt
commit together (a repeat is skipped; two processes racing on one event collide on the key and one rolls
back). An event whose handling fails is recorded as handled with the error, so it cannot wedge the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts import records
from carebridge.contexts.patients.models import Patient
from carebridge.contexts.prescribing import checks
from carebridge.contexts.prescribing.access import items_of
from carebridge.contexts.prescribing.models import HandledEvent, Prescription
from carebridge.contexts.prescribing.schemas import ACTIVE_STATUSES, RxStatus
from carebridge.kernel.background import BackgroundLoop, run_in_thread_gated
from carebridge.kernel.clock import Clock
from carebridge.kernel.db import Database
from carebridge.kernel.events import OutboxEvent

log = logging.getLogger("carebridge.prescribing")

RECORD_EVENTS = ("records.allergy.recorded", "records.condition.recorded", "records.observation.recorded",
                 "records.amended")
RX_EVENTS = ("prescription.created", "prescription.updated", "prescription.signed", "prescription.cancelled",
             "prescription.expired")
HANDLED_TYPES = (*RECORD_EVENTS, *RX_EVENTS)
LOOK_BACK = timedelta(days=7)  # the outbox keeps published events this long by default
RECHECKED = frozenset({RxStatus.draft, *ACTIVE_STATUSES})


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def relevant(event_type: str, payload: dict[str, object]) -> bool:
    """Whether the event can change what decision support sees (a blood-pressure reading cannot)."""
    if event_type == "records.observation.recorded":
        return str(payload.get("code", "")) in records.DECISION_CODES
    if event_type == "records.amended":
        return payload.get("kind") in ("allergy", "condition", "observation")
    return event_type in HANDLED_TYPES


def recheck_patient(session: Session, *, patient_id: uuid.UUID, event: dict[str, str], now: datetime,
                    skip: uuid.UUID | None = None) -> int:
    """Re-run decision support on the patient's draft and active prescriptions; the number checked."""
    patient = session.get(Patient, patient_id)
    if patient is None:
        return 0
    rows = session.scalars(select(Prescription).where(
        Prescription.patient_id == patient_id, Prescription.status.in_([s.value for s in RECHECKED]))
        .order_by(Prescription.created_at, Prescription.id))
    count = 0
    for rx in list(rows):
        if rx.id == skip:
            continue
        items = items_of(session, rx.id)
        if not items:
            continue
        given = checks.given_before(checks.latest(session, rx.id))
        checks.run(session, None, rx, items, patient, clinical=given, trigger="event", now=now, event=event)
        count += 1
    return count


def handle(session: Session, event_id: uuid.UUID, event_type: str, payload: dict[str, object], *,
           now: datetime) -> int:
    """Act on one committed event (idempotent by `event_id`); the number of prescriptions re-checked."""
    if session.get(HandledEvent, event_id) is not None:
        return 0
    session.add(HandledEvent(event_id=event_id, type=event_type[:100], handled_at=now))
    session.flush()
    patient_id = _uuid(payload.get("patient_id"))
    if patient_id is None or not relevant(event_type, payload):
        return 0
    # the prescription an event is about was checked in its own transaction when written or changed
    skip = _uuid(payload.get("prescription_id")) if event_type in ("prescription.created",
                                                                   "prescription.updated") else None
    return recheck_patient(session, patient_id=patient_id, event={"type": event_type, "id": str(event_id)},
                           now=now, skip=skip)


def pending(session: Session, *, now: datetime, limit: int) -> list[OutboxEvent]:
    handled = select(HandledEvent.event_id)
    return list(session.scalars(select(OutboxEvent).where(
        OutboxEvent.type.in_(HANDLED_TYPES), OutboxEvent.created_at >= now - LOOK_BACK,
        OutboxEvent.id.not_in(handled)).order_by(OutboxEvent.created_at, OutboxEvent.id).limit(limit)))


class RecheckJob(BackgroundLoop):
    """Runs `run_once` every `poll_seconds` in the service's lifespan (tests call `run_once` themselves)."""

    def __init__(self, database: Database, clock: Clock, *, poll_seconds: float = 2.0, batch: int = 100) -> None:
        self.database, self.clock, self.poll_seconds, self.batch = database, clock, poll_seconds, batch
        self._task: asyncio.Task[None] | None = None

    def run_once(self) -> int:
        """Handle what is pending now; the number of events handled."""
        with self.database.unit_of_work() as session:
            todo = [(e.id, e.type, dict(e.payload)) for e in pending(session, now=self.clock.now(),
                                                                    limit=self.batch)]
        done = 0
        for event_id, event_type, payload in todo:
            try:
                with self.database.unit_of_work() as session:
                    handle(session, event_id, event_type, payload, now=self.clock.now())
            except Exception as exc:  # one bad event must not wedge the rest: keep a receipt with the error
                log.exception("re-checking prescriptions after %s %s failed", event_type, event_id)
                with contextlib.suppress(Exception), self.database.unit_of_work() as session:
                    if session.get(HandledEvent, event_id) is None:
                        session.add(HandledEvent(event_id=event_id, type=f"failed:{type(exc).__name__}"[:100],
                                                 handled_at=self.clock.now()))
            done += 1
        return done

    async def _step(self) -> int:
        return await run_in_thread_gated(self.database, self.run_once)

    async def run_forever(self) -> None:
        while True:
            try:
                while await self._step() >= self.batch:
                    pass
            except Exception:
                log.exception("prescription re-check job failed; trying again later")
            await asyncio.sleep(self.poll_seconds)
