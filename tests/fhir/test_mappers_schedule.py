"""Schedule and Slot over FHIR: an availability rule is a Schedule (read; searched by actor, active, date over
its planning horizon, service-type), its computed free slots are Slots (searched by schedule, start prefixes,
status, service-type); both read-only."""

from __future__ import annotations

from fastapi.testclient import TestClient

from carebridge.security import Role
from tests.factories import Factory
from tests.fhir.mapper_helpers import FHIR, search
from tests.integration.scheduling.helpers import make_rule, schedule


def test_schedules_by_actor_active_horizon_and_kind(client: TestClient, factory: Factory) -> None:
    s = schedule(client, factory, until="2026-06-30", kinds=["in_person"])
    doc = s.headers(factory, Role.practitioner)
    body = client.get(f"/fhir/R4/Schedule/{s.rule_id}", headers=doc).json()
    assert body["planningHorizon"] == {"start": "2026-03-01", "end": "2026-06-30"} and body["active"] is True
    assert body["actor"] == [{"reference": f"Practitioner/{s.practitioner_id}"},
                             {"reference": f"Location/{s.facility_id}"}]
    tele = make_rule(client, s.admin, s.practitioner_id, s.facility_id, starts_on="2026-07-01",
                     kinds=["teleconsultation"], start_time="14:00", end_time="16:00")["id"]
    a = f"Schedule?actor=Practitioner/{s.practitioner_id}"
    assert set(search(client, doc, a)) == {s.rule_id, tele}
    assert search(client, doc, f"{a}&service-type=teleconsultation") == [tele]
    assert search(client, doc, f"{a}&date=ge2026-07-01") == [tele]  # the first rule ends on 30 June
    assert search(client, doc, f"{a}&date=2026-04") == [s.rule_id]
    assert search(client, doc, f"{a}&date=lt2026-03-01") == []
    assert search(client, doc, f"{a}&active=false") == []
    assert search(client, doc, f"Schedule?_id={tele}") == [tele]
    assert client.put(f"/fhir/R4/Schedule/{s.rule_id}", json=body, headers={**doc, "Content-Type": FHIR}) \
        .status_code == 405


def test_slots_by_schedule_start_status_and_kind(client: TestClient, factory: Factory) -> None:
    s = schedule(client, factory)
    doc = s.headers(factory, Role.practitioner)
    day = f"Slot?schedule=Schedule/{s.rule_id}&start=ge2026-03-11&start=lt2026-03-12&_count=50"
    slots = [e["resource"] for e in client.get(f"/fhir/R4/{day}", headers=doc).json()["entry"]]
    assert len(slots) == 8 and {x["status"] for x in slots} == {"free"}
    assert slots[0]["start"] == "2026-03-11T03:30:00Z" and slots[0]["end"] == "2026-03-11T04:00:00Z"
    again = search(client, doc, day)
    assert again == [x["id"] for x in slots]  # ids are stable: a UUIDv5 of the rule and the start
    assert len(search(client, doc, f"{day}&service-type=teleconsultation")) == 8
    assert search(client, doc, f"{day}&service-type=home_visit") == []
    assert search(client, doc, f"{day}&status=busy") == []
    assert len(search(client, doc, f"{day}&start=ge2026-03-11T06:00:00Z")) == 3  # 11:30, 12:00, 12:30 IST
    assert client.get("/fhir/R4/Slot?start=ge2026-03-11", headers=doc).status_code == 400  # schedule is required
