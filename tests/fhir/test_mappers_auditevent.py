"""AuditEvent over FHIR: FHIR reads leave audit entries that an auditor finds by patient, subtype, entity-type,
outcome and date; a patient sees only the entries about their own record; a clinician without audit:read is
refused."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from carebridge.security import Role
from tests.factories import Clinic, Factory
from tests.fhir.mapper_helpers import FHIR, post


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


def entries(client: TestClient, headers: dict[str, str], query: str) -> list[dict[str, Any]]:
    r = client.get(f"/fhir/R4/AuditEvent?{query}", headers=headers)
    assert r.status_code == 200, r.text
    return [e["resource"] for e in r.json().get("entry", [])]


def test_fhir_access_is_audited_and_readable_as_auditevent(client: TestClient, factory: Factory,
                                                           clinic: Clinic) -> None:
    doctor = {**factory.headers(clinic.users[Role.practitioner]), "Content-Type": FHIR}
    made = post(client, doctor, {"resourceType": "Condition", "subject": {"reference": f"Patient/{clinic.patient_id}"},
                                 "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]}})
    assert client.get(f"/fhir/R4/Condition/{made['id']}", headers=doctor).status_code == 200
    stranger = factory.headers(factory.user(Role.practitioner, organization_id=clinic.other_org))
    assert client.get(f"/fhir/R4/Condition/{made['id']}", headers=stranger).status_code == 403

    auditor = factory.headers(clinic.users[Role.admin])
    about = entries(client, auditor, f"patient=Patient/{clinic.patient_id}&entity-type=Condition&_count=50")
    reads = [e for e in about if e["subtype"][0]["code"] == "read"]
    assert any(e["entity"][0]["what"] == {"reference": f"Condition/{made['id']}"} for e in reads)
    assert any(e["subtype"][0]["code"] == "create" and e["action"] == "C" for e in about)
    assert all(e["recorded"].startswith("2026-03-10") for e in about)
    assert entries(client, auditor, f"patient={clinic.patient_id}&entity-type=Condition&date=lt2026-03-10") == []
    assert entries(client, auditor, f"patient={clinic.patient_id}&subtype=read&entity-type=Condition")

    own = factory.headers(clinic.users[Role.patient])
    mine = entries(client, own, "_count=100")
    assert mine and all(e["entity"][-1]["what"] == {"reference": f"Patient/{clinic.patient_id}"} for e in mine)
    assert any(e["entity"][0]["what"].get("reference") == f"Condition/{made['id']}" for e in mine)
    assert client.get(f"/fhir/R4/AuditEvent?patient={clinic.other_patient_id}", headers=own).status_code == 403
    assert client.get("/fhir/R4/AuditEvent", headers=doctor).status_code == 403
