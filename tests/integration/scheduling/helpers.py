"""Building a schedule for tests: a facility of the clinic's organization, a practitioner and a daily rule."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from carebridge.security import Role
from tests.factories import Clinic, Factory
from tests.integration.facilities.helpers import payload
from tests.servers import running_server  # noqa: F401  (re-exported for the scheduling tests)

_n = itertools.count(1)


@dataclass
class Schedule:
    clinic: Clinic
    facility_id: str
    practitioner_id: str
    rule_id: str
    admin: dict[str, str]

    def headers(self, factory: Factory, role: Role) -> dict[str, str]:
        return factory.headers(self.clinic.users[role])


def make_practitioner(client: TestClient, admin: dict[str, str], **over: Any) -> str:
    n = next(_n)
    body = {"given_name": "Kavya", "family_name": f"Rao{n}", "specialties": ["cardiology"], "languages": ["hi", "en"]}
    body.update(over)
    r = client.post("/api/v1/practitioners", json=body, headers=admin)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def make_facility(client: TestClient, admin: dict[str, str], org: uuid.UUID, **over: Any) -> str:
    r = client.post("/api/v1/facilities", json=payload(organization_id=str(org), **over), headers=admin)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def make_rule(client: TestClient, headers: dict[str, str], practitioner_id: str, facility_id: str,
              **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"practitioner_id": practitioner_id, "facility_id": facility_id,
                            "rrule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "starts_on": "2026-03-01",
                            "start_time": "09:00", "end_time": "13:00", "slot_minutes": 30,
                            "kinds": ["in_person", "teleconsultation"]}
    body.update(over)
    r = client.post("/api/v1/availability-rules", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def schedule(client: TestClient, factory: Factory, **rule: Any) -> Schedule:
    """Clinic (clock: Tue 2026-03-10 09:30 UTC = 15:00 IST) with a weekday 09:00-13:00 IST rule."""
    clinic = factory.clinic()
    admin = factory.headers(clinic.users[Role.admin])
    facility = make_facility(client, admin, clinic.org)
    prac = make_practitioner(client, admin)
    made = make_rule(client, admin, prac, facility, **rule)
    return Schedule(clinic=clinic, facility_id=facility, practitioner_id=prac, rule_id=made["id"], admin=admin)
