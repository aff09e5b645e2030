"""Property-based fuzzing of every documented operation: no input yields a 5xx or a response that breaks
the OpenAPI document's own schema, for anonymous callers and for several roles.
"""

from __future__ import annotations

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from carebridge.security import Role
from tests.factories import Factory

ROLES = (None, Role.admin, Role.practitioner, Role.patient)


@pytest.fixture
def api_schema(app: FastAPI) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture
def role_headers(factory: Factory) -> dict[Role | None, dict[str, str]]:
    clinic = factory.clinic()
    headers: dict[Role | None, dict[str, str]] = {None: {}}
    for role in ROLES:
        if role is not None:
            headers[role] = factory.headers(clinic.users[role])
    return headers


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
