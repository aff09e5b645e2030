"""Prescribing through the service: create + decision-support check of a 10-drug prescription on SQLite.

Each iteration is one unit of work, as a request is: load the patient through the access policy, resolve the
ten medicines, store the prescription and its items, run the engine with the patient's other active
prescriptions, store the check and the audit entries, commit. The baseline, measured in the same run, is the
engine's check of the same ten names alone (no database), so the ratio is what persistence, policy and audit add.

Bar: p99 of create+check < 50 ms.

Run: python benchmarks/prescribing.py [--iterations 200]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

from carebridge.contexts.identity.models import User
from carebridge.contexts.patients.models import Patient, PatientOrganization
from carebridge.contexts.practitioners.models import Organization
from carebridge.contexts.prescribing import lifecycle
from carebridge.contexts.prescribing.schemas import ItemCreate, PrescriptionCreate
from carebridge.engines.interactions import CheckRequest, MedicationOrder, check
from carebridge.kernel.db import Database
from carebridge.kernel.migrate import upgrade
from carebridge.security import Principal, Role

P99_BAR_MS = 50.0
NAMES = ["Glycomet", "Telma-H", "Amlong", "Ecosprin", "atorvastatin", "Thyronorm", "Pan", "Combiflam",
         "clopidogrel", "Warf"]
NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _setup(db: Database) -> tuple[Principal, uuid.UUID]:
    org, pid, uid = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with db.unit_of_work() as s:
        s.add(Organization(id=org, name="Bench Clinic", type="clinic", country="IN", city="Pune",
                           created_at=NOW, updated_at=NOW))
        s.add(Patient(id=pid, given_name="Bench", family_name="Patient", given_name_norm="bench",
                      family_name_norm="patient", name_search="bench patient", birth_date=date(1955, 5, 1),
                      sex="female", created_at=NOW, updated_at=NOW))
        s.flush()
        s.add(PatientOrganization(id=uuid.uuid4(), patient_id=pid, organization_id=org, since=NOW))
        s.add(User(id=uid, username="benchdoc", email="benchdoc@example.test", full_name="Bench Doctor",
                   password_hash="x", role=Role.practitioner.value, organization_id=org, created_at=NOW,
                   updated_at=NOW, password_changed_at=NOW))
    return Principal(user_id=uid, role=Role.practitioner, username="benchdoc", organization_id=org), pid


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        db = Database(url)
        principal, pid = _setup(db)
        body = PrescriptionCreate(patient_id=pid, items=[ItemCreate(medication=n, dose=10, times_per_day=1,
                                                                    duration_days=30) for n in NAMES])
        service_ms: list[float] = []
        for _ in range(args.iterations + 10):
            t0 = time.perf_counter()
            with db.unit_of_work() as s:
                lifecycle.create(s, principal, data=body, now=NOW)
            service_ms.append((time.perf_counter() - t0) * 1000)
        service_ms = service_ms[10:]
        req = CheckRequest(medications=[MedicationOrder(name=n) for n in NAMES], age_years=70)
        engine_ms: list[float] = []
        for _ in range(args.iterations):
            t0 = time.perf_counter()
            check(req)
            engine_ms.append((time.perf_counter() - t0) * 1000)
        db.engine.dispose()
    p99 = _p(service_ms, 0.99)
    print(f"create+check 10 drugs via service (SQLite): median {statistics.median(service_ms):.2f} ms, "
          f"p99 {p99:.2f} ms  (bar {P99_BAR_MS:.0f} ms) {'OK' if p99 < P99_BAR_MS else 'OVER'}")
    print(f"engine check alone (baseline): median {statistics.median(engine_ms):.2f} ms, "
          f"p99 {_p(engine_ms, 0.99):.2f} ms; service/engine median ratio "
          f"{statistics.median(service_ms) / statistics.median(engine_ms):.1f}x")


if __name__ == "__main__":
    main()
