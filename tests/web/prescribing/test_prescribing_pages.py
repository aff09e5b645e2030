"""Prescribing pages without a browser: the prescriber writes warfarin + aspirin, sees the blocking alert with
its source, overrides it with a reason and signs; the pharmacist dispenses part then the rest; the patient
marks a dose and sees adherence; the prescriber answers a refill request; pages refuse the wrong people."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from carebridge.kernel.clock import FixedClock
from carebridge.security import Role
from tests.factories import Factory
from tests.web.helpers import assert_good_page, post_form, sign_in

LIVE_SCRIPT_TAG = '<script src="/prescribe/live.js" defer></script>'


def _without_live_script(html: str) -> str:
    """The prescriber page's one script (live alerts, progressive enhancement) taken out; the rest is checked."""
    assert html.count("<script") == 1 and LIVE_SCRIPT_TAG in html
    return html.replace(LIVE_SCRIPT_TAG, "")


def _rx_id(location: str) -> str:
    match = re.fullmatch(r"/prescriptions/([0-9a-f-]{36})/review", location)
    assert match, location
    return match.group(1)


def test_prescribe_override_sign_dispense_and_mark(client: TestClient, factory: Factory,
                                                   clock: FixedClock) -> None:
    clinic = factory.clinic()
    pid = str(clinic.patient_id)
    assert sign_in(client, clinic.users[Role.practitioner].username).status_code == 303
    page = client.get(f"/prescribe/{pid}", params={"q": "Ecosprin"})
    assert page.status_code == 200
    assert_good_page(_without_live_script(page.text))
    assert "aspirin" in page.text and "No open alerts." in page.text
    r = post_form(client, f"/prescribe/{pid}", f"/prescribe/{pid}", {
        "med_0": "warfarin", "dose_0": "5", "times_0": "1", "days_0": "10",
        "med_1": "Ecosprin", "dose_1": "75", "times_1": "1", "days_1": "10"})
    assert r.status_code == 303, r.text
    rx = _rx_id(r.headers["location"])
    review = client.get(f"/prescriptions/{rx}/review")
    assert_good_page(review.text)
    assert "blocks signing" in review.text and "Source" in review.text
    assert "Override" in review.text
    chart = client.get(f"/prescribe/{pid}")
    assert "Major: warfarin + Ecosprin" in chart.text and "British National Formulary" in chart.text
    refused = post_form(client, f"/prescriptions/{rx}/review", f"/prescriptions/{rx}/review/sign", {})
    assert refused.status_code == 409 and "acknowledge or override" in refused.text
    alert = re.search(r'name="kind" value="([^"]+)">\s*<input type="hidden" name="items" value="([^"]+)"',
                      review.text)
    assert alert
    no_reason = post_form(client, f"/prescriptions/{rx}/review", f"/prescriptions/{rx}/review/alerts",
                          {"kind": alert.group(1), "items": alert.group(2), "action": "override", "reason": ""})
    assert no_reason.status_code == 422
    ok = post_form(client, f"/prescriptions/{rx}/review", f"/prescriptions/{rx}/review/alerts",
                   {"kind": alert.group(1), "items": alert.group(2), "action": "override",
                    "reason": "INR monitored weekly; cardiology advised"})
    assert ok.status_code == 303
    assert "INR monitored weekly" in client.get(f"/prescriptions/{rx}/review").text
    signed = post_form(client, f"/prescriptions/{rx}/review", f"/prescriptions/{rx}/review/sign", {})
    assert signed.status_code == 303
    assert "Signed" in client.get(f"/prescriptions/{rx}/review").text
    client.cookies.clear()

    assert sign_in(client, clinic.users[Role.pharmacist].username).status_code == 303
    queue = client.get("/pharmacy")
    assert_good_page(queue.text)
    ids = re.findall(r'name="qty_([0-9a-f-]{36})"', queue.text)
    assert len(ids) == 2
    part = post_form(client, "/pharmacy", f"/pharmacy/{rx}/dispense", {f"qty_{ids[0]}": "5", f"qty_{ids[1]}": "0"})
    assert part.status_code == 303
    assert "left to dispense: 5" in client.get("/pharmacy").text
    too_much = post_form(client, "/pharmacy", f"/pharmacy/{rx}/dispense", {f"qty_{ids[0]}": "50"})
    assert too_much.status_code == 409 and "more than the prescribed quantity" in too_much.text
    rest = post_form(client, "/pharmacy", f"/pharmacy/{rx}/dispense", {f"qty_{ids[0]}": "5", f"qty_{ids[1]}": "10"})
    assert rest.status_code == 303
    assert "Nothing is waiting." in client.get("/pharmacy").text
    client.cookies.clear()

    clock.advance(hours=24)  # the next day's 09:00 doses are due
    assert sign_in(client, clinic.users[Role.patient].username).status_code == 303
    mine = client.get("/medications")
    assert_good_page(mine.text)
    dose = re.search(r'action="/medications/doses/([^"]+)"', mine.text)
    assert dose
    marked = post_form(client, "/medications", f"/medications/doses/{dose.group(1)}",
                       {"status": "taken", "patient_id": pid})
    assert marked.status_code == 303
    after = client.get("/medications")
    assert "taken" in after.text
    assert re.search(r"<td>warfarin</td><td>\d+</td><td>1</td>", after.text)


