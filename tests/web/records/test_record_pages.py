"""The record pages: timeline (filters, paging), the encounter note form (CSRF, validation, close), the printable
summary (print CSS) and its PDF, in English and Hindi, and refused for strangers."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from carebridge.contexts.identity.models import User
from carebridge.security import Role
from tests.factories import Factory
from tests.web.helpers import assert_good_page, csrf_token, sign_in


def _staff_client(client: TestClient, factory: Factory, role: Role = Role.practitioner):
    clinic = factory.clinic()
    assert sign_in(client, clinic.users[role].username).status_code == 303
    return clinic


def test_clinician_writes_a_note_that_appears_on_the_timeline(client: TestClient, factory: Factory) -> None:
    clinic = _staff_client(client, factory)
    form = client.get(f"/record/{clinic.patient_id}/note")
    assert form.status_code == 200
    assert_good_page(form.text)
    token = csrf_token(form.text)
    data = {"encounter_class": "AMB", "reason": "Cough for a week", "subjective": "Dry cough",
            "assessment": "Acute bronchitis", "diagnosis": "j20.9", "heart_rate": "112", "temperature": "37.1",
            "close": "1"}
    # without the CSRF token the form is refused
    assert client.post(f"/record/{clinic.patient_id}/note", data=data, follow_redirects=False).status_code == 403
    r = client.post(f"/record/{clinic.patient_id}/note", data={"csrf_token": token, **data}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = client.get(f"/record/{clinic.patient_id}")
    assert page.status_code == 200
    assert_good_page(page.text)
    assert "Cough for a week" in page.text and "J20.9" in page.text
    assert "Heart rate: 112 /min" in page.text and ">H<" in page.text  # flagged high
    only_visits = client.get(f"/record/{clinic.patient_id}", params={"kind": "encounter"}).text
    assert "Cough for a week" in only_visits and "Heart rate" not in only_visits


def test_a_bad_note_comes_back_with_a_message(client: TestClient, factory: Factory) -> None:
    clinic = _staff_client(client, factory)
    token = csrf_token(client.get(f"/record/{clinic.patient_id}/note").text)
    r = client.post(f"/record/{clinic.patient_id}/note",
                    data={"csrf_token": token, "reason": "Fever", "heart_rate": "fast", "diagnosis": "ZZZ"})
    assert r.status_code == 422 and "Check the diagnosis code" in r.text and 'value="Fever"' in r.text
    # a well-formed code that is not in the list is caught before anything is written
    r = client.post(f"/record/{clinic.patient_id}/note", data={"csrf_token": token, "reason": "Fever",
                                                               "diagnosis": "U99"})
    assert r.status_code == 422
    assert "Fever" not in client.get(f"/record/{clinic.patient_id}").text


def test_the_note_page_finds_codes_without_javascript(client: TestClient, factory: Factory) -> None:
    clinic = _staff_client(client, factory)
    page = client.get(f"/record/{clinic.patient_id}/note", params={"q": "hypertention"})
    assert page.status_code == 200 and "<code>I10</code>" in page.text
    assert "No matching code." in client.get(f"/record/{clinic.patient_id}/note", params={"q": "qzxqzx"}).text


def test_timeline_pages_in_hindi_and_pages_older_entries(client: TestClient, factory: Factory) -> None:
    clinic = _staff_client(client, factory)
    h = factory.headers(clinic.users[Role.practitioner])
    base = factory.clock.now() - timedelta(days=100)
    for n in range(55):
        client.post(f"/api/v1/patients/{clinic.patient_id}/observations", headers=h,
                    json={"code": "8310-5", "value": 36.8, "effective_at": (base + timedelta(hours=n)).isoformat()})
    with factory.database.unit_of_work() as s:
        s.get(User, clinic.users[Role.practitioner].id).language = "hi"  # type: ignore[union-attr]
    page = client.get(f"/record/{clinic.patient_id}")
    assert page.status_code == 200
    assert_good_page(page.text, lang="hi")
    assert "स्वास्थ्य रिकॉर्ड" in page.text
    assert "cursor=" in page.text


def test_summary_prints_and_downloads_as_pdf(client: TestClient, factory: Factory) -> None:
    clinic = _staff_client(client, factory)
    h = factory.headers(clinic.users[Role.practitioner])
    client.post(f"/api/v1/patients/{clinic.patient_id}/conditions", headers=h, json={"code": "E11.9"})
    client.post(f"/api/v1/patients/{clinic.patient_id}/allergies", headers=h,
                json={"substance": "Penicillin", "category": "medication", "criticality": "high"})
    page = client.get(f"/record/{clinic.patient_id}/summary")
    assert page.status_code == 200
    assert_good_page(page.text)
    assert "@media print" in page.text and "Type 2 diabetes mellitus" in page.text and "Penicillin" in page.text
    pdf = client.get(f"/record/{clinic.patient_id}/summary.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_a_practitioner_elsewhere_cannot_open_the_pages(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    elsewhere = factory.user(Role.practitioner, organization_id=clinic.other_org)
    assert sign_in(client, elsewhere.username).status_code == 303
    for path in ("", "/summary", "/summary.pdf"):
        assert client.get(f"/record/{clinic.patient_id}{path}").status_code in (403, 404), path


def test_a_patient_finds_their_own_record_from_the_menu(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    assert sign_in(client, clinic.users[Role.patient].username).status_code == 303
    dashboard = client.get("/dashboard").text
    assert 'href="/my-record"' in dashboard
    r = client.get("/my-record", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/record/{clinic.patient_id}"
    own = client.get(f"/record/{clinic.patient_id}")
    assert own.status_code == 200 and "Write an encounter note" not in own.text
    assert client.get(f"/record/{clinic.other_patient_id}").status_code in (403, 404)


def test_the_record_links_to_documents_and_only_clinicians_to_emergency_access(client: TestClient,
                                                                              factory: Factory) -> None:
    clinic = _staff_client(client, factory)
    page = client.get(f"/record/{clinic.patient_id}").text
    assert f'href="/record/{clinic.patient_id}/documents"' in page
    assert f'href="/break-glass?patient_id={clinic.patient_id}"' in page
    assert client.get(f"/record/{clinic.patient_id}/documents").status_code == 200
    client.cookies.clear()
    patient = factory.user(Role.patient, patient_id=clinic.patient_id)
    assert sign_in(client, patient.username).status_code == 303
    own = client.get(f"/record/{clinic.patient_id}").text
    assert f'href="/record/{clinic.patient_id}/documents"' in own
    assert "/break-glass" not in own
