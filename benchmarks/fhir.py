"""FHIR import rate and search latency, on SQLite and PostgreSQL, each beside a raw ceiling from the same run.

* import — `carebridge import-fhir`'s `Importer` over the Synthea samples (shared/data/fhir/synthea), `--copies`
  times (each copy with fresh fullUrls, names and identifiers, so nothing is skipped as already imported):
  resources/s beside the bar (1,000 resources/s) and beside the same number of rows inserted raw
  (`executemany` of the resources' JSON into a scratch table, one transaction).
* search — `GET /fhir/R4/Observation?patient=…&code=http://loinc.org|<code>&_count=20` through the whole app
  in-process (token, policy, audit and its commit), `--reads` times: p50/p99 beside the same query as a raw
  SQL `SELECT … LIMIT 20` on the same pool and beside `/healthz`.

Run: `python benchmarks/fhir.py` (SQLite, then PostgreSQL at $CAREBRIDGE_BENCH_PG with the database name
replaced by carebridge_bench_fhir); `--copies 1 --reads 50` for a quick run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# This script is named fhir.py: its folder must not shadow the `fhir` package (fhir.resources) on sys.path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from carebridge.contexts import identity  # noqa: E402
from carebridge.contexts.audit import service as audit_service  # noqa: E402
from carebridge.contexts.prescribing import reactions  # noqa: E402
from carebridge.contexts.records.models import Observation  # noqa: E402
from carebridge.fhir.cli import (  # noqa: E402
    default_validators,
    default_workers,
    import_organization,
    import_principal,
)
from carebridge.fhir.importer import Importer  # noqa: E402
from carebridge.kernel.clock import FixedClock  # noqa: E402
from carebridge.kernel.db import Database  # noqa: E402
from carebridge.kernel.events import OutboxEvent  # noqa: E402
from carebridge.kernel.keys import load_or_create_keys  # noqa: E402
from carebridge.kernel.migrate import upgrade  # noqa: E402
from carebridge.main import create_app  # noqa: E402
from carebridge.security import Role  # noqa: E402
from carebridge.settings import Settings  # noqa: E402

_spec = importlib.util.spec_from_file_location("_harness", _HERE / "_harness.py")
assert _spec is not None and _spec.loader is not None
_harness = sys.modules.setdefault("_harness", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(_harness)
PG_URL: str = _harness.PG_URL
reset_postgres = _harness.reset_postgres

SYNTHEA = Path("/work/shared/data/fhir/synthea")
IMPORT_BAR = 1_000.0  # resources/s
NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
PASSWORD = "quiet river lantern 4821"
SECRET = "benchmark-secret-0123456789abcdefghijklmnopqrstuvwxyz"


def pct(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100)[q - 1] if len(samples) >= 2 else samples[0]


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def copies(out: Path, n: int) -> int:
    """`n` copies of every sample, each with fresh urn:uuids, names and identifiers; returns the entry count."""
    total = 0
    for k in range(n):
        for path in sorted(SYNTHEA.glob("*.json")):
            text_ = path.read_text(encoding="utf-8")
            bundle = json.loads(text_)
            for entry in bundle["entry"]:
                old = entry["fullUrl"].removeprefix("urn:uuid:")
                text_ = text_.replace(old, str(uuid.uuid4()))
            bundle = json.loads(text_)
            for entry in bundle["entry"]:
                r = entry["resource"]
                if r["resourceType"] == "Patient":
                    for name in r.get("name", []):
                        name["family"] = f"{name.get('family', 'X')}{chr(65 + k % 26)}{k // 26}"
                    r["birthDate"] = f"{1940 + k % 60}-{r['birthDate'][5:]}" if "birthDate" in r else "1970-01-01"
                for ident in r.get("identifier", []):
                    ident["value"] = f"{ident.get('value', '')}-{k}"
            total += len(bundle["entry"])
            (out / f"{k:04d}-{path.name}").write_text(json.dumps(bundle), encoding="utf-8")
    return total


def raw_insert(db: Database, bodies: list[str]) -> float:
    """Seconds to insert the same number of rows raw: the ceiling the database sets for the import."""
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_raw"))
        conn.execute(text("CREATE TABLE bench_raw (id VARCHAR(36) PRIMARY KEY, body TEXT)"))
    t0 = time.perf_counter()
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO bench_raw (id, body) VALUES (:id, :body)"),
                     [{"id": str(uuid.uuid4()), "body": b} for b in bodies])
    seconds = time.perf_counter() - t0
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE bench_raw"))
    return seconds


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the writing and validating workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def run(label: str, url: str, data_dir: Path, n_copies: int, reads: int, validators: int,
        workers: int | None = None) -> None:
    upgrade(url)
    settings = Settings(env="test", data_dir=data_dir, database_url=url, secret_key=SECRET, log_level="WARNING")
    keys = load_or_create_keys(settings)
    db = Database(url)
    audit_service.install(db.sessions, audit_service.AuditSigner(keys.signing_key),
                          checkpoint_every=settings.audit_checkpoint_every)
    clock = FixedClock(NOW)
    org = import_organization(db, None)
    principal = import_principal(db, org, clock.now())
    src = data_dir / "synthea"
    src.mkdir(parents=True, exist_ok=True)
    entries = copies(src, n_copies)
    t0, cpu0 = time.perf_counter(), _cpu()
    writers = default_workers(db) if workers is None else workers
    report = Importer(db, principal, clock, validators=validators, workers=writers).run([src])
    seconds, cpu = time.perf_counter() - t0, _cpu() - cpu0
    bodies = [json.dumps(e["resource"]) for p in sorted(src.glob("*.json"))
              for e in json.loads(p.read_text())["entry"]]
    raw = raw_insert(db, bodies)
    rate = report.imported / seconds
    print(f"{label} import: {report.imported} of {entries} resources in {seconds:.2f} s = {rate:,.0f} resources/s "
          f"(bar {IMPORT_BAR:,.0f}/s: {'PASS' if rate >= IMPORT_BAR else 'BELOW'}; {len(report.rejected)} rejected, "
          f"{report.kept_as_json} kept as JSON); raw insert of {len(bodies)} rows: {len(bodies) / raw:,.0f} rows/s "
          f"(import at {rate / (len(bodies) / raw):.1%} of it); CPU {cpu:.2f} s of the import's processes = "
          f"{report.imported / cpu:,.0f} resources per CPU-second; {writers} writing process(es), "
          f"{validators} validating ahead")
    search(label, db, settings, clock, org, principal, reads)
    db.dispose()


def settle(db: Database, clock: FixedClock, limit: float = 120.0) -> float:
    """Seconds until the service's background loops have worked off the import's events (the outbox relay, the
    prescribing re-checks): timed while they run, a search shares the SQLite writer with them and its p99 is
    theirs (~80 ms), not its own. The drain time is printed, so the backlog's cost stays in view."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        with db.unit_of_work() as s:
            unpublished = s.scalar(select(func.count()).select_from(OutboxEvent).where(
                OutboxEvent.published_at.is_(None)))
            rechecks = reactions.pending(s, now=clock.now(), limit=1)
        if not unpublished and not rechecks:
            break
        time.sleep(0.5)
    return time.perf_counter() - t0


