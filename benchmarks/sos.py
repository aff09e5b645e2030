"""SOS raise latency on SQLite, through the real app (TestClient): p50 and p99 beside the ceiling.

Seeds a registry of emergency and other facilities around Pune, then raises SOS for one patient with a
linked caregiver and an emergency contact (the clock advances between raises so the rate limit stays out of
the way). Printed beside: the same run's `/healthz` p99, the floor any request pays.

    python -m benchmarks.sos [--raises 200] [--facilities 2000]   (from the repository root)
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from carebridge.contexts.facilities.schemas import FacilityCreate
from carebridge.contexts.facilities.service import upsert_many
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.kernel.migrate import upgrade
from carebridge.main import create_app
from carebridge.security import Role
from carebridge.settings import Settings
from tests.factories import Factory

CEILING_P99_MS = 100.0


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--raises", type=int, default=200)
    parser.add_argument("--facilities", type=int, default=2000)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        clock = FixedClock(datetime(2026, 3, 10, 9, 30, tzinfo=UTC))
        database = Database(url)
        settings = Settings(env="test", data_dir=Path(tmp), database_url=url, secret_key="x" * 48,
                            log_level="WARNING", access_log=False)
        app = create_app(settings, database=database, clock=clock)
        with database.unit_of_work() as s:
            upsert_many(s, [FacilityCreate.model_validate({
                "name": f"Facility {i}", "external_id": f"bench:{i}", "type": "hospital", "emergency": i % 5 == 0,
                "contact": {"phone": "+91 20 2612 3456"},
                "location": {"lat": 18.52 + rng.uniform(-1, 1), "lng": 73.85 + rng.uniform(-1, 1)}})
                for i in range(args.facilities)], now=clock.now())
        factory = Factory(app=app, database=database, clock=clock)
        org = factory.organization()
        pid = factory.patient(organization_id=org)
        patient = factory.user(Role.patient, patient_id=pid)
        factory.link_caregiver(factory.user(Role.caregiver), pid)
        with TestClient(app) as client:
            headers = factory.headers(patient)
            client.post(f"/api/v1/patients/{pid}/emergency-contacts", headers=headers,
                        json={"name": "Ravi Iyer", "phone": "+91 98200 22222"})
            health, raises = [], []
            for _ in range(args.raises):
                t0 = time.perf_counter()
                client.get("/healthz")
                health.append((time.perf_counter() - t0) * 1000)
            for i in range(args.raises + 5):  # the first 5 warm the statement caches and are not counted
                clock.advance(minutes=3)
                headers = factory.headers(patient)  # a fresh token: the clock moves faster than its lifetime
                body = {"location": {"lat": 18.52 + rng.uniform(-0.5, 0.5), "lng": 73.85 + rng.uniform(-0.5, 0.5)}}
                t0 = time.perf_counter()
                r = client.post("/api/v1/sos", json=body, headers=headers)
                if i >= 5:
                    raises.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 201, r.text
        database.dispose()
    p99 = _p(raises, 0.99)
    print(f"SOS raise ({args.raises} raises, {args.facilities} facilities, SQLite)")
    print(f"  p50 {statistics.median(raises):7.2f} ms")
    print(f"  p99 {p99:7.2f} ms   ceiling {CEILING_P99_MS:.0f} ms   {'OK' if p99 <= CEILING_P99_MS else 'OVER'}")
    print(f"  /healthz p99 {_p(health, 0.99):7.2f} ms (same run)   ratio {p99 / _p(health, 0.99):.1f}x")


if __name__ == "__main__":
    main()
