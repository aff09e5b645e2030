"""The remote FHIR facility provider against a local FHIR server (Location + HealthcareService)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from carebridge.contexts.care.fhir_provider import FhirProvider, ProviderUnavailable
from carebridge.contexts.care.plan import SearchPlan
from carebridge.contexts.care.providers import Travel
from tests.integration.care.fhir_server import FhirTestServer, fhir_server, location, service

LAT, LNG = 12.97, 77.59


@pytest.fixture(scope="module")
def server() -> Iterator[FhirTestServer]:
    resources = [
        location("far-ed", "Far Emergency Hospital", 13.05, 77.59, phone="+91 80 4000 0001"),
        location("near-gp", "Near Family Clinic", 12.972, 77.59, type_code="PC"),
        location("mid-ed", "Mid Emergency Hospital", 12.99, 77.59, phone="+91 80 4000 0002"),
        location("outside", "Mysuru Hospital", 12.30, 76.64),
        {"resourceType": "Location", "id": "nowhere", "name": "No position"},
        service("hs-1", "far-ed", specialties=("cardiology",), emergency=True),
        service("hs-2", "near-gp", specialties=("general_practice", "not-a-code")),
        service("hs-3", "mid-ed", specialties=("general_practice",), emergency=True),
        service("hs-4", "outside", emergency=True),
    ]
    with fhir_server(resources) as running:
        yield running


def test_locations_map_to_facilities_nearest_first(server: FhirTestServer, session: Session) -> None:
    provider = FhirProvider(server.base, timeout_seconds=2)
    found = provider.find(session, plan=SearchPlan(False, 25.0, "general_practice"), lat=LAT, lng=LNG, limit=10,
                          travel=Travel(1.4, 30.0))
    assert [f.id for f in found] == ["Location/near-gp", "Location/mid-ed"]
    near = found[0]
    assert near.source == "fhir" and near.name == "Near Family Clinic" and near.type == "private_clinic"
    assert near.specialties == ["general_practice"] and near.emergency is False
    assert near.address.city == "Bengaluru" and near.address.postal_code == "560025"
    assert near.distance_km == pytest.approx(0.222, abs=0.01)
    assert found[1].phone == "+91 80 4000 0002" and found[1].emergency is True
    assert server.queries[-1]["near"] == f"{LAT}|{LNG}|25.0|km"
    assert server.queries[-1]["_revinclude"] == "HealthcareService:location"


def test_emergency_plans_keep_only_emergency_services_within_the_radius(server: FhirTestServer,
                                                                        session: Session) -> None:
    found = FhirProvider(server.base).find(session, plan=SearchPlan(True, 100.0, None), lat=LAT, lng=LNG, limit=10,
                                           travel=Travel())
    assert [f.id for f in found] == ["Location/mid-ed", "Location/far-ed"]  # Mysuru is ~120 km away


def test_an_unusable_server_is_a_503_problem_not_a_crash(server: FhirTestServer, session: Session) -> None:
    root = server.base.removesuffix("/fhir")
    for base, timeout in ((f"{root}/slow", 0.3), (f"{root}/broken", 2.0), ("http://127.0.0.1:9", 0.5)):
        with pytest.raises(ProviderUnavailable) as caught:
            FhirProvider(base, timeout_seconds=timeout).find(session, plan=SearchPlan(True, 50.0, None), lat=LAT,
                                                             lng=LNG, limit=5, travel=Travel())
        assert caught.value.status == 503


def test_the_setting_switches_care_requests_to_the_fhir_server(app: FastAPI, client: TestClient,
                                                               server: FhirTestServer) -> None:
    app.state.settings = app.state.settings.model_copy(
        update={"care_facility_provider": "fhir", "care_fhir_base_url": server.base})
    response = client.post("/api/v1/care-requests", json={"symptoms": "crushing chest pain and sweating",
                                                           "location": {"lat": LAT, "lng": LNG}})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["search"]["provider"] == "fhir"
    assert [f["id"] for f in body["facilities"]] == ["Location/mid-ed", "Location/far-ed"]
    app.state.settings = app.state.settings.model_copy(update={"care_fhir_base_url": "http://127.0.0.1:9/fhir",
                                                               "care_fhir_timeout_seconds": 0.5})
    down = client.post("/api/v1/care-requests", json={"symptoms": "fever", "location": {"lat": LAT, "lng": LNG}})
    assert down.status_code == 503
    assert down.headers["content-type"].startswith("application/problem+json")
