"""The printable prescription: linked from the review page once signed, everything a pharmacy needs on paper,
print CSS, and the QR code whose text the server verifies; a draft prints as not valid; strangers are refused."""

from __future__ import annotations

from fastapi.testclient import TestClient

from carebridge.security import Role
from tests.factories import Clinic, Factory
from tests.web.helpers import assert_good_page, sign_in


def _draft(client: TestClient, factory: Factory, clinic: Clinic) -> str:
    r = client.post("/api/v1/prescriptions", headers=factory.headers(clinic.users[Role.practitioner]), json={
        "patient_id": str(clinic.patient_id), "note": "Review in two weeks", "items": [
            {"medication": "paracetamol", "dose": 500, "times_per_day": 3, "duration_days": 5,
             "instructions": "after food"}]})
    assert r.status_code == 201, r.text
    rx_id: str = r.json()["id"]
    return rx_id


def test_signed_prescription_prints_with_a_verifiable_qr(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    doc = factory.headers(clinic.users[Role.practitioner])
    rx = _draft(client, factory, clinic)
    assert client.post(f"/api/v1/prescriptions/{rx}/sign", headers=doc).status_code == 200
    assert sign_in(client, clinic.users[Role.practitioner].username).status_code == 303
    review = client.get(f"/prescriptions/{rx}/review")
    assert f'href="/prescriptions/{rx}/print"' in review.text
    page = client.get(f"/prescriptions/{rx}/print")
    assert page.status_code == 200
    assert_good_page(page.text)
    text = page.text
    assert "Meera Iyer" in text and "paracetamol" in text and "after food" in text and "Review in two weeks" in text
    assert "Valid until" in text and "Not signed" not in text
    assert f'src="/api/v1/prescriptions/{rx}/qr.svg"' in text and '<link rel="stylesheet" href="/prescriptions/print.css">' in text
    signed = client.get(f"/api/v1/prescriptions/{rx}", headers=doc).json()
    assert signed["content_hash"] in text
    css = client.get("/prescriptions/print.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "@media print" in css.text and ".no-print" in css.text
    qr = client.get(f"/api/v1/prescriptions/{rx}/qr.svg", headers=doc)
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/svg+xml" and "<svg" in qr.text
    scanned = client.get(f"/api/v1/prescriptions/{rx}/signed-text", headers=doc).json()["text"]
    checked = client.post("/api/v1/prescriptions/verify-text", headers=doc, json={"text": scanned})
    assert checked.json()["valid"] is True
    tampered = client.post("/api/v1/prescriptions/verify-text", headers=doc, json={"text": scanned[:-3] + "AAA"})
    assert tampered.json()["valid"] is False
    client.cookies.clear()
    assert sign_in(client, clinic.users[Role.patient].username).status_code == 303
    assert "paracetamol" in client.get(f"/prescriptions/{rx}/print").text  # the patient prints their own


def test_a_draft_prints_as_not_valid_and_strangers_are_refused(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    rx = _draft(client, factory, clinic)
    assert sign_in(client, clinic.users[Role.practitioner].username).status_code == 303
    assert f'href="/prescriptions/{rx}/print"' not in client.get(f"/prescriptions/{rx}/review").text
    page = client.get(f"/prescriptions/{rx}/print")
    assert page.status_code == 200
    assert "Not signed: this is not a valid prescription" in page.text and "qr.svg" not in page.text
    client.cookies.clear()
    elsewhere = factory.user(Role.practitioner, organization_id=clinic.other_org)
    assert sign_in(client, elsewhere.username).status_code == 303
    refused = client.get(f"/prescriptions/{rx}/print")
    assert refused.status_code in (403, 404) and "paracetamol" not in refused.text
    assert client.get("/prescriptions/not-an-id/print").status_code == 404
