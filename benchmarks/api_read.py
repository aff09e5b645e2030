"""Authenticated patient reads against a real server with 10,000 patients, beside /healthz.

For each database (SQLite file; PostgreSQL when reachable) it migrates a fresh database, seeds 10,000
synthetic patients in one organization plus a practitioner, starts `uvicorn` with one worker, and
drives 32 concurrent connections at: GET /healthz (the ceiling), GET /api/v1/patients/{id} and a name
search. It prints requests/s, p50 and p99 and the ratio to /healthz measured in the same run.
Bar (issue 2): patient read >= 40% of /healthz throughput and p99 < 25 ms.

Run: python benchmarks/api_read.py [--seconds 10] [--patients 10000] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import random
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import PG_URL, Figure, load, reset_postgres, server, tmpdir

from carebridge.contexts.identity.models import AuthSession, User
from carebridge.contexts.identity.passwords import hash_password
from carebridge.contexts.identity.tokens import issue_access_token
from carebridge.contexts.patients import rebuild_search_index
from carebridge.contexts.patients.models import Patient, PatientIdentifier, PatientOrganization
from carebridge.contexts.practitioners.models import Organization
from carebridge.demo.people import FAMILY, GIVEN_FEMALE, GIVEN_MALE
from carebridge.kernel.db import Database
from carebridge.kernel.keys import load_or_create_keys
from carebridge.kernel.migrate import upgrade
from carebridge.security import Role
from carebridge.settings import Settings

READ_RATIO_BAR = 0.40
P99_BAR_MS = 25.0


def seed(url: str, data_dir: Path, n: int) -> tuple[str, list[uuid.UUID], str]:
    """Returns (bearer token, patient ids, a family-name prefix to search for)."""
    upgrade(url)
    settings = Settings(env="test", data_dir=data_dir, database_url=url)
    keys = load_or_create_keys(settings)
    db = Database(url)
    rng = random.Random(7)
    now = datetime.now(UTC)
    org_id = uuid.uuid4()
    ids = [uuid.uuid4() for _ in range(n)]
    with db.transaction() as s:
        s.add(Organization(id=org_id, name="Benchmark Clinic", type="clinic", created_at=now, updated_at=now))
        s.flush()
        rows, idents, links = [], [], []
        for i, pid in enumerate(ids):
            given = rng.choice(GIVEN_FEMALE + GIVEN_MALE)
            family = rng.choice(FAMILY) + ("" if i % 3 else str(i % 97))
            rows.append({"id": pid, "given_name": given, "family_name": family, "given_name_norm": given.lower(),
                         "family_name_norm": family.lower(), "name_search": f"{given} {family}".lower(),
                         "birth_date": date(1950, 1, 1) + timedelta(days=rng.randint(0, 25000)), "sex": "female",
                         "phone": f"+91 98{i:08d}", "preferred_languages": ["hi"],
                         "created_at": now, "updated_at": now, "version": 1, "active": True, "deceased": False})
            idents.append({"id": uuid.uuid4(), "patient_id": pid, "system": "urn:bench:mrn", "value": f"B{i:07d}"})
            links.append({"id": uuid.uuid4(), "patient_id": pid, "organization_id": org_id, "since": now})
        for chunk in range(0, n, 2000):
            s.execute(insert(Patient), rows[chunk:chunk + 2000])
            s.execute(insert(PatientIdentifier), idents[chunk:chunk + 2000])
            s.execute(insert(PatientOrganization), links[chunk:chunk + 2000])
        rebuild_search_index(s)  # the derived search columns and name tokens, as the service would write them
        user = User(id=uuid.uuid4(), username="bench_doctor", password_hash=hash_password("bench password 123"),
                    role=Role.practitioner.value, organization_id=org_id, created_at=now, updated_at=now,
                    password_changed_at=now)
        s.add(user)
        sid = uuid.uuid4()
        s.flush()
        s.add(AuthSession(id=sid, user_id=user.id, kind="api", mfa=True, created_at=now,
                          expires_at=now + timedelta(hours=2)))
    token = issue_access_token(keys.token_secret, user_id=user.id, role=Role.practitioner, username=user.username,
                               session_id=sid, organization_id=org_id, patient_id=None, mfa=True, now=now,
                               ttl_seconds=7200)
    db.dispose()
    return token, ids, "shar"


def show(label: str, fig: Figure, ceiling: Figure | None) -> None:
    ratio = f"  ratio {fig.rps / ceiling.rps:6.1%} of /healthz" if ceiling else ""
    print(f"  {label:<28} {fig.rps:9.0f} req/s  p50 {fig.p50_ms:6.2f} ms  p99 {fig.p99_ms:6.2f} ms"
          f"  non-2xx {fig.errors}{ratio}")


def bench(name: str, url: str, args: argparse.Namespace) -> bool:
    data_dir = tmpdir(f"cb-bench-{name}-")
    print(f"\n== {name}: seeding {args.patients} patients ...", flush=True)
    token, ids, prefix = seed(url, data_dir, args.patients)
    auth = {"Authorization": f"Bearer {token}"}
    with server(url, data_dir) as base:
        load(base + "/healthz", seconds=2)  # warm-up
        load(f"{base}/api/v1/patients/{ids[len(ids) // 2]}", headers=auth, seconds=2)
        health = load(base + "/healthz", seconds=args.seconds)
        read = load(f"{base}/api/v1/patients/{ids[len(ids) // 2]}", headers=auth, seconds=args.seconds)
        search = load(f"{base}/api/v1/patients?name={prefix}&limit=20", headers=auth, seconds=args.seconds)
    print(f"  load generator: {health.tool}, 32 connections, {args.seconds} s each, 1 server worker")
    show("GET /healthz (ceiling)", health, None)
    show("GET /api/v1/patients/{id}", read, health)
    show("GET /api/v1/patients?name=", search, health)
    ok = read.rps / health.rps >= READ_RATIO_BAR and read.p99_ms < P99_BAR_MS and read.errors == 0
    print(f"  bar: patient read >= {READ_RATIO_BAR:.0%} of /healthz and p99 < {P99_BAR_MS:.0f} ms -> "
          f"{'MET' if ok else 'NOT MET'} (search p99 {search.p99_ms:.1f} ms)")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if args.only != "postgresql":
        d = tmpdir("cb-bench-sqlite-db-")
        bench("SQLite", f"sqlite:///{d / 'bench.db'}", args)
    if args.only != "sqlite" and reset_postgres(PG_URL):
        bench("PostgreSQL", PG_URL, args)


if __name__ == "__main__":
    main()
