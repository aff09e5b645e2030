"""Fuzz only the prescribing operations (the project-wide fuzz test covers them too, with fewer examples):
no input gives a 5xx or a response outside the documented schema."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from carebridge.security import Role
from tests.api.test_schemathesis import ROLES, api_schema, fuzz_app, fuzz_db_url, role_headers

__all__ = ["api_schema", "fuzz_app", "fuzz_db_url", "role_headers"]

schema = schemathesis.pytest.from_fixture("api_schema").include(
    path_regex=r"^/api/v1/(medications|prescriptions|prescription-alerts/stream|doses/|pharmacy/|patients/\{patient_id\}/(prescriptions|"
               r"prescription-alerts|doses|adherence))")


@schema.parametrize()
@settings(max_examples=5, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_prescribing_operations_never_fail_on_the_server(
    case: schemathesis.Case, role_headers: dict[Role | None, dict[str, str]]
) -> None:
    for role in ROLES:
        case.call_and_validate(headers={**(case.headers or {}), **role_headers[role]},
                               checks=[not_a_server_error, response_schema_conformance])
