"""The records chart (/record/{id}) shows the patient's open prescription alerts, with a link to the prescriber's
page for staff who may prescribe; viewers who may not see prescriptions there get no section (and no refusal)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from carebridge.contexts.audit.models import AuditEntry
from carebridge.kernel.db import Database
from carebridge.security import Role
from tests.factories import Clinic, Factory
from tests.web.helpers import assert_good_page, sign_in


def _interacting_draft(client: TestClient, factory: Factory, clinic: Clinic) -> str:
    items = [{"medication": name, "dose": dose, "unit": "mg", "times_per_day": 1, "duration_days": 10}
             for name, dose in (("warfarin", 5), ("Ecosprin", 75))]
    r = client.post("/api/v1/prescriptions", json={"patient_id": str(clinic.patient_id), "items": items},
                    headers=factory.headers(clinic.users[Role.practitioner]))
    assert r.status_code == 201, r.text
    rx_id: str = r.json()["id"]
    return rx_id


def test_chart_shows_open_alerts_and_prescribe_link_for_the_prescriber(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    pid = clinic.patient_id
    assert sign_in(client, clinic.users[Role.practitioner].username).status_code == 303
    before = client.get(f"/record/{pid}")
    assert before.status_code == 200
    assert "No open prescription alerts." in before.text and f'href="/prescribe/{pid}"' in before.text
    rx = _interacting_draft(client, factory, clinic)
    chart = client.get(f"/record/{pid}")
    assert_good_page(chart.text)
    assert "Open prescription alerts" in chart.text
    assert "Major: warfarin + Ecosprin" in chart.text
    assert f'href="/prescriptions/{rx}/review"' in chart.text
    assert f'href="/prescribe/{pid}"' in chart.text


def test_nurse_sees_alerts_without_prescribe_link(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    _interacting_draft(client, factory, clinic)
    assert sign_in(client, clinic.users[Role.nurse].username).status_code == 303
    chart = client.get(f"/record/{clinic.patient_id}")
    assert chart.status_code == 200
    assert "Major: warfarin + Ecosprin" in chart.text
    assert f'href="/prescribe/{clinic.patient_id}"' not in chart.text


def test_patient_and_health_worker_get_no_alert_section(client: TestClient, factory: Factory,
                                                     database: Database) -> None:
    clinic = factory.clinic()
    _interacting_draft(client, factory, clinic)
    for role in (Role.patient, Role.health_worker):
        client.cookies.clear()
        assert sign_in(client, clinic.users[role].username).status_code == 303
        chart = client.get(f"/record/{clinic.patient_id}")
        assert chart.status_code == 200, role
        assert "Open prescription alerts" not in chart.text and "/prescribe/" not in chart.text
    with database.unit_of_work() as s:
        denied = s.scalars(select(AuditEntry).where(AuditEntry.resource_type == "Prescription",
                                                    AuditEntry.outcome == "denied")).all()
    assert denied == []