def search(label: str, db: Database, settings: Settings, clock: FixedClock, org: uuid.UUID, principal: Any,
           reads: int) -> None:
    with db.unit_of_work() as s:
        pid, code, n = s.execute(select(Observation.patient_id, Observation.code, func.count()).group_by(
            Observation.patient_id, Observation.code).order_by(func.count().desc()).limit(1)).one()
        identity.create_staff(s, principal, data=identity.StaffCreate(
            username=f"bench-doc-{uuid.uuid4().hex[:6]}", password=PASSWORD, full_name="Bench Doctor",
            role=Role.practitioner.value), now=clock.now())
        username = s.execute(text("SELECT username FROM users WHERE full_name = 'Bench Doctor' "
                                  "ORDER BY created_at DESC LIMIT 1")).scalar_one()
    app = create_app(settings, database=db, clock=clock)
    with TestClient(app) as client:
        token = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD}).json()
        hdrs = {"Authorization": f"Bearer {token['access_token']}"}
        path = f"/fhir/R4/Observation?patient=Patient/{pid}&code=http://loinc.org|{code}&_count=20"
        drained = settle(db, clock)
        first = client.get(path, headers=hdrs)
        assert first.status_code == 200, first.text[:300]
        got = len(first.json().get("entry", []))
        fhir = timed(lambda: client.get(path, headers=hdrs), reads)
        health = timed(lambda: client.get("/healthz"), reads)
    stmt = select(Observation.id).where(Observation.patient_id == pid, Observation.code == code).order_by(
        Observation.effective_at).limit(20)

    def raw_select() -> None:
        with db.engine.connect() as conn:
            conn.execute(stmt).all()
    raw = timed(raw_select, reads)
    print(f"{label} search Observation?patient&code ({got} of {n} rows, {reads} reads, after the background "
          f"loops worked off the import's events in {drained:.1f} s): "
          f"p50 {pct(fhir, 50):.1f} ms / p99 {pct(fhir, 99):.1f} ms; raw SELECT of the same rows p50 "
          f"{pct(raw, 50):.2f} ms / p99 {pct(raw, 99):.2f} ms; /healthz p50 {pct(health, 50):.1f} ms / "
          f"p99 {pct(health, 99):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4, help="copies of the Synthea samples to import")
    parser.add_argument("--reads", type=int, default=300)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--workers", type=int, default=None,
                        help="writing processes, as `carebridge import-fhir --workers` (default: its own)")
    parser.add_argument("--validators", type=int, default=default_validators(),
                        help="processes validating ahead, as `carebridge import-fhir --validators` (default: its own)")
    args = parser.parse_args()
    if not SYNTHEA.is_dir():
        sys.exit(f"no Synthea samples at {SYNTHEA}")
    with tempfile.TemporaryDirectory() as tmp:
        run("SQLite", f"sqlite:///{tmp}/bench.db", Path(tmp) / "sqlite", args.copies, args.reads, args.validators,
            args.workers)
    pg = PG_URL.rpartition("/")[0] + "/carebridge_bench_fhir"
    if not args.no_postgres and reset_postgres(pg):
        with tempfile.TemporaryDirectory() as tmp:
            run("PostgreSQL", pg, Path(tmp), args.copies, args.reads, args.validators,
            args.workers)


if __name__ == "__main__":
    main()
