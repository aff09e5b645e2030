"""Document upload throughput (MB/s) through the service, beside raw AES-256-GCM over the same bytes.

`upload` is `documents.service.upload_document` end to end in one committed unit of work: the policy check and
its audit entry, type sniffing, SHA-256, the Ed25519 signature, AES-256-GCM under a fresh data key, the key
wrapped by the master key, the ciphertext written (fsync'd) to the local-directory store, the rows, the outbox
event and the commit. `aes-gcm` is `AESGCM.encrypt` alone over the same bytes in the same run: the ceiling,
since every upload has to encrypt its content once. `sha256` is printed too, the other pass over the content.

Run: `python benchmarks/documents.py` (SQLite in a temporary directory); `--sizes 0.25,1 --uploads 5` for a
quick run; `--database-url postgresql+psycopg://...` for PostgreSQL (the database is migrated, not reset).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from carebridge.contexts.documents import DocumentKind
from carebridge.contexts.documents.service import Upload, upload_document
from carebridge.contexts.documents.vault import vault_for
from carebridge.contexts.identity.models import User
from carebridge.contexts.patients.models import Patient, PatientOrganization
from carebridge.contexts.practitioners.models import Organization
from carebridge.kernel.db import Database
from carebridge.kernel.keys import load_or_create_keys
from carebridge.kernel.migrate import upgrade
from carebridge.security import Principal, Role
from carebridge.settings import Settings

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def _seed(db: Database) -> tuple[Principal, uuid.UUID]:
    org_id, patient_id, user_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with db.unit_of_work() as s:
        s.add(Organization(id=org_id, name="Bench Clinic", type="clinic", country="IN", city="Pune",
                           created_at=NOW, updated_at=NOW))
        s.add(Patient(id=patient_id, given_name="Bench", family_name="Patient", given_name_norm="bench",
                      family_name_norm="patient", name_search="bench patient", birth_date=date(1990, 1, 1),
                      sex="female", created_at=NOW, updated_at=NOW))
        s.flush()
        s.add(PatientOrganization(id=uuid.uuid4(), patient_id=patient_id, organization_id=org_id, since=NOW))
        s.add(User(id=user_id, username=f"bench{user_id.hex[:8]}", email=f"{user_id.hex[:8]}@example.test",
                   full_name="Bench Doctor", password_hash="x", role=Role.practitioner.value,
                   organization_id=org_id, created_at=NOW, updated_at=NOW, password_changed_at=NOW))
    return Principal(user_id=user_id, role=Role.practitioner, organization_id=org_id), patient_id


def _content(size: int) -> bytes:
    return b"%PDF-1.7\n" + os.urandom(size - 9)


def _rate(size: int, samples: list[float]) -> float:
    return size / statistics.median(samples) / 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0.1,1,5", help="Document sizes in MB, comma-separated.")
    parser.add_argument("--uploads", type=int, default=10, help="Uploads timed per size.")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    sizes = [int(float(x) * 1_000_000) for x in args.sizes.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        url = args.database_url or f"sqlite:///{data_dir / 'bench.db'}"
        settings = Settings(env="test", data_dir=data_dir, database_url=url, secret_key="b" * 40,
                            document_max_bytes=max(sizes) + 1)
        upgrade(url)
        db = Database(url)
        vault = vault_for(settings, load_or_create_keys(settings))
        principal, patient_id = _seed(db)
        print(f"documents benchmark: {args.uploads} uploads per size, database {db.url.split(':')[0]}, "
              f"median of each")
        print(f"{'size':>8}  {'upload MB/s':>12}  {'aes-gcm MB/s':>13}  {'sha256 MB/s':>12}  {'upload/aes':>10}")
        for size in sizes:
            content = _content(size)
            # warm-up: the first upload makes the server-held signing key and the master key
            with db.unit_of_work() as s:
                upload_document(s, principal, vault=vault, patient_id=patient_id, now=NOW,
                                upload=Upload(kind=DocumentKind.lab_report, content=content, device_id="bench"))
            uploads, aes, sha = [], [], []
            for _ in range(args.uploads):
                t0 = time.perf_counter()
                with db.unit_of_work() as s:
                    upload_document(s, principal, vault=vault, patient_id=patient_id, now=NOW,
                                    upload=Upload(kind=DocumentKind.lab_report, content=content, device_id="bench"))
                uploads.append(time.perf_counter() - t0)
                key, nonce = AESGCM.generate_key(bit_length=256), os.urandom(12)
                t0 = time.perf_counter()
                AESGCM(key).encrypt(nonce, content, b"")
                aes.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                hashlib.sha256(content).digest()
                sha.append(time.perf_counter() - t0)
            up, ceiling = _rate(size, uploads), _rate(size, aes)
            print(f"{size / 1_000_000:>6.2f}MB  {up:>12.1f}  {ceiling:>13.1f}  {_rate(size, sha):>12.1f}  "
                  f"{up / ceiling:>10.4f}")
        db.dispose()


if __name__ == "__main__":
    main()
