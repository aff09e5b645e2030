"""The Kafka event bus (for sites that run Kafka): monitoring alerts published through it reach every other
process's subscribers. The issue asks for this only where a broker is reachable, and this machine and CI have
none, so the broker test skips (in CI too) when nothing listens at CAREBRIDGE_TEST_KAFKA (127.0.0.1:9092 by
default); the parts that need no broker always run."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer

from carebridge.kernel.bus import Event, KafkaBus, make_bus
from tests.services import reachable

BOOTSTRAP = os.environ.get("CAREBRIDGE_TEST_KAFKA", "127.0.0.1:9092")


def _broker() -> str:
    host, _, port = BOOTSTRAP.rpartition(":")
    if not reachable(host or "127.0.0.1", int(port or 9092)):
        # deliberately a skip even in CI: the issue asks for the Kafka adapter to be tested where a broker is
        # reachable, and CI provides none (NATS JetStream is the tested multi-process bus)
        pytest.skip(f"no Kafka broker reachable at {BOOTSTRAP}; the Kafka test runs only where one is "
                    "(set CAREBRIDGE_TEST_KAFKA=host:port)")
    return BOOTSTRAP


def _alert() -> Event:
    return Event(id=uuid.uuid4(), type="monitoring.alert_raised", created_at=datetime.now(UTC),
                 payload={"patient_id": str(uuid.uuid4()), "kind": "news2", "severity": "medium", "score": 5})


def test_the_kafka_bus_is_chosen_by_the_setting_and_refuses_to_publish_before_it_starts() -> None:
    bus = make_bus("kafka", nats_url="nats://unused", kafka_bootstrap="127.0.0.1:1")
    assert isinstance(bus, KafkaBus) and bus.bootstrap == "127.0.0.1:1"
    with pytest.raises(RuntimeError, match="not started"):
        asyncio.run(bus.publish([_alert()]))


def test_event_json_round_trips_what_the_kafka_bus_sends() -> None:
    event = _alert()
    assert Event.from_json(event.to_json()) == event


def test_an_alert_published_by_one_process_reaches_the_subscribers_of_another() -> None:
    bootstrap = _broker()
    topic = f"carebridge.test.{uuid.uuid4().hex[:12]}"

    async def scenario() -> Event | None:
        sender, receiver = KafkaBus(bootstrap, topic=topic), KafkaBus(bootstrap, topic=topic)
        await sender.start()
        await receiver.start()
        subscription = receiver.subscribe(["monitoring."])
        raw = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await raw.start()
        try:
            for _ in range(20):  # the consumer's partitions are assigned asynchronously: send until one lands
                await raw.send_and_wait(topic, b"not an event")  # ignored, and the consumer keeps going
                await sender.publish([_alert()])
                got = await subscription.next(timeout=1.5)
                if got is not None:
                    return got
            return None
        finally:
            await raw.stop()
            await sender.close()
            await receiver.close()

    got = asyncio.run(scenario())
    assert got is not None, "the second process never received the alert"
    assert got.type == "monitoring.alert_raised" and got.payload["kind"] == "news2"
