"""`carebridge care purge` against its own database file: expired unsaved requests go, saved ones stay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from carebridge.cli import app
from carebridge.contexts.care.models import CareRequest
from carebridge.kernel.db import Database
from carebridge.kernel.migrate import upgrade
from carebridge.settings import get_settings


def _row(*, expires_at: datetime | None, saved: bool) -> CareRequest:
    return CareRequest(id=uuid.uuid4(), symptoms="fever", level="self_care", specialty="general_practice",
                       triage={}, created_at=datetime(2026, 1, 1, tzinfo=UTC), expires_at=expires_at, saved=saved)


def test_purge_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    monkeypatch.setenv("CAREBRIDGE_DATABASE_URL", url)
    monkeypatch.setenv("CAREBRIDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CAREBRIDGE_ENV", "test")
    get_settings.cache_clear()
    db = Database(url)
    past = datetime.now(UTC) - timedelta(days=1)  # the command runs on the system clock
    expired, kept = _row(expires_at=past, saved=False), _row(expires_at=None, saved=True)
    live = _row(expires_at=datetime.now(UTC) + timedelta(days=1), saved=False)
    with db.unit_of_work() as s:
        s.add_all([expired, kept, live])
    try:
        result = CliRunner().invoke(app, ["care", "purge"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "deleted 1 expired care request(s)" in result.output
    with db.unit_of_work() as s:
        assert set(s.scalars(select(CareRequest.id))) == {kept.id, live.id}
    db.dispose()
