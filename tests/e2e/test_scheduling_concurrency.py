"""Double booking is impossible: 50 patients fire at one slot at once, over separate connections to a real
server process (uvicorn in a subprocess), and exactly one gets it; the rest get 409, none a 5xx.

Runs on SQLite (a fresh file) and, in the PostgreSQL pass, on a database of its own beside the test database.
The server runs on the system clock, so the schedule is laid out relative to the real date.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as wall
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from carebridge.contexts.facilities.models import Facility
from carebridge.contexts.practitioners.models import Organization, Practitioner
from carebridge.contexts.scheduling.models import AvailabilityRule, SlotSeat
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.kernel.migrate import upgrade
from carebridge.main import create_app
from carebridge.security import Role
from carebridge.settings import Settings
from tests.conftest import TEST_SECRET
from tests.factories import Factory
from tests.servers import fresh_database_url, running_server

pytestmark = pytest.mark.e2e
CLIENTS = 50


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Settings, Database]]:
    url = fresh_database_url(tmp_path, "sched_e2e")
    upgrade(url)
    settings = Settings(env="test", data_dir=tmp_path / "data", database_url=url, secret_key=TEST_SECRET,
                        log_level="WARNING")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREBRIDGE_")}
    env.update(CAREBRIDGE_ENV="test", CAREBRIDGE_DATA_DIR=str(settings.data_dir), CAREBRIDGE_DATABASE_URL=url,
               CAREBRIDGE_SECRET_KEY=TEST_SECRET, CAREBRIDGE_LOG_LEVEL="WARNING")
    database = Database(url)
    try:
        with running_server(env, tmp_path / "server.log") as base:
            yield base, settings, database
    finally:
        database.dispose()


def test_fifty_concurrent_bookings_one_wins(server: tuple[str, Settings, Database]) -> None:
    base, settings, database = server
    now = datetime.now(UTC)
    app = create_app(settings, database=database, clock=FixedClock(now))  # same keys as the server: signs tokens
    factory = Factory(app=app, database=database, clock=FixedClock(now))
    org = factory.organization()
    with database.unit_of_work() as s:
        fac = Facility(id=uuid.uuid4(), name="Load Clinic", type="hospital", organization_id=org, lat=18.5, lng=73.8,
                       cell=0, created_at=now, updated_at=now)
        prac = Practitioner(id=uuid.uuid4(), given_name="Asha", family_name="Load", created_at=now, updated_at=now)
        s.add_all([fac, prac])
        s.flush()
        s.add(AvailabilityRule(id=uuid.uuid4(), practitioner_id=prac.id, facility_id=fac.id, time_zone="UTC",
                               rrule="FREQ=DAILY", starts_on=(now - timedelta(days=1)).date(), start_time=wall(9),
                               end_time=wall(10), slot_minutes=30, capacity=1, breaks=[], kinds=["in_person"],
                               specialties=[], languages=[], created_at=now, updated_at=now))
    start = datetime.combine((now + timedelta(days=3)).date(), wall(9), tzinfo=UTC)
    tokens = [factory.token(factory.user(Role.patient, patient_id=factory.patient(given=f"Load{i}")))
              for i in range(CLIENTS)]
    with database.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Organization)) == 1

    barrier = threading.Barrier(CLIENTS)
    codes: list[int] = []
    lock = threading.Lock()

    def fire(token: str) -> None:
        with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"}) as client:
            client.get("/healthz")  # open this thread's own connection before the race
            barrier.wait()
            r = client.post("/api/v1/appointments", json={"practitioner_id": str(prac.id),
                                                          "start": start.isoformat()})
            with lock:
                codes.append(r.status_code)

    threads = [threading.Thread(target=fire, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(codes) == [201] + [409] * (CLIENTS - 1), codes
    with database.unit_of_work() as s:
        seats = s.scalar(select(func.count()).select_from(SlotSeat).where(SlotSeat.practitioner_id == prac.id))
    assert seats == 1
