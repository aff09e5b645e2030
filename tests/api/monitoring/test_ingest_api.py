"""`POST /api/v1/vitals`: device credentials, item-by-item rejection, de-duplication, late arrival."""

from __future__ import annotations

from fastapi.testclient import TestClient

from carebridge.kernel.clock import FixedClock
from carebridge.security import Role
from tests.api.monitoring.conftest import NORMAL, Rig, readings
from tests.factories import Factory


def test_good_items_are_stored_and_each_bad_one_reported_by_index(client: TestClient, rig: Rig,
                                                                   clock: FixedClock) -> None:
    at = clock.now().isoformat()
    batch = [
        {"type": "heart_rate", "value": 72, "at": at},
        {"type": "temperature", "value": 98.6, "unit": "Cel", "at": at},         # °F sent as °C
        {"type": "temperature", "value": 98.6, "unit": "[degF]", "at": at},      # converted to 37 °C
        {"type": "pulse", "value": 70, "at": at},                                # unknown type
        {"type": "spo2", "value": 97, "at": "2026-03-10T09:30:00"},              # no time zone
        "not an object",
        {"type": "glucose", "value": 99, "unit": "mg/dL", "at": at},
    ]
    r = client.post("/api/v1/vitals", headers=rig.key, json={"readings": batch})
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["accepted"], report["stored"], report["duplicates"]) == (3, 3, 0)
    assert [x["index"] for x in report["rejected"]] == [1, 3, 4, 5]
    assert "outside the physiological bounds" in report["rejected"][0]["reason"]
    assert "unknown reading type" in report["rejected"][1]["reason"]

    got = client.get(f"/api/v1/patients/{rig.clinic.patient_id}/vitals", headers=rig.nurse).json()["items"]
    by_type = {x["type"]: x for x in got}
    assert set(by_type) == {"heart_rate", "temperature", "glucose"}
    assert round(by_type["temperature"]["value"], 1) == 37.0
    assert by_type["temperature"]["unit"] == "Cel"
    assert round(by_type["glucose"]["value"], 2) == 5.5


def test_resending_a_batch_stores_nothing_new(client: TestClient, rig: Rig, clock: FixedClock) -> None:
    batch = {"readings": readings(clock, NORMAL)}
    first = client.post("/api/v1/vitals", headers=rig.key, json=batch).json()
    again = client.post("/api/v1/vitals", headers=rig.key, json=batch).json()
    assert first["stored"] == 7
    assert (again["stored"], again["duplicates"]) == (0, 7)
    got = client.get(f"/api/v1/patients/{rig.clinic.patient_id}/vitals", headers=rig.nurse).json()["items"]
    assert len(got) == 7


def test_revoked_device_is_refused(client: TestClient, rig: Rig, clock: FixedClock) -> None:
    batch = {"readings": readings(clock, {"heart_rate": 80})}
    assert client.post("/api/v1/vitals", headers=rig.key, json=batch).status_code == 200
    assert client.delete(f"/api/v1/devices/{rig.device_id}", headers=rig.nurse).status_code == 200
    r = client.post("/api/v1/vitals", headers=rig.key, json=batch)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")


def test_wrong_or_missing_credential_is_refused(client: TestClient, rig: Rig, clock: FixedClock) -> None:
    batch = {"readings": readings(clock, {"heart_rate": 80})}
    wrong = rig.key["X-Device-Key"][:-2] + "xx"
    assert client.post("/api/v1/vitals", headers={"X-Device-Key": wrong}, json=batch).status_code == 401
    assert client.post("/api/v1/vitals", json=batch).status_code == 401
    assert client.post("/api/v1/vitals", headers=rig.nurse, json=batch).status_code == 401  # a user is no device


def test_batch_limit_and_future_and_too_old_readings(client: TestClient, rig: Rig, clock: FixedClock) -> None:
    too_many = {"readings": readings(clock, {"heart_rate": 80}) * 5001}
    assert client.post("/api/v1/vitals", headers=rig.key, json=too_many).status_code == 422
    batch = readings(clock, {"heart_rate": 80}, minutes_ago=-10) + readings(clock, {"heart_rate": 81},
                                                                              minutes_ago=31 * 24 * 60)
    report = client.post("/api/v1/vitals", headers=rig.key, json={"readings": batch}).json()
    assert [x["index"] for x in report["rejected"]] == [0, 1]


def test_late_reading_is_stored_but_does_not_replace_the_newer_value(client: TestClient, rig: Rig,
                                                                     clock: FixedClock) -> None:
    client.post("/api/v1/vitals", headers=rig.key, json={"readings": readings(clock, NORMAL)})
    late = readings(clock, {"respiratory_rate": 30}, minutes_ago=20)  # measured before the current set
    assert client.post("/api/v1/vitals", headers=rig.key, json={"readings": late}).json()["stored"] == 1
    news = client.get(f"/api/v1/patients/{rig.clinic.patient_id}/news2", headers=rig.nurse).json()
    assert (news["score"], news["band"]) == (0, "green")


def test_devices_are_the_patients_data(client: TestClient, rig: Rig, factory: Factory) -> None:
    stranger = factory.headers(factory.user(Role.nurse, organization_id=rig.clinic.other_org))
    url = f"/api/v1/patients/{rig.clinic.patient_id}/devices"
    assert client.get(url, headers=stranger).status_code == 403
    assert client.post(url, headers=stranger, json={"type": "bp_cuff", "serial": "X1"}).status_code == 403
    assert client.delete(f"/api/v1/devices/{rig.device_id}", headers=stranger).status_code == 403
    listed = client.get(url, headers=rig.nurse).json()["items"]
    assert [d["serial"] for d in listed] == ["PO-0001"]
    assert "credential" not in listed[0]
    patient = factory.headers(rig.clinic.users[Role.patient])
    assert client.get(url, headers=patient).status_code == 200
