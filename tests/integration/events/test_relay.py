"""The outbox relay: a committed event reaches live subscribers exactly as committed, a rolled-back one never
does, a failed publish loses nothing, a lease keeps two relays off the same rows until it expires, and published
events are pruned after the retention period. NATS JetStream is exercised against the machine's real server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from carebridge.kernel.bus import Event, InProcessBus, NatsBus
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.kernel.events import OutboxEvent, add_commit_listener, emit, remove_commit_listener
from carebridge.kernel.relay import OutboxRelay, claim
from tests.services import require_nats

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


class FlakyBus(InProcessBus):
    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def publish(self, events: Sequence[Event]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("broker down")
        await super().publish(events)


def _pending(database: Database) -> list[OutboxEvent]:
    with database.unit_of_work() as s:
        return list(s.scalars(select(OutboxEvent).where(OutboxEvent.published_at.is_(None))
                              .order_by(OutboxEvent.created_at)))


def test_committed_events_reach_subscribers_and_rolled_back_ones_never(database: Database,
                                                                      clock: FixedClock) -> None:
    bus = InProcessBus()
    relay = OutboxRelay(database, bus, clock=clock)

    async def scenario() -> tuple[list[Event], list[Event]]:
        appointments = bus.subscribe(["appointment."])
        everything = bus.subscribe()
        with database.unit_of_work() as s:
            emit(s, "appointment.booked", {"appointment_id": "a-1"})
            emit(s, "patient.created", {"patient_id": "p-1"})
        with pytest.raises(RuntimeError), database.unit_of_work() as s:
            emit(s, "appointment.cancelled", {"appointment_id": "never"})
            raise RuntimeError("the change failed")
        assert await relay.run_once() == 2
        assert await relay.run_once() == 0  # nothing published twice
        got_a = [e for e in [await appointments.next(0.1)] if e]
        got_all = [e for e in [await everything.next(0.1), await everything.next(0.1)] if e]
        assert await everything.next(0.05) is None
        return got_a, got_all

    only_appointments, everything = asyncio.run(scenario())
    assert [(e.type, e.payload) for e in only_appointments] == [("appointment.booked", {"appointment_id": "a-1"})]
    assert [e.type for e in everything] == ["appointment.booked", "patient.created"]
    assert _pending(database) == []


def test_a_failed_publish_keeps_the_events_for_the_next_try(database: Database, clock: FixedClock) -> None:
    bus = FlakyBus(failures=1)
    relay = OutboxRelay(database, bus, clock=clock)
    with database.unit_of_work() as s:
        event_id = emit(s, "facility.beds_updated", {"facility_id": "f-1"})

    async def scenario() -> Event | None:
        sub = bus.subscribe()
        with pytest.raises(ConnectionError):
            await relay.run_once()
        pending = _pending(database)
        assert [(p.id, p.attempts, p.locked_until) for p in pending] == [(event_id, 1, None)]
        assert await relay.run_once() == 1  # no need to wait for a lease: the failure released it
        return await sub.next(0.1)

    delivered = asyncio.run(scenario())
    assert delivered is not None and delivered.id == event_id
    assert _pending(database) == []


def test_a_lease_keeps_a_second_relay_off_until_it_expires(database: Database, clock: FixedClock) -> None:
    with database.unit_of_work() as s:
        event_id = emit(s, "patient.updated", {"patient_id": "p-2"})
    first = claim(database, now=clock.now())
    assert [e.id for e in first] == [event_id]
    assert claim(database, now=clock.now() + timedelta(seconds=10)) == []  # the first relay still holds it
    # the first relay died without marking: after the lease another relay publishes it again (at least once)
    again = claim(database, now=clock.now() + timedelta(seconds=31))
    assert [e.id for e in again] == [event_id]


def test_published_events_are_pruned_after_the_retention_period(database: Database, clock: FixedClock) -> None:
    relay = OutboxRelay(database, InProcessBus(), clock=clock, retention_days=7)
    with database.unit_of_work() as s:
        emit(s, "patient.created", {"patient_id": "old"})
    asyncio.run(relay.run_once())
    with database.unit_of_work() as s:
        emit(s, "patient.created", {"patient_id": "unpublished"})

    def count() -> int:
        with database.unit_of_work() as s:
            return int(s.scalar(select(func.count()).select_from(OutboxEvent)) or 0)

    before = count()
    clock.advance(days=6)
    asyncio.run(relay._maybe_prune())
    assert count() == before
    clock.advance(days=2)
    relay._last_prune = None
    asyncio.run(relay._maybe_prune())
    assert count() == before - 1
    assert [p.payload for p in _pending(database)] == [{"patient_id": "unpublished"}]


def test_a_commit_with_events_wakes_the_relay(database: Database) -> None:
    woken: list[int] = []

    def listener() -> None:
        woken.append(1)

    add_commit_listener(listener)
    try:
        with database.unit_of_work() as s:
            s.execute(select(1))
        assert woken == []  # a commit without events wakes nobody
        with database.unit_of_work() as s:
            emit(s, "patient.created", {"patient_id": "p-3"})
        assert woken == [1]
    finally:
        remove_commit_listener(listener)


@pytest.mark.nats
def test_nats_jetstream_carries_events_between_two_processes_and_drops_a_republish() -> None:
    url = require_nats()
    stream = f"CB_TEST_{uuid.uuid4().hex[:8].upper()}"

    async def scenario() -> tuple[list[str], int]:
        prefix = f"cbtest.{stream.lower()}"  # its own subjects: the service's stream may exist on this broker
        publisher = NatsBus(url, stream=stream, subject_prefix=prefix)
        listener = NatsBus(url, stream=stream, subject_prefix=prefix)
        await publisher.start()
        await listener.start()
        try:
            sub = listener.subscribe(["monitoring."])
            event = Event(id=uuid.uuid4(), type="monitoring.alert_raised", payload={"alert_id": "x"},
                          created_at=NOW)
            other = Event(id=uuid.uuid4(), type="patient.created", payload={}, created_at=NOW)
            await publisher.publish([event, other])
            await publisher.publish([event])  # a relay that crashed before marking publishes it again
            got = []
            while (e := await sub.next(1.0)) is not None:
                got.append(str(e.id))
                if len(got) > 3:
                    break
            info = await publisher._js.stream_info(stream)
            return got, int(info.state.messages)
        finally:
            js = publisher._js
            await js.delete_stream(stream)
            await publisher.close()
            await listener.close()

    received, stored = asyncio.run(scenario())
    # the stream kept one copy of each event (Nats-Msg-Id de-duplication), and the listener saw the one it
    # subscribed to exactly once
    assert stored == 2
    assert len(received) == 1
