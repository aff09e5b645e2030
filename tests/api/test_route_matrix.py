"""The authorization matrix over every route of the OpenAPI document, so a route added later is covered the day
it appears:

* without credentials, every operation answers 401 problem+json, except the few that are public by design,
  each listed below with the reason it is public (a new public route must be added here on purpose);
* for every read of one patient (`GET` whose only path parameter is the patient id): the patient and their linked
  caregiver reach their own record; another patient, a caregiver not linked, and staff of an organization that
  does not treat the patient are refused with 403 or 404, never 200, on every such route.

The per-role rules inside each context (which staff role may write what) are tested beside that context.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carebridge.security import Role
from tests.factories import Clinic, Factory

# (method, path template) -> why it needs no credentials
PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "liveness probe",
    ("GET", "/readyz"): "readiness probe",
    ("GET", "/metrics"): "Prometheus scrape (bind it to an internal interface in production)",
    ("POST", "/api/v1/auth/login"): "how credentials are obtained",
    ("POST", "/api/v1/auth/refresh"): "authenticated by the refresh token in the body",
    ("POST", "/api/v1/auth/logout"): "revokes the refresh token in the body; harmless without one",
    ("POST", "/api/v1/auth/register"): "patient self-registration",
    ("GET", "/api/v1/specialties"): "the public coded list of specialties",
    ("GET", "/api/v1/facilities/search"): "finding care must work before signing in",
    ("GET", "/api/v1/facilities"): "the facility directory is public information",
    ("GET", "/api/v1/facilities/{facility_id}"): "the facility directory is public information",
    ("GET", "/api/v1/facilities/export"): "the facility directory is public information",
    ("GET", "/api/v1/slots"): "free slots are shown before signing in; booking needs an account",
    ("GET", "/api/v1/queues/{facility_id}/{department}"): "the waiting-room display shows token numbers only",
    ("GET", "/api/v1/calendar-feeds/{token}.ics"): "authenticated by the secret in the URL",
    ("POST", "/api/v1/care-requests"): "finding care must work before signing in (rate-limited per address)",
    ("GET", "/.well-known/carebridge-card-key"): "the public key anyone verifies an emergency card with",
    ("GET", "/.well-known/carebridge-card-key.pem"): "the public key anyone verifies an emergency card with",
    ("GET", "/fhir/R4/metadata"): "FHIR clients read the CapabilityStatement before authenticating",
    ("GET", "/.well-known/smart-configuration"): "SMART clients discover the sign-in endpoints before signing in",
    ("POST", "/api/v1/auth/token"): "how credentials (optionally narrowed by SMART scopes) are obtained",
}
# Routes authenticated by an integration API key (issued by an admin), never by a user's sign-in: without a key
# they answer 401 like every other protected route, and a user's bearer token is not a key.
API_KEY_ROUTES: frozenset[tuple[str, str]] = frozenset({("POST", "/diagnose"), ("POST", "/geo")})
# Path parameters that are not ids get a plausible value (anything else gets a random UUID).
PARAM_VALUES = {"new_status": "completed", "department": "opd", "token": "not-a-feed"}


def _operations(client: TestClient) -> list[tuple[str, str]]:
    paths: dict[str, dict[str, Any]] = client.get("/openapi.json").json()["paths"]
    return sorted((method.upper(), path) for path, ops in paths.items() for method in ops
                  if method in {"get", "post", "put", "patch", "delete"})


def _fill(path: str, values: dict[str, str] | None = None) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if values and name in values:
            return values[name]
        return PARAM_VALUES.get(name, str(uuid.uuid4()))
    return re.sub(r"\{([^}]+)\}", one, path)


def test_every_route_needs_credentials_unless_public_by_design(client: TestClient) -> None:
    operations = _operations(client)
    assert len(operations) > 50  # the whole document, not an empty one
    wrong: list[str] = []
    for method, path in operations:
        if (method, path) in PUBLIC:
            continue
        response = client.request(method, _fill(path), json={})
        # FHIR routes answer errors as OperationOutcome (application/fhir+json), the rest as problem+json
        error_type = "application/fhir+json" if path.startswith("/fhir/") else "application/problem+json"
        if response.status_code != 401 or not response.headers["content-type"].startswith(error_type):
            wrong.append(f"{method} {path} -> {response.status_code}")
    assert wrong == [], "routes that answer without credentials (add to PUBLIC with a reason, or protect them)"


def test_public_list_names_only_routes_that_exist(client: TestClient) -> None:
    assert set(PUBLIC) <= set(_operations(client))


def _patient_reads(client: TestClient) -> list[str]:
    return [path for method, path in _operations(client)
            if method == "GET" and re.findall(r"\{([^}]+)\}", path) in (["patient_id"], ["pid"])]


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


def test_patient_reads_reach_only_the_patients_own_record(client: TestClient, factory: Factory,
                                                          clinic: Clinic) -> None:
    reads = _patient_reads(client)
    assert "/api/v1/patients/{patient_id}" in reads
    own_users = {"patient": clinic.users[Role.patient], "linked caregiver": clinic.users[Role.caregiver]}
    # someone else's record: the other patient, a caregiver linked to nobody, staff of a non-treating organization
    strangers = {
        "another patient": factory.user(Role.patient, patient_id=clinic.other_patient_id),
        "unlinked caregiver": factory.user(Role.caregiver),
        "practitioner elsewhere": factory.user(Role.practitioner, organization_id=factory.organization()),
        "nurse elsewhere": factory.user(Role.nurse, organization_id=factory.organization()),
    }
    leaks: list[str] = []
    for path in reads:
        url = path.replace("{patient_id}", str(clinic.patient_id)).replace("{pid}", str(clinic.patient_id))
        for who, user in strangers.items():
            status = client.get(url, headers=factory.headers(user)).status_code
            if status not in (403, 404):
                leaks.append(f"{who}: GET {path} -> {status}")
        own = client.get(url, headers=factory.headers(own_users["patient"])).status_code
        if own in (401, 403):
            leaks.append(f"patient refused their own GET {path} -> {own}")
    assert leaks == []
    # the linked caregiver (read_record scope) reads the record itself
    caregiver = factory.headers(own_users["linked caregiver"])
    assert client.get(f"/api/v1/patients/{clinic.patient_id}", headers=caregiver).status_code == 200


def test_staff_of_the_treating_organization_read_and_others_do_not(client: TestClient, factory: Factory,
                                                                   clinic: Clinic) -> None:
    url = f"/api/v1/patients/{clinic.patient_id}"
    for role in (Role.practitioner, Role.nurse, Role.front_desk, Role.admin):
        assert client.get(url, headers=factory.headers(clinic.users[role])).status_code == 200, role
        elsewhere = factory.user(role, organization_id=clinic.other_org)
        assert client.get(url, headers=factory.headers(elsewhere)).status_code in (403, 404), role


def test_api_key_routes_refuse_a_users_token(client: TestClient, factory: Factory) -> None:
    assert set(_operations(client)) >= API_KEY_ROUTES
    headers = factory.headers(factory.user(Role.admin))
    for method, path in sorted(API_KEY_ROUTES):
        response = client.request(method, path, json={}, headers=headers)
        assert response.status_code == 401, f"{method} {path} -> {response.status_code}"
