"""Property-based fuzzing of every documented operation: no input yields a 5xx or a response that breaks
the OpenAPI document's own schema, for anonymous callers and for several roles.

It runs against its own committed database rather than the per-test SAVEPOINT: thousands of audited
requests nested as savepoints in one transaction would hold every lock until the end (PostgreSQL runs
out of lock slots), which no real deployment does.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance
from sqlalchemy import text

from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database, make_engine
from carebridge.kernel.migrate import upgrade
from carebridge.main import create_app
from carebridge.security import Role
from carebridge.settings import Settings
from tests.conftest import TEST_SECRET
from tests.factories import Factory

ROLES = (None, Role.admin, Role.practitioner, Role.patient)


@pytest.fixture(scope="module")
def fuzz_db_url(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not db_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}"
        return
    base, _, name = db_url.rpartition("/")
    fuzz_name = f"{name}_fuzz"
    admin = make_engine(f"{base}/postgres")
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{fuzz_name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{fuzz_name}"'))
    yield f"{base}/{fuzz_name}"
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{fuzz_name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def fuzz_app(fuzz_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    upgrade(fuzz_db_url)
    data_dir: Path = tmp_path_factory.mktemp("fuzz-data")
    db = Database(fuzz_db_url)
    settings_ = Settings(env="test", data_dir=data_dir, database_url=fuzz_db_url, secret_key=TEST_SECRET,
                         log_level="ERROR")
    yield create_app(settings_, database=db, clock=FixedClock(datetime(2026, 3, 10, 9, 30, tzinfo=UTC)))
    db.dispose()


@pytest.fixture(scope="module")
def role_headers(fuzz_app: FastAPI) -> dict[Role | None, dict[str, str]]:
    factory = Factory(app=fuzz_app, database=fuzz_app.state.database, clock=fuzz_app.state.clock)
    clinic = factory.clinic()
    headers: dict[Role | None, dict[str, str]] = {None: {}}
    for role in ROLES:
        if role is not None:
            headers[role] = factory.headers(clinic.users[role])
    return headers


@pytest.fixture(scope="module")
def api_schema(fuzz_app: FastAPI) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_no_server_errors_and_responses_match_schema(
    case: schemathesis.Case, role_headers: dict[Role | None, dict[str, str]]
) -> None:
    for role in ROLES:
        case.call_and_validate(headers={**(case.headers or {}), **role_headers[role]},
                               checks=[not_a_server_error, response_schema_conformance])
