"""Prescribing's scheduled work: expire signed prescriptions past their validity, and keep a week of dose
reminders queued ahead for long courses (signing queues only the first week).

`run_once` is one pass of both, each prescription in its own transaction so one bad row cannot stop the rest;
`carebridge prescribing jobs` runs it from cron, and `PrescribingJobs` runs it hourly in the service's lifespan
(several processes may run it: the expiry is a conditional update and reminders are deduplicated by key). A
prescription's reminders are topped up when less than `TOP_UP_BELOW` of them is left queued, so an hourly pass
touches each long course about once a day.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts.patients.models import Patient
from carebridge.contexts.prescribing import expiry, notify
from carebridge.contexts.prescribing.access import items_of
from carebridge.contexts.prescribing.models import Prescription
from carebridge.contexts.prescribing.schemas import ACTIVE_STATUSES, RxStatus
from carebridge.kernel.background import BackgroundLoop, run_in_thread_gated
from carebridge.kernel.clock import Clock
from carebridge.kernel.db import Database

log = logging.getLogger("carebridge.prescribing")

TOP_UP_BELOW = notify.QUEUE_AHEAD - timedelta(days=1)
BATCH = 500


@dataclass(frozen=True)
class JobRun:
    expired: int
    topped_up: int  # prescriptions whose reminders were extended
    reminders: int  # reminders queued
    failed: int


def expiring(session: Session, *, now: datetime, limit: int = BATCH) -> list[uuid.UUID]:
    return list(session.scalars(select(Prescription.id).where(
        Prescription.status == RxStatus.signed.value, Prescription.expires_at <= now)
        .order_by(Prescription.expires_at).limit(limit)))


def expire_one(session: Session, rx_id: uuid.UUID, *, now: datetime) -> bool:
    rx = session.get(Prescription, rx_id)
    return rx is not None and expiry.expire(session, rx, now=now, via="job")


def needing_reminders(session: Session, *, now: datetime, limit: int = BATCH) -> list[uuid.UUID]:
    return list(session.scalars(select(Prescription.id).where(
        Prescription.status.in_([s.value for s in ACTIVE_STATUSES]), Prescription.reminders_until.is_not(None),
        Prescription.reminders_until < now + TOP_UP_BELOW).order_by(Prescription.reminders_until).limit(limit)))


def top_up_one(session: Session, rx_id: uuid.UUID, *, secret: bytes, now: datetime) -> int:
    """Queue the next reminders of one active prescription (up to a week from now); the number queued."""
    rx = session.get(Prescription, rx_id)
    if rx is None or rx.status not in ACTIVE_STATUSES or rx.reminders_until is None:
        return 0
    patient = session.get(Patient, rx.patient_id)
    if patient is None:
        rx.reminders_until = None
        return 0
    return notify.queue_reminders(session, rx, items_of(session, rx.id), patient, secret=secret, now=now)


def run_once(database: Database, clock: Clock, *, secret: bytes) -> JobRun:
    """One pass: expire what is due, then top up reminders; each prescription in its own transaction."""
    expired = topped = queued = failed = 0
    with database.unit_of_work() as session:
        todo = expiring(session, now=clock.now())
    for rx_id in todo:
        try:
            with database.unit_of_work() as session:
                expired += expire_one(session, rx_id, now=clock.now())
        except Exception:
            log.exception("expiring prescription %s failed", rx_id)
            failed += 1
    with database.unit_of_work() as session:
        todo = needing_reminders(session, now=clock.now())
    for rx_id in todo:
        try:
            with database.unit_of_work() as session:
                queued += top_up_one(session, rx_id, secret=secret, now=clock.now())
                topped += 1
        except Exception:
            log.exception("queuing reminders of prescription %s failed", rx_id)
            failed += 1
    return JobRun(expired=expired, topped_up=topped, reminders=queued, failed=failed)


class PrescribingJobs(BackgroundLoop):
    """`run_once` every `every_seconds` in the service's lifespan (tests call `run_once` themselves)."""

    def __init__(self, database: Database, clock: Clock, *, secret: bytes, every_seconds: float = 3600.0) -> None:
        self.database, self.clock, self.secret, self.every_seconds = database, clock, secret, every_seconds
        self._task: asyncio.Task[None] | None = None

    def run_once(self) -> JobRun:
        return run_once(self.database, self.clock, secret=self.secret)

    async def _step(self) -> JobRun:
        return await run_in_thread_gated(self.database, self.run_once)

    async def run_forever(self) -> None:
        while True:
            try:
                done = await self._step()
                if done.expired or done.reminders or done.failed:
                    log.info("prescribing jobs", extra={"expired": done.expired, "reminders": done.reminders,
                                                        "failed": done.failed})
            except Exception:
                log.exception("prescribing jobs failed; trying again later")
            await asyncio.sleep(self.every_seconds)
