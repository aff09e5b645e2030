"""A real FHIR client (fhirpy) against `uvicorn carebridge.main:app_factory` in a subprocess: create, search with
paging, a transaction Bundle, `$everything`, history, and a Bulk Data `$export` polled until its manifest (run
by the export worker inside the server process, state in the database)."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.kernel.migrate import upgrade
from carebridge.main import create_app
from carebridge.security import Role
from carebridge.settings import Settings
from tests.conftest import TEST_SECRET
from tests.factories import Factory
from tests.servers import fresh_database_url, running_server

fhirpy = pytest.importorskip("fhirpy")
pytestmark = [pytest.mark.e2e]


@dataclass
class Server:
    base: str
    token: str
    patient_id: str


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    url = fresh_database_url(tmp_path, "fhir_e2e")
    upgrade(url)
    data_dir = tmp_path / "data"
    settings = Settings(env="test", data_dir=data_dir, database_url=url, secret_key=TEST_SECRET, log_level="WARNING")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREBRIDGE_")}
    env.update(CAREBRIDGE_ENV="test", CAREBRIDGE_DATA_DIR=str(data_dir), CAREBRIDGE_DATABASE_URL=url,
               CAREBRIDGE_SECRET_KEY=TEST_SECRET, CAREBRIDGE_LOG_LEVEL="WARNING", CAREBRIDGE_EVENT_RELAY="false")
    database = Database(url)
    clock = FixedClock(datetime.now(UTC))
    factory = Factory(app=create_app(settings, database=database, clock=clock), database=database, clock=clock)
    org = factory.organization()
    patient_id = factory.patient(organization_id=org, given="Kavya", family="Nair")
    token = factory.token(factory.user(Role.practitioner, organization_id=org))
    try:
        with running_server(env, tmp_path / "server.log") as base:
            yield Server(base=base, token=token, patient_id=str(patient_id))
    finally:
        database.dispose()


def _vital(patient_ref: str, value: float) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "vital-signs"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
            "subject": {"reference": patient_ref}, "effectiveDateTime": f"2026-03-01T08:{int(value) % 60:02d}:00Z",
            "valueQuantity": {"value": value, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}}


def test_a_fhir_client_creates_searches_pages_and_exports(server: Server) -> None:
    client = fhirpy.SyncFHIRClient(f"{server.base}/fhir/R4", authorization=f"Bearer {server.token}")
    ref = f"Patient/{server.patient_id}"
    # create
    for i in range(23):
        client.resource("Observation", **_vital(ref, 60 + i)).save()
    # search and paging (fhirpy follows the `next` links)
    found = client.resources("Observation").search(patient=ref, code="http://loinc.org|8867-4").limit(10)
    first_page = found.fetch()
    assert len(first_page) == 10
    everything_found = found.fetch_all()
    assert sorted(o["valueQuantity"]["value"] for o in everything_found) == [60 + i for i in range(23)]
    # a transaction: a new patient and their observation, linked by a urn:uuid
    placeholder = f"urn:uuid:{uuid.uuid4()}"
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "request": {"method": "POST", "url": "Observation"},
         "resource": _vital(placeholder, 99)},
        {"fullUrl": placeholder, "request": {"method": "POST", "url": "Patient"},
         "resource": {"resourceType": "Patient", "name": [{"family": "Menon", "given": ["Arjun"]}],
                      "birthDate": "1975-06-01"}}]}
    answer = client.execute("", method="post", data=bundle)  # fhirpy posts to the base with a slash
    assert answer["type"] == "transaction-response"
    new_patient = answer["entry"][1]["resource"]["id"]
    linked = client.resources("Observation").search(patient=f"Patient/{new_patient}").fetch()
    assert [o["valueQuantity"]["value"] for o in linked] == [99]
    # $everything
    every = client.execute(f"Patient/{new_patient}/$everything", method="get")
    assert {e["resource"]["resourceType"] for e in every["entry"]} >= {"Patient", "Observation"}
    # history: a resource kept as JSON, created then updated
    note = client.resource("Basic", code={"text": "first"}, subject={"reference": ref})
    note.save()
    note["code"] = {"text": "second"}
    note.save()
    history = client.execute(f"Basic/{note.id}/_history", method="get")
    assert [e["resource"]["code"]["text"] for e in history["entry"]] == ["second", "first"]
    # read back through the client
    assert client.reference("Basic", note.id).to_resource()["code"]["text"] == "second"
    # Bulk Data $export: the spec's plain HTTP (fhirpy has no bulk client)
    status, manifest = _export(server, "/fhir/R4/Patient/$export?_type=Patient,Observation")
    outputs = {o["type"]: o for o in manifest["output"]}
    assert outputs["Observation"]["count"] == 24 and outputs["Patient"]["count"] == 2
    with httpx.Client(headers={"Authorization": f"Bearer {server.token}"}, timeout=30) as http:
        download = http.get(outputs["Patient"]["url"])
        assert download.headers["content-type"].startswith("application/fhir+ndjson")
        assert {json.loads(line)["id"] for line in download.text.splitlines()} == {server.patient_id, new_patient}
        # DELETE on the status URL removes the job and its files
        assert http.delete(status).status_code == 202
        assert http.get(status).status_code == 404
        assert http.get(outputs["Patient"]["url"]).status_code == 404


def _export(server: Server, path: str) -> tuple[str, dict[str, Any]]:
    with httpx.Client(base_url=server.base, headers={"Authorization": f"Bearer {server.token}",
                                                     "Accept": "application/fhir+json"}, timeout=30) as http:
        kick = http.get(path, headers={"Prefer": "respond-async"})
        assert kick.status_code == 202, kick.text
        status = kick.headers["Content-Location"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            poll = http.get(status)
            if poll.status_code == 200:
                manifest: dict[str, Any] = poll.json()
                return status, manifest
            assert poll.status_code == 202 and "X-Progress" in poll.headers
            time.sleep(0.2)
    raise AssertionError("the export did not finish within 60 s")
