"""The event bus: what carries committed domain events from the outbox to whoever listens live.

Events are written to `outbox_events` in the transaction of the change (`kernel.events.emit`), so an event
exists if and only if its change committed. The relay (`kernel.relay`) publishes them here. Three buses share
one interface, chosen by `CAREBRIDGE_EVENT_BUS`:

* `inprocess` (default): fan-out to the subscribers of this process; enough for one server process.
* `nats`: NATS JetStream. Every process publishes what its relay claimed and every process subscribes, so an
  event committed behind one API process reaches the live clients of all of them. The event id is sent as
  `Nats-Msg-Id`, so JetStream drops a re-publish after a relay crash between publish and mark (at-least-once
  upstream, de-duplicated within the stream's window).
* `kafka`: the same over one Kafka topic (key = event type), for sites that already run Kafka.

Subscribers get an async iterator with a bounded queue: a client that cannot keep up loses its oldest events
(counted in `dropped`) rather than growing memory without limit or slowing everyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import nats
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from nats.js.api import DeliverPolicy, StreamConfig

log = logging.getLogger("carebridge.bus")

SUBJECT_PREFIX = "carebridge.events"
NATS_STREAM = "CAREBRIDGE_EVENTS"
KAFKA_TOPIC = "carebridge.events"
SUBSCRIBER_QUEUE = 1000


@dataclass(frozen=True, slots=True)
class Event:
    id: uuid.UUID
    type: str
    payload: dict[str, Any]
    created_at: datetime

    def to_json(self) -> bytes:
        return json.dumps({"id": str(self.id), "type": self.type, "payload": self.payload,
                           "created_at": self.created_at.isoformat()}, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Event:
        data = json.loads(raw)
        return cls(id=uuid.UUID(data["id"]), type=str(data["type"]), payload=dict(data["payload"]),
                   created_at=datetime.fromisoformat(data["created_at"]))


@dataclass(eq=False)
class Subscription:
    """Events whose type starts with one of `prefixes` (all events when empty), in arrival order."""

    prefixes: tuple[str, ...]
    queue: asyncio.Queue[Event] = field(default_factory=lambda: asyncio.Queue(SUBSCRIBER_QUEUE))
    dropped: int = 0

    def wants(self, event: Event) -> bool:
        return not self.prefixes or event.type.startswith(self.prefixes)

    def offer(self, event: Event) -> None:
        if not self.wants(event):
            return
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    async def next(self, timeout: float | None = None) -> Event | None:
        """The next event, or None after `timeout` seconds without one (callers send heartbeats then)."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None


class EventBus(Protocol):
    name: str

    async def start(self) -> None: ...
    async def publish(self, events: Sequence[Event]) -> None: ...
    def subscribe(self, prefixes: Sequence[str] = ()) -> Subscription: ...
    def unsubscribe(self, subscription: Subscription) -> None: ...
    async def close(self) -> None: ...


class _FanOut:
    """Local delivery shared by every bus: each process hands what reaches it to its own subscribers."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()

    def subscribe(self, prefixes: Sequence[str] = ()) -> Subscription:
        subscription = Subscription(tuple(prefixes))
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def deliver(self, event: Event) -> None:
        for subscription in tuple(self._subscriptions):
            subscription.offer(event)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)


class InProcessBus(_FanOut):
    name = "inprocess"

    async def start(self) -> None:
        return None

    async def publish(self, events: Sequence[Event]) -> None:
        for event in events:
            self.deliver(event)

    async def close(self) -> None:
        return None


class NatsBus(_FanOut):
    """NATS JetStream: publishes into a stream over `carebridge.events.>` and delivers the stream's new messages
    to this process's subscribers through one ephemeral ordered consumer."""

    name = "nats"

    def __init__(self, url: str, *, stream: str = NATS_STREAM, subject_prefix: str = SUBJECT_PREFIX,
                 duplicate_window_seconds: float = 120.0) -> None:
        super().__init__()
        self.url = url
        self.stream = stream
        # JetStream refuses two streams over overlapping subjects, so a second stream needs its own prefix
        self.subject_prefix = subject_prefix
        self.duplicate_window_seconds = duplicate_window_seconds
        self._nc: Any = None
        self._js: Any = None

    async def start(self) -> None:
        self._nc = await nats.connect(self.url, connect_timeout=3, max_reconnect_attempts=-1,
                                      name="carebridge")
        self._js = self._nc.jetstream()
        config = StreamConfig(name=self.stream, subjects=[f"{self.subject_prefix}.>"],
                              duplicate_window=self.duplicate_window_seconds)
        try:
            await self._js.add_stream(config)
        except Exception:  # the stream exists (possibly with other limits an operator set): keep it
            await self._js.stream_info(self.stream)
        # an ordered consumer of the stream (not a core subscription): it sees each event once, after
        # JetStream's de-duplication, and only what arrives from now on
        await self._js.subscribe(f"{self.subject_prefix}.>", stream=self.stream, ordered_consumer=True,
                                 deliver_policy=DeliverPolicy.NEW, cb=self._on_message)

    async def _on_message(self, msg: Any) -> None:
        try:
            self.deliver(Event.from_json(msg.data))
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed event on %s", msg.subject)

    async def publish(self, events: Sequence[Event]) -> None:
        if self._js is None:
            raise RuntimeError("the NATS bus is not started")
        for event in events:
            await self._js.publish(f"{self.subject_prefix}.{event.type}", event.to_json(), stream=self.stream,
                                   headers={"Nats-Msg-Id": str(event.id)})

    async def close(self) -> None:
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.drain()
            self._nc = self._js = None


class KafkaBus(_FanOut):
    """Kafka: one topic, the event type as key (so one type stays ordered), an idempotent producer, and a
    consumer per process in its own group so every process sees every event."""

    name = "kafka"

    def __init__(self, bootstrap: str, *, topic: str = KAFKA_TOPIC) -> None:
        super().__init__()
        self.bootstrap = bootstrap
        self.topic = topic
        self._producer: Any = None
        self._consumer: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=True)
        await self._producer.start()
        self._consumer = AIOKafkaConsumer(self.topic, bootstrap_servers=self.bootstrap,
                                          group_id=f"carebridge-{uuid.uuid4()}", auto_offset_reset="latest")
        await self._consumer.start()
        self._task = asyncio.get_running_loop().create_task(self._consume())

    async def _consume(self) -> None:
        async for message in self._consumer:
            try:
                self.deliver(Event.from_json(message.value))
            except (ValueError, KeyError, TypeError):
                log.warning("ignoring a malformed event at offset %s", message.offset)

    async def publish(self, events: Sequence[Event]) -> None:
        if self._producer is None:
            raise RuntimeError("the Kafka bus is not started")
        for event in events:
            await self._producer.send_and_wait(self.topic, event.to_json(), key=event.type.encode())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        for client in (self._consumer, self._producer):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.stop()
        self._producer = self._consumer = self._task = None


def make_bus(kind: str, *, nats_url: str, kafka_bootstrap: str) -> EventBus:
    if kind == "nats":
        return NatsBus(nats_url)
    if kind == "kafka":
        return KafkaBus(kafka_bootstrap)
    return InProcessBus()
