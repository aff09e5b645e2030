"""MQTT ingestion: a gateway worker subscribed to `carebridge/devices/+/vitals` that feeds every message through
the same authentication and validation path as `POST /api/v1/vitals`.

Payload: JSON `{"credential": "cbd_…", "readings": [{type, value, unit?, at}, …]}` (a single reading object in
place of the list is accepted). The topic names the device, and the credential must be that device's. The
per-item report (or the refusal) is published back on `carebridge/devices/{id}/vitals/report`, so a device on
MQTT learns of rejected readings exactly as an HTTP client does. Each message is one transaction.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from carebridge.contexts.monitoring import service
from carebridge.contexts.monitoring.schemas import MAX_BATCH
from carebridge.kernel.clock import Clock
from carebridge.kernel.db import Database
from carebridge.kernel.errors import Problem

log = logging.getLogger("carebridge.monitoring.gateway")

TOPIC_FILTER = "carebridge/devices/+/vitals"
MAX_PAYLOAD = 1_048_576


def topic_for(device_id: uuid.UUID | str) -> str:
    return f"carebridge/devices/{device_id}/vitals"


def report_topic(device_id: uuid.UUID | str) -> str:
    return f"{topic_for(device_id)}/report"


def handle_message(database: Database, clock: Clock, topic: str, payload: bytes) -> dict[str, Any]:
    """Process one message; returns the report (or `{"error": …}`) that is published back. Never raises."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[:2] != ["carebridge", "devices"] or parts[3] != "vitals":
        return {"error": "unexpected topic"}
    try:
        device_id = uuid.UUID(parts[2])
    except ValueError:
        return {"error": "the topic's device id is not a UUID"}
    if len(payload) > MAX_PAYLOAD:
        return {"error": "payload too large"}
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {"error": "payload is not JSON"}
    if not isinstance(body, dict):
        return {"error": "payload must be a JSON object"}
    items = body.get("readings", [body.get("reading")] if "reading" in body else None)
    if not isinstance(items, list) or not items or len(items) > MAX_BATCH:
        return {"error": "readings must be a list of 1 to 5000 readings"}
    credential = body.get("credential")
    try:
        with database.unit_of_work() as session:
            report = service.ingest_from_device(session, credential=credential if isinstance(credential, str)
                                                else None, items=items, now=clock.now(), channel="mqtt",
                                                device_id=device_id)
    except Problem as exc:
        return {"error": exc.detail}
    return report.model_dump()


class MqttGateway:
    """Runs paho's network loop in its own thread; messages are handled there, one transaction each."""

    def __init__(self, database: Database, clock: Clock, url: str, *, client_id: str | None = None) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 1883
        self.database = database
        self.clock = clock
        self.handled = 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"carebridge-gw-{uuid.uuid4()}")
        if parts.username:
            self.client.username_pw_set(parts.username, parts.password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        client.subscribe(TOPIC_FILTER, qos=1)  # re-subscribed after every reconnect

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            result = handle_message(self.database, self.clock, message.topic, bytes(message.payload))
        except Exception:  # a database outage must not kill the network thread
            log.exception("mqtt message failed")
            result = {"error": "server error; retry later"}
        self.handled += 1
        parts = message.topic.split("/")
        if len(parts) == 4:
            client.publish(report_topic(parts[2]), json.dumps(result, default=str), qos=0)

    def start(self) -> None:
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
