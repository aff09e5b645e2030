"""A registered device for a clinic patient, and a helper that builds readings at the test clock's time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carebridge.kernel.clock import FixedClock
from carebridge.security import Role
from tests.factories import Clinic, Factory


@dataclass
class Rig:
    clinic: Clinic
    factory: Factory
    device_id: str
    key: dict[str, str]

    @property
    def nurse(self) -> dict[str, str]:
        """A fresh token each time, so tests that move the clock past a token's 15 minutes keep working."""
        return self.factory.headers(self.clinic.users[Role.nurse])


@pytest.fixture
def rig(client: TestClient, factory: Factory) -> Rig:
    clinic = factory.clinic()
    nurse = factory.headers(clinic.users[Role.nurse])
    r = client.post(f"/api/v1/patients/{clinic.patient_id}/devices", headers=nurse,
                    json={"type": "pulse_oximeter", "serial": "PO-0001"})
    assert r.status_code == 201, r.text
    body = r.json()
    return Rig(clinic=clinic, factory=factory, device_id=body["id"], key={"X-Device-Key": body["credential"]})


def readings(clock: FixedClock, values: dict[str, Any], *, minutes_ago: float = 0) -> list[dict[str, Any]]:
    at = (clock.now() - timedelta(minutes=minutes_ago)).isoformat()
    return [{"type": t, "value": v, "at": at} for t, v in values.items()]


# RCP NEWS2 (2017) Chart 1 cases: each parameter's score noted.
NORMAL = {"respiratory_rate": 16, "spo2": 97, "on_oxygen": 0, "systolic_bp": 125, "heart_rate": 72,
          "consciousness": "A", "temperature": 36.8}  # all 0 → NEWS2 0, low
MEDIUM_5 = {"respiratory_rate": 22, "spo2": 94, "on_oxygen": 0, "systolic_bp": 105, "heart_rate": 95,
            "consciousness": "A", "temperature": 37.0}  # 2 + 1 + 0 + 1 + 1 + 0 + 0 = 5 → medium
RED_SINGLE = {**NORMAL, "respiratory_rate": 26}  # RR ≥ 25 scores 3 alone → 3, low-medium (red score)
HIGH_7 = {"respiratory_rate": 26, "spo2": 91, "on_oxygen": 1, "systolic_bp": 95, "heart_rate": 120,
          "consciousness": "A", "temperature": 38.5}  # 3 + 3 + 2 + 2 + 2 + 0 + 1 = 13 → high
