"""Timeline of one patient with 5,000 entries: p99 of a page, on SQLite and PostgreSQL, beside the 50 ms bar.

The entries are written through the record services (so the timeline index, audit entries and outbox rows are
the real ones). Then three reads are timed, each `--reads` times:

* `query`  — `records.read_timeline` alone: first page, a page deep in the history, a kind filter, a date window;
* `http`   — `GET /api/v1/patients/{id}/timeline` through the whole app in-process (auth, policy, the audit
             entry and its commit), cursor-walking the history page by page;
* `select1` — a bare `SELECT 1` on the same connection pool: the floor the database itself sets, for the ratio.

Run: `python benchmarks/timeline.py` (SQLite and, if reachable, PostgreSQL at $CAREBRIDGE_BENCH_PG with the
database name replaced by carebridge_bench_records); `--entries 500` for a quick run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text

from carebridge.contexts import records
from carebridge.contexts.identity.schemas import StaffCreate
from carebridge.contexts.identity.staff import bootstrap_admin
from carebridge.contexts.patients import PatientCreate, create_patient
from carebridge.contexts.records.vocab import RecordKind
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.kernel.migrate import upgrade
from carebridge.main import create_app
from carebridge.security import Principal, Role
from carebridge.settings import Settings

sys.path.insert(0, str(Path(__file__).parent))
from _harness import PG_URL, reset_postgres

BAR_MS = 50.0
NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
PASSWORD = "quiet river lantern 4821"
VITALS = [("8867-4", 72.0), ("8480-6", 128.0), ("8462-4", 84.0), ("8310-5", 37.0), ("59408-5", 97.0),
          ("2339-0", 142.0), ("718-7", 11.8), ("2823-3", 4.4)]


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98] if len(samples) >= 2 else samples[0]


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def seed(db: Database, entries: int) -> tuple[str, Principal]:
    with db.transaction() as s:
        admin = bootstrap_admin(s, data=StaffCreate(username="bench_admin", password=PASSWORD, full_name="Bench Admin",
                                                    email="bench@example.org", role="admin"),
                                organization_name="Bench Clinic", now=NOW)
        principal = Principal(user_id=admin.id, role=Role.admin, username="bench_admin",
                              organization_id=admin.organization_id, mfa=True)
        patient = create_patient(s, principal, now=NOW, force=True, organization_id=admin.organization_id,
                                 data=PatientCreate(given_name="Bench", family_name="Patient", sex="female",
                                                    birth_date=date(1970, 1, 1)))
    pid = patient.id
    start = NOW - timedelta(days=3650)
    step = timedelta(days=3650) / max(entries, 1)
    done = 0
    while done < entries:
        with db.transaction() as s:
            for _ in range(min(500, entries - done)):
                at = start + step * done
                if done % 50 == 0:
                    records.open_encounter(s, principal, patient_id=pid, now=NOW, data=records.EncounterCreate(
                        encounter_class="AMB", start_at=at, reason="Follow-up"))
                elif done % 50 == 1:
                    records.add_condition(s, principal, patient_id=pid, now=NOW,
                                          data=records.ConditionCreate(code="I10", onset_date=at.date()))
                else:
                    code, value = VITALS[done % len(VITALS)]
                    records.add_observation(s, principal, patient_id=pid, now=NOW, data=records.ObservationCreate(
                        code=code, value=value + (done % 7) - 3, effective_at=at))
                done += 1
    return str(pid), principal


def run(label: str, url: str, entries: int, reads: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        upgrade(url)
        settings = Settings(database_url=url, data_dir=Path(tmp), event_relay=False, access_log=False)
        db = Database(url)
        app = create_app(settings, database=db, clock=FixedClock(NOW))  # installs the audit chain before seeding
        t0 = time.perf_counter()
        pid, _ = seed(db, entries)
        seed_s = time.perf_counter() - t0
        patient_id = uuid.UUID(pid)

        def query(**kw: object) -> Callable[[], object]:
            def go() -> object:
                with db.transaction() as s:
                    return records.read_timeline(s, patient_id=patient_id, limit=50, **kw)  # type: ignore[arg-type]
            return go

        with db.transaction() as s:
            deep = records.read_timeline(s, patient_id=patient_id, limit=entries // 2)
        figures = {
            "query first page": timed(query(), reads),
            "query deep page": timed(query(cursor=deep.next_cursor), reads),
            "query kind=encounter": timed(query(kinds=[RecordKind.encounter]), reads),
            "query one-year window": timed(query(from_=NOW - timedelta(days=730), to=NOW - timedelta(days=365)),
                                           reads),
        }

        def select1() -> None:
            with db.transaction() as s:
                s.execute(text("SELECT 1"))

        floor = timed(select1, reads)
        with TestClient(app) as client:
            login = client.post("/api/v1/auth/login", json={"username": "bench_admin", "password": PASSWORD})
            token = login.json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            for _ in range(5):  # warm-up: first-request imports and caches are not the steady state
                client.get(f"/api/v1/patients/{pid}/timeline", headers=headers)
            samples: list[float] = []
            cursor: str | None = None
            while len(samples) < reads:
                params = {"limit": "50", **({"cursor": cursor} if cursor else {})}
                t1 = time.perf_counter()
                r = client.get(f"/api/v1/patients/{pid}/timeline", params=params, headers=headers)
                samples.append((time.perf_counter() - t1) * 1000)
                if r.status_code != 200:
                    raise SystemExit(f"timeline answered {r.status_code}: {r.text}")
                cursor = r.json()["next_cursor"]
            figures["http page walk"] = samples
        db.dispose()
    print(f"\n{label}: {entries} entries seeded through the services in {seed_s:.1f} s; {reads} reads each")
    print(f"  {'figure':<24}{'p50 ms':>9}{'p99 ms':>9}{'bar ms':>9}  verdict")
    print(f"  {'SELECT 1 (floor)':<24}{statistics.median(floor):>9.2f}{p99(floor):>9.2f}{'':>9}")
    for name, values in figures.items():
        verdict = "ok" if p99(values) < BAR_MS else "OVER"
        print(f"  {name:<24}{statistics.median(values):>9.2f}{p99(values):>9.2f}{BAR_MS:>9.0f}  {verdict}"
              f"  ({p99(values) / max(p99(floor), 1e-6):.0f}x floor)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run("SQLite", f"sqlite:///{tmp}/timeline.db", args.entries, args.reads)
    if not args.no_postgres:
        pg = PG_URL.rsplit("/", 1)[0] + "/carebridge_bench_records"
        if reset_postgres(pg):
            run("PostgreSQL", pg, args.entries, args.reads)


if __name__ == "__main__":
    main()