def test_refill_request_and_the_prescribers_refusal(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    doc = factory.headers(clinic.users[Role.practitioner])
    rx = client.post("/api/v1/prescriptions", headers=doc, json={"patient_id": str(clinic.patient_id), "items": [
        {"medication": "amlodipine", "dose": 5, "times_per_day": 1, "duration_days": 30, "refills": 1}]}).json()
    client.post(f"/api/v1/prescriptions/{rx['id']}/sign", headers=doc)
    client.post(f"/api/v1/prescriptions/{rx['id']}/dispense", headers=factory.headers(clinic.users[Role.pharmacist]),
                json={"lines": [{"item_id": rx["items"][0]["id"], "quantity": 30}]})
    assert sign_in(client, clinic.users[Role.patient].username).status_code == 303
    asked = post_form(client, "/medications", f"/medications/{rx['id']}/refill",
                      {"patient_id": str(clinic.patient_id), "note": "two days left"})
    assert asked.status_code == 303
    client.cookies.clear()
    assert sign_in(client, clinic.users[Role.practitioner].username).status_code == 303
    chart = client.get(f"/prescribe/{clinic.patient_id}")
    assert "two days left" in chart.text
    req = re.search(r'action="/refill-requests/([0-9a-f-]{36})/decide"', chart.text)
    assert req
    no_reason = post_form(client, f"/prescribe/{clinic.patient_id}", f"/refill-requests/{req.group(1)}/decide",
                          {"action": "refuse", "patient_id": str(clinic.patient_id)})
    assert no_reason.status_code == 422
    done = post_form(client, f"/prescribe/{clinic.patient_id}", f"/refill-requests/{req.group(1)}/decide",
                     {"action": "refuse", "reason": "review visit first", "patient_id": str(clinic.patient_id)})
    assert done.status_code == 303
    assert "two days left" not in client.get(f"/prescribe/{clinic.patient_id}").text


def test_pages_refuse_the_wrong_people(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    assert client.get(f"/prescribe/{clinic.patient_id}", follow_redirects=False).status_code == 303  # sign in
    assert sign_in(client, clinic.users[Role.patient].username).status_code == 303
    assert client.get("/pharmacy").status_code == 403
    assert client.get(f"/medications?patient={clinic.other_patient_id}").status_code == 403
    page = client.get(f"/prescribe/{clinic.patient_id}")
    assert page.status_code == 200 and "Write a prescription" not in page.text  # reading, not prescribing


def test_a_linked_caregiver_sees_the_patients_doses_and_adherence(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    doc = factory.headers(clinic.users[Role.practitioner])
    rx = client.post("/api/v1/prescriptions", headers=doc, json={"patient_id": str(clinic.patient_id), "items": [
        {"medication": "paracetamol", "dose": 500, "times_per_day": 2, "duration_days": 3}]}).json()
    assert client.post(f"/api/v1/prescriptions/{rx['id']}/sign", headers=doc).status_code == 200
    assert sign_in(client, clinic.users[Role.caregiver].username).status_code == 303
    page = client.get("/medications", params={"patient": str(clinic.patient_id)})
    assert page.status_code == 200
    assert_good_page(page.text)
    assert "paracetamol" in page.text and "Adherence" in page.text
