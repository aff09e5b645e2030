"""`carebridge keys rotate` as a real command in another process, against a committed SQLite data dir, while the
API process that uploaded keeps serving: it sees the new master key without a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from carebridge.contexts.documents.models import DocumentDataKey
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.migrate import upgrade
from carebridge.main import create_app
from carebridge.security import Role
from carebridge.settings import Settings
from tests.conftest import TEST_SECRET
from tests.factories import Factory
from tests.integration.documents.helpers import JPEG, PDF, uploaded, url

pytestmark = pytest.mark.e2e


def test_the_command_rotates_under_a_running_app(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'carebridge.db'}"
    upgrade(db_url)
    settings = Settings(env="test", data_dir=tmp_path, database_url=db_url, secret_key=TEST_SECRET,
                        log_level="WARNING", event_relay=False, notifications_worker=False)
    app = create_app(settings, clock=FixedClock(datetime(2026, 3, 10, 9, 30, tzinfo=UTC)))
    with TestClient(app) as client:
        factory = Factory(app=app, database=app.state.database, clock=app.state.clock)
        clinic = factory.clinic()
        h = factory.headers(clinic.users[Role.practitioner])
        docs = [uploaded(client, h, clinic.patient_id),
                uploaded(client, h, clinic.patient_id, content=JPEG, filename="x.jpg", content_type="image/jpeg")]
        key_dir = tmp_path / "keys" / "documents"
        old_id = (key_dir / "current").read_text().strip()
        blobs = {p: p.read_bytes() for p in (tmp_path / "documents").rglob("*") if p.is_file()}
        assert len(blobs) == 2

        env = {k: v for k, v in os.environ.items() if not k.startswith("CAREBRIDGE_")}
        env.update(CAREBRIDGE_DATA_DIR=str(tmp_path), CAREBRIDGE_DATABASE_URL=db_url, CAREBRIDGE_SECRET_KEY=TEST_SECRET,
                   CAREBRIDGE_ENV="test", CAREBRIDGE_LOG_LEVEL="WARNING")
        run = subprocess.run([sys.executable, "-m", "carebridge.cli", "keys", "rotate", "--grace-seconds", "0"],
                             env=env, capture_output=True, text=True, timeout=300, check=False)
        assert run.returncode == 0, run.stderr
        report = json.loads(run.stdout.strip().splitlines()[-1])
        assert report["rewrapped"] == 2 and report["by_old_key"] == {old_id: 2} and report["retired"] == [old_id]
        new_id = report["new_master_key_id"]
        assert (key_dir / "current").read_text().strip() == new_id
        assert sorted(p.name for p in key_dir.glob("mk-*.key")) == [f"{new_id}.key"]
        assert {p: p.read_bytes() for p in blobs} == blobs  # content untouched
        with app.state.database.unit_of_work() as s:
            assert set(s.scalars(select(DocumentDataKey.master_key_id))) == {new_id}
        # the running app reads the new key from disk: downloads, verifies and new uploads all work
        assert client.get(url(clinic.patient_id, f"/{docs[0]['id']}/content"), headers=h).content == PDF
        assert client.get(url(clinic.patient_id, f"/{docs[1]['id']}/verify"), headers=h).json()["verified"] is True
        later = uploaded(client, h, clinic.patient_id)
        with app.state.database.unit_of_work() as s:
            row = s.get(DocumentDataKey, uuid.UUID(later["id"]))
            assert row is not None and row.master_key_id == new_id
