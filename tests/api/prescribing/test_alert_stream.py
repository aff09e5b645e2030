"""The live alert stream behind the prescriber page: a record change re-checks the patient's draft, the run's
`prescription.checked` event reaches the stream of that patient (and no other), and opening the stream asks the
policy. The stream is driven directly (no wall-clock sleeps): the relay publishes when told."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from fastapi.testclient import TestClient

from carebridge.contexts.prescribing.reactions import RecheckJob
from carebridge.contexts.prescribing.stream import alert_events
from carebridge.kernel.bus import InProcessBus
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.kernel.relay import OutboxRelay
from carebridge.security import Role
from tests.factories import Factory


class _Connected:
    async def is_disconnected(self) -> bool:
        return False


def _draft(client: TestClient, headers: dict[str, str], patient: uuid.UUID, name: str) -> str:
    r = client.post("/api/v1/prescriptions", headers=headers, json={"patient_id": str(patient), "items": [
        {"medication": name, "dose": 500, "unit": "mg", "times_per_day": 3, "duration_days": 5}]})
    assert r.status_code == 201, r.text
    rx_id: str = r.json()["id"]
    return rx_id


def _parse(chunk: bytes) -> tuple[str, dict[str, Any]]:
    lines = dict(line.split(": ", 1) for line in chunk.decode().strip().splitlines())
    return lines["event"], json.loads(lines["data"])


def test_a_new_allergy_pushes_the_recheck_to_the_patients_stream_only(
        client: TestClient, factory: Factory, database: Database, clock: FixedClock) -> None:
    clinic = factory.clinic()
    other = factory.patient(organization_id=clinic.org, given="Kiran", family="Rao")
    doc = factory.headers(clinic.users[Role.practitioner])
    draft = _draft(client, doc, clinic.patient_id, "amoxicillin")
    _draft(client, doc, other, "amoxicillin")
    job = RecheckJob(database, clock)
    job.run_once()
    bus = InProcessBus()
    relay = OutboxRelay(database, bus, clock=clock)

    async def scenario() -> list[bytes]:
        await relay.run_once()  # what came before the page opened is not pushed
        gen = alert_events(_Connected(), bus, clinic.patient_id, heartbeat=5)  # type: ignore[arg-type]
        assert (await gen.__anext__()).startswith(b": connected")
        for patient in (other, clinic.patient_id):
            r = client.post(f"/api/v1/patients/{patient}/allergies", headers=doc,
                            json={"substance": "penicillin", "category": "medication", "criticality": "high"})
            assert r.status_code == 201, r.text
        assert job.run_once() >= 2  # both patients' drafts re-checked
        await relay.run_once()
        chunk = await asyncio.wait_for(gen.__anext__(), 5)
        await gen.aclose()  # type: ignore[attr-defined]  # an async generator underneath
        return [chunk]

    (chunk,) = asyncio.run(scenario())
    event, data = _parse(chunk)
    assert event == "prescription.checked"
    assert data["payload"] == {"prescription_id": draft, "patient_id": str(clinic.patient_id),
                               "outcome": "blocking", "trigger": "event", "blocking": 1}
    assert "penicillin" not in chunk.decode()  # ids and counts only: the page fetches the alerts itself


def test_opening_the_stream_asks_the_policy(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    url = "/api/v1/prescription-alerts/stream"
    stranger = factory.headers(factory.user(Role.practitioner, organization_id=clinic.other_org))
    assert client.get(url, params={"patient": str(clinic.patient_id)}).status_code == 401
    assert client.get(url, headers=stranger, params={"patient": str(clinic.patient_id)}).status_code == 403
    doc = factory.headers(clinic.users[Role.practitioner])
    assert client.get(url, headers=doc, params={"patient": str(uuid.uuid4())}).status_code == 404
    assert client.get(url, headers=doc).status_code == 422
    assert client.get(url, headers=doc, params={"patient": "nope"}).status_code == 422
