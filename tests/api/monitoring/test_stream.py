"""The live stream: a clinician sees vitals and alerts of the patients they named and were allowed, nothing else."""

from __future__ import annotations

import asyncio
import uuid

from fastapi.testclient import TestClient

from carebridge.contexts.monitoring import ingest_from_device
from carebridge.contexts.monitoring.stream import live_events
from carebridge.kernel.bus import InProcessBus
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.kernel.relay import OutboxRelay
from carebridge.security import Role
from tests.api.monitoring.conftest import MEDIUM_5, Rig, readings
from tests.factories import Factory


class _Connected:
    async def is_disconnected(self) -> bool:
        return False


def test_stream_carries_vitals_then_the_alert_for_allowed_patients_only(
        client: TestClient, rig: Rig, clock: FixedClock, database: Database, factory: Factory) -> None:
    other = factory.patient(organization_id=rig.clinic.org)
    nurse = rig.nurse
    other_key = {"X-Device-Key": client.post(f"/api/v1/patients/{other}/devices", headers=nurse,
                                             json={"type": "patch", "serial": "P-2"}).json()["credential"]}
    bus = InProcessBus()
    relay = OutboxRelay(database, bus, clock=clock)

    async def scenario() -> list[str]:
        await relay.run_once()  # earlier events (none of them monitoring's) out of the way
        gen = live_events(_Connected(), bus, frozenset({rig.clinic.patient_id}))  # type: ignore[arg-type]
        assert (await gen.__anext__()).startswith(b": connected")
        for key in (other_key, rig.key):
            with database.unit_of_work() as s:
                ingest_from_device(s, credential=key["X-Device-Key"], items=readings(clock, MEDIUM_5),
                                   now=clock.now())
        await relay.run_once()
        chunks = [(await asyncio.wait_for(gen.__anext__(), 1)).decode() for _ in range(2)]
        await gen.aclose()
        return chunks

    chunks = asyncio.run(scenario())
    assert "event: monitoring.vitals_received" in chunks[0]
    assert "event: monitoring.alert_raised" in chunks[1]
    assert all(str(rig.clinic.patient_id) in c and str(other) not in c for c in chunks)


def test_stream_refuses_patients_outside_the_viewers_reach(client: TestClient, rig: Rig, factory: Factory) -> None:
    stranger = factory.headers(factory.user(Role.nurse, organization_id=rig.clinic.other_org))
    url = "/api/v1/monitoring/stream"
    assert client.get(url, headers=stranger, params={"patient": str(rig.clinic.patient_id)}).status_code == 403
    assert client.get(url, headers=rig.nurse).status_code == 422
    assert client.get(url, headers=rig.nurse, params={"patient": str(uuid.uuid4())}).status_code == 404
