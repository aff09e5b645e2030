"""Every Synthea resource of a mapped clinical type, pointed at a stored patient, is either kept (201) or
refused with an OperationOutcome the importer can act on (422, `code-invalid` for codes the record does not
hold) — never a 500. The real files from shared/data/fhir/synthea when present."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carebridge.security import Role
from tests.factories import Factory
from tests.fhir.mapper_helpers import FHIR

SYNTHEA = Path("/work/shared/data/fhir/synthea")
TYPES = ("Encounter", "Condition", "Observation", "Immunization", "CarePlan", "AllergyIntolerance")


def _resources() -> list[dict[str, Any]]:
    if not SYNTHEA.is_dir():
        return []
    out = []
    for path in sorted(SYNTHEA.glob("*.json"))[:1]:
        for entry in json.loads(path.read_text(encoding="utf-8"))["entry"]:
            if entry["resource"]["resourceType"] in TYPES:
                out.append(entry["resource"])
    return out


@pytest.mark.skipif(not _resources(), reason="no Synthea sample on this machine")
def test_synthea_resources_are_kept_or_routed_never_a_500(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    doc = {**factory.headers(clinic.users[Role.practitioner]), "Content-Type": FHIR}
    kept: dict[str, int] = {}
    routed: dict[str, int] = {}
    encounters: dict[str, str] = {}
    for resource in sorted(_resources(), key=lambda r: TYPES.index(r["resourceType"])):
        body = json.loads(json.dumps(resource))
        old_id = body.pop("id", None)
        for element in ("subject", "patient"):
            if element in body:
                body[element] = {"reference": f"Patient/{clinic.patient_id}"}
        if "encounter" in body:
            new = encounters.get(body["encounter"]["reference"].rpartition(":")[2])
            if new:
                body["encounter"] = {"reference": f"Encounter/{new}"}
            else:
                del body["encounter"]
        r = client.post(f"/fhir/R4/{body['resourceType']}", json=body, headers=doc)
        assert r.status_code in (201, 422), (body["resourceType"], r.status_code, r.text[:300])
        if r.status_code == 201:
            kept[body["resourceType"]] = kept.get(body["resourceType"], 0) + 1
            if body["resourceType"] == "Encounter" and old_id:
                encounters[old_id] = r.json()["id"]
        else:
            assert r.json()["resourceType"] == "OperationOutcome"
            routed[body["resourceType"]] = routed.get(body["resourceType"], 0) + 1
    assert kept.get("Encounter") and kept.get("Observation") and kept.get("CarePlan")


R4_EXAMPLES = Path("/work/shared/data/fhir/r4_examples")


def _examples() -> list[dict[str, Any]]:
    if not R4_EXAMPLES.is_dir():
        return []
    return [json.loads(p.read_text(encoding="utf-8")) for t in TYPES for p in sorted(R4_EXAMPLES.glob(f"{t}-*.json"))]


@pytest.mark.skipif(not _examples(), reason="no R4 examples on this machine")
def test_r4_examples_are_kept_or_answered_with_an_outcome(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    doc = {**factory.headers(clinic.users[Role.practitioner]), "Content-Type": FHIR}
    statuses = []
    for body in _examples():
        body.pop("id", None)
        for element in ("subject", "patient"):
            if element in body:
                body[element] = {"reference": f"Patient/{clinic.patient_id}"}
        r = client.post(f"/fhir/R4/{body['resourceType']}", json=body, headers=doc)
        assert r.status_code in (201, 400, 422), (body["resourceType"], r.status_code, r.text[:300])
        statuses.append(r.status_code)
    assert 201 in statuses
