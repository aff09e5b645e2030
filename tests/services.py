"""External services the suite talks to for real (brokers on this machine). Outside CI a test whose service is
down skips with the reason; in CI (`CI=true`) it fails, so a missing broker never passes silently."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import IN_CI


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require(name: str, host: str, port: int) -> None:
    if reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message} (CI must run it)")
    pytest.skip(message)


NATS_URL = "nats://127.0.0.1:4222"


def require_nats() -> str:
    require("NATS", "127.0.0.1", 4222)
    return NATS_URL


MQTT_URL = "mqtt://127.0.0.1:1883"


def require_mqtt() -> str:
    require("Mosquitto (MQTT)", "127.0.0.1", 1883)
    return MQTT_URL
