"""Result parameters over any mapper: _sort, _lastUpdated, _include/_revinclude, _summary, _elements."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carebridge.fhir.outcome import FhirError
from carebridge.fhir.search import instant_param
from carebridge.kernel.clock import FixedClock
from carebridge.security import Role
from tests.factories import Clinic, Factory
from tests.fhir.core_support import basic, headers, ids, outcome, post


@pytest.fixture
def clinic(factory: Factory) -> Clinic:
    return factory.clinic()


@pytest.fixture
def staff(factory: Factory, clinic: Clinic) -> dict[str, str]:
    return headers(factory, clinic.users[Role.practitioner])


def patient_body(given: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "name": [{"use": "official", "family": "Sortable", "given": [given]}],
            "gender": "female", "birthDate": "1985-06-01", "text": {"status": "generated",
                                                                    "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},
            **extra}


def test_sort_by_last_updated_pages_stably(client: TestClient, staff: dict[str, str], clock: FixedClock) -> None:
    made = []
    for n in range(5):
        made.append(post(client, "Patient", patient_body(f"P{n}"), staff)["id"])
        clock.advance(minutes=1)
    first = client.get("/fhir/R4/Patient?family=Sortable&_sort=-_lastUpdated&_count=2", headers=staff).json()
    order = ids(first)
    nxt = next(link["url"] for link in first["link"] if link["relation"] == "next")
    post(client, "Patient", patient_body("Newest"), staff)  # sorts before the cursor: shifts nothing
    while nxt:
        page = client.get(nxt.replace("http://testserver", ""), headers=staff).json()
        order += ids(page)
        nxt = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
    assert order == list(reversed(made))
    asc = ids(client.get("/fhir/R4/Patient?family=Sortable&_sort=_lastUpdated&_count=3", headers=staff).json())
    assert asc == made[:3]
    outcome(client.get("/fhir/R4/Patient?_sort=shoe-size", headers=staff), 400)
    outcome(client.get("/fhir/R4/Patient?family=Sortable&_sort=_id&_cursor=bogus", headers=staff), 400)


def test_last_updated_filters_a_mapped_type(client: TestClient, factory: Factory, clinic: Clinic,
                                            staff: dict[str, str], clock: FixedClock) -> None:
    early = post(client, "Patient", patient_body("Early"), staff)["id"]
    clock.advance(days=2)
    staff = headers(factory, clinic.users[Role.practitioner])  # a fresh token at the new instant
    late = post(client, "Patient", patient_body("Late"), staff)["id"]
    got = ids(client.get("/fhir/R4/Patient?family=Sortable&_lastUpdated=ge2026-03-11", headers=staff).json())
    assert got == [late]
    got = ids(client.get("/fhir/R4/Patient?family=Sortable&_lastUpdated=lt2026-03-11", headers=staff).json())
    assert got == [early]
    counted = client.get("/fhir/R4/Patient?family=Sortable&_lastUpdated=eq2026-03-12&_summary=count",
                         headers=staff).json()
    assert counted["total"] == 1


def test_include_and_revinclude(client: TestClient, factory: Factory, staff: dict[str, str],
                                clinic: Clinic) -> None:
    note = post(client, "Basic", basic(clinic.patient_id, "about Meera"), staff)["id"]
    stranger_note = post(client, "Basic", basic(clinic.other_patient_id, "about Rahul"),
                         headers(factory, factory.user(Role.practitioner, organization_id=clinic.other_org)))["id"]
    with_patient = client.get("/fhir/R4/Basic?_include=Basic:subject", headers=staff).json()
    assert ids(with_patient) == [note]
    assert ids(with_patient, "include") == [str(clinic.patient_id)]
    rev = client.get(f"/fhir/R4/Patient?_id={clinic.patient_id}&_revinclude=Basic:subject", headers=staff).json()
    assert ids(rev) == [str(clinic.patient_id)] and ids(rev, "include") == [note]
    assert stranger_note not in ids(rev, None)
    outcome(client.get("/fhir/R4/Basic?_include=Basic:performer", headers=staff), 400)
    outcome(client.get("/fhir/R4/Patient?_revinclude=Practitioner:name", headers=staff), 400)
    outcome(client.get("/fhir/R4/Basic?_include=*", headers=staff), 400)


def test_summary_and_elements(client: TestClient, staff: dict[str, str]) -> None:
    pid = post(client, "Patient", patient_body("Shaped", telecom=[{"system": "phone", "value": "+91 90000 00001"}]),
               staff)["id"]

    def one(query: str) -> dict[str, Any]:
        r = client.get(f"/fhir/R4/Patient?_id={pid}&{query}", headers=staff)
        assert r.status_code == 200, r.text
        resource: dict[str, Any] = r.json()["entry"][0]["resource"]
        return resource

    elements = one("_elements=birthDate")
    assert set(elements) == {"resourceType", "id", "meta", "birthDate"}
    assert any(t["code"] == "SUBSETTED" for t in elements["meta"]["tag"])
    summary = one("_summary=true")
    assert "name" in summary and "birthDate" in summary and "text" not in summary
    data = one("_summary=data")
    assert "text" not in data and "telecom" in data
    assert one("_summary=false") == one("_summary=false") and "meta" in one("_summary=false")
    outcome(client.get("/fhir/R4/Patient?_summary=maybe", headers=staff), 400)
    outcome(client.get("/fhir/R4/Patient?_elements=name.given", headers=staff), 400)
    outcome(client.get("/fhir/R4/Patient?_elements=name&_summary=true", headers=staff), 400)


@pytest.mark.parametrize(("value", "inside", "outside"), [
    ("2026-03", "2026-03-31T23:59:59+00:00", "2026-04-01T00:00:00+00:00"),
    ("2026-03-10", "2026-03-10T00:00:00+00:00", "2026-03-11T00:00:00+00:00"),
    ("2026-03-10T09:30:00Z", "2026-03-10T09:30:00.500000+00:00", "2026-03-10T09:30:01+00:00"),
    ("2026-03-10T15:00+05:30", "2026-03-10T09:30:59+00:00", "2026-03-10T09:31:00+00:00"),
    ("2026", "2026-12-31T23:59:59+00:00", "2025-12-31T23:59:59+00:00"),
])
def test_last_updated_precision_is_a_range(value: str, inside: str, outside: str) -> None:
    test = instant_param("_lastUpdated", value)
    assert test.matches(datetime.fromisoformat(inside)) and not test.matches(datetime.fromisoformat(outside))
    assert instant_param("_lastUpdated", f"ne{value}").matches(datetime.fromisoformat(outside))


@pytest.mark.parametrize("value", ["2026-13", "2026-02-30", "2026-03-10T09:30", "ge", "2026-03-10T25:00Z",
                                   "2026-03-10T09:30Z+01:00"])
def test_last_updated_refuses_what_it_cannot_read(value: str) -> None:
    with pytest.raises(FhirError) as caught:
        instant_param("_lastUpdated", value)
    assert caught.value.status == 400
