"""`carebridge demo` on a fresh data dir: a login for every role that really signs in, and a re-run that
changes nothing. Runs the real command in a subprocess on the embedded default (SQLite)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from carebridge.kernel.clock import SystemClock
from carebridge.main import create_app
from carebridge.security import Role
from carebridge.settings import Settings

pytestmark = pytest.mark.e2e


def _run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREBRIDGE_")}
    env.update(CAREBRIDGE_DATA_DIR=str(data_dir), CAREBRIDGE_LOG_LEVEL="WARNING")
    return subprocess.run([sys.executable, "-m", "carebridge.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_demo_prints_working_logins_for_every_role_and_is_idempotent(tmp_path: Path) -> None:
    first = _run(tmp_path, "demo", "--patients", "12")
    assert first.returncode == 0, first.stderr
    for role in Role:
        assert f"\n{role.value}" in first.stdout, f"no login printed for {role.value}"
    logins = json.loads((tmp_path / "demo-credentials.json").read_text())
    assert {item["role"] for item in logins} == {r.value for r in Role}

    again = _run(tmp_path, "demo")
    assert again.returncode == 0, again.stderr
    assert "already loaded" in again.stdout

    settings = Settings(env="test", data_dir=tmp_path, log_level="WARNING")
    with TestClient(create_app(settings, clock=SystemClock())) as client:
        by_role = {item["role"]: item for item in logins}
        front = by_role["front_desk"]
        r = client.post("/api/v1/auth/login", json={"username": front["username"], "password": front["password"]})
        assert r.status_code == 200, r.text
        token = r.json()["access_token"]
        found = client.get("/api/v1/patients", params={"limit": 100}, headers={"Authorization": f"Bearer {token}"})
        assert found.status_code == 200, found.text
        assert len(found.json()["items"]) >= 12
        patient = by_role["patient"]
        r = client.post("/api/v1/auth/login", json={"username": patient["username"], "password": patient["password"]})
        assert r.status_code == 200, r.text
