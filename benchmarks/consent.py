"""What the consent lookup adds to one patient read: p50/p99 of `patients.load_patient_for`, with and without it.

One staff read of a patient's clinical record (the policy decision every API, page, export and FHIR read makes)
is timed `--reads` times, each in its own read-only unit of work as a request would, in four cases:

* `own`        — the patient reading their own record: the consent query is skipped by design;
* `no-lookup`  — a clinician, with the consent loader stubbed out: the read as it was before consent (ceiling);
* `lookup/0`   — a clinician, the real lookup, the patient has no directives;
* `lookup/N`   — a clinician, the real lookup, the patient has `--rows` directives (grants to other people,
                 restrictions, expired and revoked ones) among `--others` directives on other patients.

The figure is the p99 added by the lookup, printed beside the `no-lookup` read it is added to.
Run: `python benchmarks/consent.py` (SQLite, and PostgreSQL at $CAREBRIDGE_BENCH_PG with the database name
replaced by carebridge_bench_consent when reachable); `--reads 300` for a quick run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from carebridge.contexts import consent
from carebridge.contexts.consent.models import ConsentDirective
from carebridge.contexts.identity.models import User
from carebridge.contexts.patients import load_patient_for
from carebridge.contexts.patients.models import Patient, PatientOrganization
from carebridge.contexts.practitioners.models import Organization
from carebridge.kernel.db import Database
from carebridge.kernel.migrate import upgrade
from carebridge.security import DataCategory, Permission, Principal, Role

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import PG_URL, reset_postgres

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def _seed(db: Database, *, rows: int, others: int) -> tuple[uuid.UUID, uuid.UUID, Principal, Principal]:
    """Two patients of one clinic (one carrying `rows` directives), `others` directives on further patients."""
    org, pid, bare = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    doctor = uuid.uuid4()
    with db.unit_of_work() as s:
        s.add(Organization(id=org, name="Bench Clinic", type="clinic", created_at=NOW, updated_at=NOW))
        s.flush()
        s.add(User(id=doctor, username="bench-doctor", password_hash="x", role="practitioner", organization_id=org,
                   created_at=NOW, updated_at=NOW, password_changed_at=NOW))
        extra = [uuid.uuid4() for _ in range(max(1, others // 10))]
        for p in (pid, bare, *extra):
            s.add(Patient(id=p, given_name="Bench", family_name="Patient", created_at=NOW, updated_at=NOW))
        s.flush()
        for p in (pid, bare):
            s.add(PatientOrganization(id=uuid.uuid4(), patient_id=p, organization_id=org, since=NOW))
        s.flush()

        def directive(patient: uuid.UUID, i: int) -> dict[str, Any]:
            kind = ("grant", "restriction")[i % 2]
            return {"id": uuid.uuid4(), "patient_id": patient, "kind": kind, "grantee_type": "organization",
                    "grantee_organization_id": org if kind == "restriction" and i % 7 == 0 else None,
                    "grantee_user_id": doctor if kind == "grant" and i % 5 == 0 else None,
                    "categories": ["mental_health"] if kind == "grant" else ["documents"], "purposes": [],
                    "expires_at": NOW - timedelta(days=1) if i % 3 == 0 else None,
                    "revoked_at": NOW - timedelta(hours=1) if i % 4 == 0 else None, "created_at": NOW}

        batch = [directive(pid, i) for i in range(rows)]
        batch += [directive(extra[i % len(extra)], i) for i in range(others)]
        other_org = uuid.uuid4()
        s.add(Organization(id=other_org, name="Elsewhere", type="clinic", created_at=NOW, updated_at=NOW))
        s.flush()
        for d in batch:  # every directive names someone: the rest name another organization
            if d["grantee_organization_id"] is None and d["grantee_user_id"] is None:
                d["grantee_organization_id"] = other_org
        if batch:
            s.execute(insert(ConsentDirective), batch)
    clinician = Principal(user_id=doctor, role=Role.practitioner, organization_id=org)
    return pid, bare, clinician, Principal(user_id=uuid.uuid4(), role=Role.patient, patient_id=pid)


@contextmanager
def _no_lookup() -> Iterator[None]:
    real = consent.consent_facts
    consent.consent_facts = lambda *a, **k: {}
    try:
        yield
    finally:
        consent.consent_facts = real


def _once(db: Database, principal: Principal, pid: uuid.UUID) -> float:
    t0 = time.perf_counter()
    with db.read_only() as s:
        load_patient_for(s, principal, pid, Permission.record_read, now=NOW, audit_success=False,
                         category=DataCategory.clinical)
    return (time.perf_counter() - t0) * 1000


def _p99(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=100)[98]


def run(label: str, url: str, *, reads: int, rows: int, others: int) -> None:
    upgrade(url)
    db = Database(url)
    pid, bare, clinician, patient = _seed(db, rows=rows, others=others)

    def stubbed() -> float:
        with _no_lookup():
            return _once(db, clinician, pid)

    cases: dict[str, Callable[[], float]] = {
        "no-lookup": stubbed,
        "own": lambda: _once(db, patient, pid),
        "lookup/0": lambda: _once(db, clinician, bare),
        f"lookup/{rows}": lambda: _once(db, clinician, pid),
    }
    for fn in cases.values():  # warm-up
        for _ in range(min(50, reads)):
            fn()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(reads):  # interleaved, so drift on a shared machine hits every case alike
        for name, fn in cases.items():
            times[name].append(fn())
    base = times["no-lookup"]
    print(f"{label}: {reads} reads each; {rows} directives on the patient, {others} on {max(1, others // 10)} "
          "other patients")
    for name, xs in times.items():
        note = "(ceiling: the read without the consent lookup)" if name == "no-lookup" else (
            f"(p99 {_p99(xs) - _p99(base):+.3f} ms vs no-lookup, x{_p99(xs) / _p99(base):.2f})")
        print(f"  {name:>12}  p50 {statistics.median(xs):6.3f} ms  p99 {_p99(xs):6.3f} ms  {note}")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--others", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run("SQLite", f"sqlite:///{tmp}/bench.db", reads=args.reads, rows=args.rows, others=args.others)
    pg = PG_URL.rpartition("/")[0] + "/carebridge_bench_consent"
    if reset_postgres(pg):
        run("PostgreSQL", pg, reads=args.reads, rows=args.rows, others=args.others)


if __name__ == "__main__":
    main()
