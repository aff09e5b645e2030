"""The "who looked at my record" page, for patients and for the caregivers they let read it."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from carebridge.contexts.audit import record
from carebridge.contexts.identity.models import User
from carebridge.kernel.clock import FixedClock
from carebridge.security import Principal, Role
from tests.factories import Clinic, Factory
from tests.web.helpers import assert_good_page, post_form, sign_in


def _as_principal(user: User) -> Principal:
    return Principal(user_id=user.id, role=Role(user.role), username=user.username,
                     organization_id=user.organization_id, patient_id=user.patient_id)


def _staff_look(factory: Factory, clock: FixedClock, who: User, patient_id: uuid.UUID, *, times: int = 1,
                action: str = "read", outcome: str = "success", resource_type: str = "Patient") -> None:
    with factory.database.unit_of_work() as s:
        for _ in range(times):
            record(s, _as_principal(who), action=action, resource_type=resource_type, resource_id=patient_id,
                   patient_id=patient_id, purpose="treatment", outcome=outcome, at=clock.now())


def test_patient_sees_who_opened_their_record(client: TestClient, factory: Factory, clock: FixedClock) -> None:
    clinic: Clinic = factory.clinic()
    nurse = clinic.users[Role.nurse]
    _staff_look(factory, clock, nurse, clinic.patient_id)
    _staff_look(factory, clock, clinic.users[Role.pharmacist], clinic.patient_id, action="update", outcome="denied")
    _staff_look(factory, clock, nurse, clinic.other_patient_id)  # someone else's record
    sign_in(client, clinic.users[Role.patient].username)
    response = client.get("/access-log")
    assert response.status_code == 200
    assert_good_page(response.text)
    text = response.text
    assert "<h1>Who looked at my record</h1>" in text
    assert f"{nurse.username} (Nurse), Sunrise Clinic" in text
    assert "Opened: personal details" in text and "Treatment" in text and "Allowed" in text
    assert "Changed: personal details" in text and 'class="outcome-denied">Refused' in text
    assert "10 Mar 2026, 09:30 UTC" in text
    assert text.count("<tr>") == 1 + 2  # header + this patient's two entries, not the other patient's
    assert ">You<" not in text  # the patient's own activity is hidden by default


def test_own_activity_can_be_included(client: TestClient, factory: Factory) -> None:
    user = factory.user(Role.patient, patient_id=factory.patient())
    sign_in(client, user.username)
    client.get("/access-log")  # reading the log is itself recorded
    response = client.get("/access-log?mine=1")
    assert_good_page(response.text)
    assert ">You<" in response.text
    assert "Opened: access log" in response.text
    assert 'href="/access-log?">' in response.text  # the link back to hiding it


def test_empty_log_says_so(client: TestClient, factory: Factory) -> None:
    user = factory.user(Role.patient, patient_id=factory.patient())
    sign_in(client, user.username)
    response = client.get("/access-log")
    assert "No one else has opened this record yet." in response.text


def test_long_logs_page_backwards(client: TestClient, factory: Factory, clock: FixedClock) -> None:
    clinic = factory.clinic()
    _staff_look(factory, clock, clinic.users[Role.nurse], clinic.patient_id, times=55)
    sign_in(client, clinic.users[Role.patient].username)
    first = client.get("/access-log")
    assert first.text.count("<tr>") == 1 + 50
    href = first.text.split('">Older entries</a>')[0].rsplit('href="', 1)[1].replace("&amp;", "&")
    second = client.get(href)
    assert second.status_code == 200
    assert second.text.count("<tr>") == 1 + 5
    assert "Older entries" not in second.text


def test_a_forged_cursor_is_a_friendly_error(client: TestClient, factory: Factory) -> None:
    user = factory.user(Role.patient, patient_id=factory.patient())
    sign_in(client, user.username)
    response = client.get("/access-log?cursor=not-a-cursor")
    assert response.status_code == 422
    assert_good_page(response.text)


def test_the_log_is_shown_in_hindi(client: TestClient, factory: Factory, clock: FixedClock) -> None:
    clinic = factory.clinic()
    _staff_look(factory, clock, clinic.users[Role.nurse], clinic.patient_id)
    client.cookies.set("cb_lang", "hi")
    sign_in(client, clinic.users[Role.patient].username)
    client.cookies.set("cb_lang", "hi")  # sign-in set it to the account's language; put it back
    response = client.get("/access-log")
    assert_good_page(response.text, lang="en")  # the account's saved language wins over the cookie …
    post_form(client, "/access-log", "/language", {"lang": "hi", "next": "/access-log"})
    hindi = client.get("/access-log")
    assert_good_page(hindi.text, lang="hi")  # … until the user switches
    assert "<h1>मेरा रिकॉर्ड किसने देखा</h1>" in hindi.text
    assert "10 मार्च 2026, 09:30 UTC" in hindi.text
    assert "खोला: निजी विवरण" in hindi.text and "इलाज" in hindi.text and "(नर्स)" in hindi.text


def test_caregiver_reaches_the_log_from_their_dashboard(client: TestClient, factory: Factory,
                                                        clock: FixedClock) -> None:
    clinic = factory.clinic()
    _staff_look(factory, clock, clinic.users[Role.nurse], clinic.patient_id)
    sign_in(client, clinic.users[Role.caregiver].username)
    dashboard = client.get("/dashboard")
    link = f'/access-log?patient_id={clinic.patient_id}'
    assert f'href="{link}"' in dashboard.text
    response = client.get(link)
    assert response.status_code == 200
    assert_good_page(response.text)
    assert "<h1>Who looked at this record</h1>" in response.text
    assert clinic.users[Role.nurse].username in response.text
    # not a patient who linked them
    other = client.get(f"/access-log?patient_id={clinic.other_patient_id}")
    assert other.status_code == 403
    assert_good_page(other.text)
    # and no patient named: back to the dashboard
    assert client.get("/access-log", follow_redirects=False).headers["location"] == "/dashboard"


def test_staff_are_refused_the_patient_page(client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    sign_in(client, clinic.users[Role.practitioner].username)
    response = client.get("/access-log")
    assert response.status_code == 403
    assert_good_page(response.text)
