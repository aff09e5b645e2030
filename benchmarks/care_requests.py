"""Care-request latency: triage + facility search + storing the request, through the service layer.

Seeds a fresh SQLite file (or PostgreSQL with --pg) with a few thousand synthetic facilities over India
(the generator of benchmarks/facility_search.py: 80 % around 40 cities), then times
`care.create_care_request` for a few hundred anonymous patients placed where people live, each with one
of a dozen complaints (emergency, urgent, non-urgent and self-care ones), each request its own committed
unit of work (the request row and the rate-limit count are written). The triage alone and the facility
search alone are timed in the same run, so the share of each is visible. Ceiling: p99 < 100 ms.

Run: python benchmarks/care_requests.py [--facilities 3000] [--requests 300] [--pg]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import PG_URL, reset_postgres, tmpdir
from facility_search import _point, seed

import carebridge.contexts.all_models  # noqa: F401
from carebridge.contexts.care import CareConfig, CareRequestCreate, LocalProvider, Travel
from carebridge.contexts.care.schemas import Position
from carebridge.contexts.care.service import create_care_request, find_facilities, run_triage
from carebridge.engines.triage import Level
from carebridge.kernel.db import Database
from carebridge.kernel.migrate import upgrade

CEILING_P99_MS = 100.0
COMPLAINTS = [
    "crushing chest pain and sweating", "fever and runny nose since yesterday", "itchy rash on my arm for 2 weeks",
    "knee pain for a month after running", "my 2 year old is breathing fast and the chest is pulling in",
    "bukhar 3 din se, sar dard", "burning when passing urine since 2 days", "sudden weakness in left arm and face",
    "cough with phlegm for 5 days", "toothache and swollen gum", "feeling very low and cannot sleep for weeks",
    "vomiting and loose motions since morning",
]


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(url: str, facilities: int, requests: int, rng: random.Random) -> None:
    upgrade(url)
    db = Database(url)
    seeded = seed(db, facilities, rng)
    config = CareConfig(ttl=timedelta(hours=24), anonymous_limit=10**9, anonymous_window_seconds=3600,
                        travel=Travel(), provider=LocalProvider())
    now = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
    asks = [(rng.choice(COMPLAINTS), *_point(rng)) for _ in range(requests)]
    for text, lat, lng in asks[:20]:  # warm the triage knowledge, the statement caches and the pool
        with db.unit_of_work() as s:
            create_care_request(s, None, data=CareRequestCreate(symptoms=text, location=Position(lat=lat, lng=lng)),
                                client_address="10.0.0.1", config=config, now=now)
    total, cpu, triage_ms, search_ms = [], [], [], []
    for i, (text, lat, lng) in enumerate(asks):
        data = CareRequestCreate(symptoms=text, location=Position(lat=lat, lng=lng))
        t0, c0 = time.perf_counter(), time.process_time()
        with db.unit_of_work() as s:
            create_care_request(s, None, data=data, client_address=f"10.0.{i // 250}.{i % 250}", config=config,
                                now=now)
        total.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        t1 = time.perf_counter()
        summary = run_triage(text)
        triage_ms.append((time.perf_counter() - t1) * 1000)
        t2 = time.perf_counter()
        with db.read_only() as s:
            find_facilities(s, config, level=Level(summary.level), specialty=summary.specialty, lat=lat, lng=lng,
                            limit=5)
        search_ms.append((time.perf_counter() - t2) * 1000)
    db.dispose()
    p99 = _p(total, 0.99)
    verdict = "ok" if p99 < CEILING_P99_MS else "OVER"
    print(f"{facilities} facilities, {requests} care requests: p99 {p99:.1f} ms (p50 {statistics.median(total):.1f})"
          f" (ceiling < {CEILING_P99_MS:.0f} ms) [{verdict}; seeded in {seeded:.1f} s]")
    print(f"  of which triage p99 {_p(triage_ms, 0.99):.1f} ms (p50 {statistics.median(triage_ms):.1f}), "
          f"facility search p99 {_p(search_ms, 0.99):.1f} ms (p50 {statistics.median(search_ms):.1f}); "
          f"process CPU p99 {_p(cpu, 0.99):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facilities", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL at $CAREBRIDGE_BENCH_PG instead of SQLite")
    args = parser.parse_args()
    rng = random.Random(20260310)
    if args.pg:
        if reset_postgres(PG_URL):
            print("PostgreSQL:")
            run(PG_URL, args.facilities, args.requests, rng)
        return
    work = tmpdir("care-bench")
    try:
        print("SQLite (file, WAL):")
        run(f"sqlite:///{work / 'bench.db'}", args.facilities, args.requests, rng)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
