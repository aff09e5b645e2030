"""Care requests are transient: unsaved ones are deleted after the TTL, saved ones stay (FixedClock)."""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from carebridge.contexts.care import purge_expired
from carebridge.contexts.care.models import CareRequest
from carebridge.contexts.patients import merge_handlers
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.security import Role
from tests.factories import Factory

HERE = {"lat": 12.97, "lng": 77.59}


def test_purge_removes_expired_unsaved_requests_and_keeps_saved_ones(app: FastAPI, client: TestClient,
                                                                     factory: Factory, clock: FixedClock,
                                                                     database: Database) -> None:
    app.state.settings = app.state.settings.model_copy(update={"care_request_ttl_minutes": 60})
    clinic = factory.clinic()
    patient = factory.headers(clinic.users[Role.patient])
    body = {"symptoms": "fever and runny nose since yesterday", "location": HERE}
    anonymous = client.post("/api/v1/care-requests", json=body).json()
    kept = client.post("/api/v1/care-requests", json=body, headers=patient).json()
    unsaved = client.post("/api/v1/care-requests", json=body, headers=patient).json()
    assert client.post(f"/api/v1/care-requests/{kept['id']}/save", headers=patient).status_code == 200

    clock.advance(minutes=59)
    with database.unit_of_work() as s:
        assert purge_expired(s, now=clock.now()) == 0
    clock.advance(minutes=2)
    patient = factory.headers(clinic.users[Role.patient])  # a fresh sign-in: the first token has expired
    # expired requests are gone to readers at once, even before the purge runs
    assert client.get(f"/api/v1/care-requests/{unsaved['id']}", headers=patient).status_code == 404
    with database.unit_of_work() as s:
        assert purge_expired(s, now=clock.now()) == 2
    with database.unit_of_work() as s:
        left = set(s.scalars(select(CareRequest.id).where(
            CareRequest.id.in_([uuid.UUID(r["id"]) for r in (anonymous, kept, unsaved)]))))
    assert {str(i) for i in left} == {kept["id"]}
    clock.advance(days=30)
    patient = factory.headers(clinic.users[Role.patient])
    assert client.get(f"/api/v1/care-requests/{kept['id']}", headers=patient).status_code == 200


def test_compat_queries_expire_too(app: FastAPI, client: TestClient, factory: Factory, clock: FixedClock) -> None:
    admin = factory.headers(factory.user(Role.admin))
    key = client.post("/api/v1/api-keys", json={"app_name": "App"}, headers=admin).json()["key"]
    auth = {"X-API-Key": key}
    client.post("/diagnose", json={"query": "fever", "query_id": {"query_id": "q-9"}}, headers=auth)
    geo = {"location": HERE, "cust_id": {"cust_id": "c-1"}, "query_id": {"query_id": "q-9"}}
    assert client.post("/geo", json=geo, headers=auth).status_code == 200
    clock.advance(minutes=app.state.settings.care_request_ttl_minutes, seconds=1)
    assert client.post("/geo", json=geo, headers=auth).status_code == 404



def test_a_patient_merge_moves_their_care_requests(client: TestClient, factory: Factory, clock: FixedClock,
                                                   database: Database) -> None:
    clinic = factory.clinic()
    patient = factory.headers(clinic.users[Role.patient])
    made = client.post("/api/v1/care-requests", json={"symptoms": "fever", "location": HERE}, headers=patient).json()
    assert "care" in merge_handlers()
    with database.unit_of_work() as s:
        moved = merge_handlers()["care"](s, source_id=clinic.patient_id, target_id=clinic.other_patient_id,
                                         now=clock.now())
    assert moved == {"care_requests": 1}
    with database.unit_of_work() as s:
        row = s.get(CareRequest, uuid.UUID(made["id"]))
        assert row is not None and row.patient_id == clinic.other_patient_id


def test_the_service_purge_job_deletes_expired_requests(client: TestClient, clock: FixedClock,
                                                        database: Database) -> None:
    from carebridge.contexts.care.purge_job import PurgeJob

    made = client.post("/api/v1/care-requests", json={"symptoms": "mild headache since morning",
                                                      "location": HERE}).json()
    job = PurgeJob(database, clock)
    assert job.run_once() == 0  # not expired yet
    clock.advance(days=2)  # past the default 24 h
    assert job.run_once() == 1
    with database.unit_of_work() as s:
        assert s.get(CareRequest, uuid.UUID(made["id"])) is None
