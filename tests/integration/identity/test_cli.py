"""`carebridge admin create` against a database named by the environment, migrated on the way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from carebridge.contexts.audit.models import AuditEntry
from carebridge.contexts.identity.cli import admin_app
from carebridge.contexts.identity.models import User
from carebridge.contexts.identity.passwords import verify_password
from carebridge.contexts.practitioners.models import Organization
from carebridge.kernel.db import Database
from carebridge.settings import get_settings

PASSWORD = "lantern harbour quietly"


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A scratch SQLite database of its own: the command commits for real, outside the test's SAVEPOINT."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("CAREBRIDGE_DATABASE_URL", url)
    monkeypatch.setenv("CAREBRIDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CAREBRIDGE_ENV", "test")
    monkeypatch.setenv("CAREBRIDGE_LOG_LEVEL", "WARNING")
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def _rows(url: str) -> tuple[list[User], list[Organization], list[AuditEntry]]:
    db = Database(url)
    try:
        with db.unit_of_work() as s:
            return (list(s.execute(select(User).order_by(User.username)).scalars()),
                    list(s.execute(select(Organization)).scalars()),
                    list(s.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars()))
    finally:
        db.dispose()


def test_first_admin_and_organization_are_created(cli_db: str) -> None:
    r = CliRunner().invoke(admin_app, ["create", "--username", "Root.Admin", "--email", "root@example.com",
                                       "--password", PASSWORD, "--organization-name", "Sunrise Clinic"])
    assert r.exit_code == 0, r.output
    assert "created admin root.admin" in r.output
    users, orgs, audit = _rows(cli_db)
    assert [(u.username, u.role, u.email) for u in users] == [("root.admin", "admin", "root@example.com")]
    assert [o.name for o in orgs] == ["Sunrise Clinic"] and users[0].organization_id == orgs[0].id
    assert verify_password(users[0].password_hash, PASSWORD)
    assert {(a.resource_type, a.action) for a in audit} >= {("User", "create"), ("Organization", "create")}


def test_second_admin_joins_the_only_organization_and_password_is_prompted(cli_db: str) -> None:
    runner = CliRunner()
    assert runner.invoke(admin_app, ["create", "--username", "first", "--password", PASSWORD,
                                     "--organization-name", "Sunrise Clinic"]).exit_code == 0
    r = runner.invoke(admin_app, ["create", "--username", "second"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert r.exit_code == 0, r.output
    users, orgs, _ = _rows(cli_db)
    assert len(orgs) == 1 and {u.organization_id for u in users} == {orgs[0].id}


def test_refusals_exit_non_zero_with_a_reason(cli_db: str) -> None:
    runner = CliRunner()
    r = runner.invoke(admin_app, ["create", "--username", "lonely", "--password", PASSWORD])
    assert r.exit_code == 1 and "no organization exists yet" in r.output
    r = runner.invoke(admin_app, ["create", "--username", "weak", "--password", "password1234",
                                  "--organization-name", "Sunrise Clinic"])
    assert r.exit_code == 1 and "too common" in r.output
    r = runner.invoke(admin_app, ["create", "--username", "x", "--password", PASSWORD])
    assert r.exit_code == 2 and "username" in r.output
    assert runner.invoke(admin_app, ["create", "--username", "taken", "--password", PASSWORD,
                                     "--organization-name", "Sunrise Clinic"]).exit_code == 0
    r = runner.invoke(admin_app, ["create", "--username", "TAKEN", "--password", PASSWORD,
                                  "--organization-name", "Sunrise Clinic"])
    assert r.exit_code == 1 and "taken" in r.output
    users, _, _ = _rows(cli_db)
    assert [u.username for u in users] == ["taken"]
