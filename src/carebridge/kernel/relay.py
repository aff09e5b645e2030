"""The outbox relay: publishes committed domain events to the bus, at least once, in commit order per process.

A relay claims a batch by leasing it (`locked_until`, with `FOR UPDATE SKIP LOCKED` on PostgreSQL so relays in
several processes never claim the same rows), commits the lease, publishes, and marks the batch published. A
relay that dies between publishing and marking leaves the lease to expire and another relay publishes the batch
again: consumers see an event at least once (NATS drops the repeat by `Nats-Msg-Id`; SSE clients de-duplicate
by event id). A publish failure keeps the rows for the next try, with the attempt counted.

It runs in every API process as a background task (woken at once by commits that carried events, and by a
poll as a safety net), or alone as `carebridge events relay`. Published events are pruned after
`CAREBRIDGE_EVENT_RETENTION_DAYS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

from sqlalchemy import delete, select, update

from carebridge.kernel.background import BackgroundLoop
from carebridge.kernel.bus import Event, EventBus
from carebridge.kernel.clock import Clock, SystemClock
from carebridge.kernel.db import Database
from carebridge.kernel.events import OutboxEvent, add_commit_listener, remove_commit_listener

log = logging.getLogger("carebridge.relay")

T = TypeVar("T")
LEASE = timedelta(seconds=30)
PRUNE_EVERY = timedelta(minutes=10)


def claim(database: Database, *, now: datetime, limit: int = 500) -> list[Event]:
    """Lease up to `limit` unpublished events whose lease is free, oldest first."""
    with database.unit_of_work() as session:
        free = (OutboxEvent.locked_until.is_(None)) | (OutboxEvent.locked_until < now)
        rows = session.execute(
            select(OutboxEvent.id, OutboxEvent.type, OutboxEvent.payload, OutboxEvent.created_at)
            .where(OutboxEvent.published_at.is_(None), free)
            .order_by(OutboxEvent.created_at).limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if rows:
            session.execute(update(OutboxEvent).where(OutboxEvent.id.in_([r.id for r in rows]))
                            .values(locked_until=now + LEASE, attempts=OutboxEvent.attempts + 1))
    return [Event(id=r.id, type=r.type, payload=r.payload, created_at=r.created_at) for r in rows]


def mark_published(database: Database, events: list[Event], *, now: datetime) -> None:
    with database.unit_of_work() as session:
        session.execute(update(OutboxEvent).where(OutboxEvent.id.in_([e.id for e in events]))
                        .values(published_at=now, locked_until=None))


def release(database: Database, events: list[Event]) -> None:
    """After a failed publish: free the lease now, so the next try need not wait for it to expire."""
    with database.unit_of_work() as session:
        session.execute(update(OutboxEvent).where(OutboxEvent.id.in_([e.id for e in events]))
                        .values(locked_until=None))


def prune(database: Database, *, now: datetime, retention_days: int) -> int:
    with database.unit_of_work() as session:
        result = session.execute(delete(OutboxEvent).where(
            OutboxEvent.published_at.is_not(None),
            OutboxEvent.published_at < now - timedelta(days=retention_days)))
    return int(getattr(result, "rowcount", 0) or 0)


class OutboxRelay(BackgroundLoop):
    def __init__(self, database: Database, bus: EventBus, *, clock: Clock | None = None,
                 poll_seconds: float = 1.0, retention_days: int = 7, batch: int = 500) -> None:
        self.database = database
        self.bus = bus
        self.clock = clock or SystemClock()
        self.poll_seconds = poll_seconds
        self.retention_days = retention_days
        self.batch = batch
        self.published = 0
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_prune: datetime | None = None

    def _poke(self) -> None:
        if self._loop is not None and self._wake is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._wake.set)

    async def _blocking(self, fn: Callable[[], T]) -> T:
        """Runs a database step in a worker thread; on SQLite behind the process's write gate, like a request."""
        loop = asyncio.get_running_loop()
        gate = self.database.sqlite_gate() if self.database.is_sqlite else None
        if gate is not None:
            await gate.acquire()
        try:
            return await loop.run_in_executor(None, fn)
        finally:
            if gate is not None:
                gate.release()

    async def run_once(self) -> int:
        """Publishes what is pending now; the number of events published."""
        now = self.clock.now()
        events = await self._blocking(partial(claim, self.database, now=now, limit=self.batch))
        if not events:
            return 0
        try:
            await self.bus.publish(events)
        except Exception:
            log.exception("publishing %d events to the %s bus failed; they stay queued", len(events), self.bus.name)
            await self._blocking(partial(release, self.database, events))
            raise
        await self._blocking(partial(mark_published, self.database, events, now=self.clock.now()))
        self.published += len(events)
        return len(events)

    async def _maybe_prune(self) -> None:
        now = self.clock.now()
        if self._last_prune is None or now - self._last_prune >= PRUNE_EVERY:
            self._last_prune = now
            await self._blocking(partial(prune, self.database, now=now, retention_days=self.retention_days))

    async def run_forever(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        add_commit_listener(self._poke)
        try:
            while True:
                self._wake.clear()
                try:
                    while await self.run_once() >= self.batch:
                        pass
                    await self._maybe_prune()
                except asyncio.CancelledError:
                    raise
                except Exception:  # logged in run_once or here; back off one poll and try again
                    log.exception("outbox relay step failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
        finally:
            remove_commit_listener(self._poke)
