"""The prescriber page works without scripts and, with them, subscribes to its patient's alert stream."""

from __future__ import annotations

from fastapi.testclient import TestClient

from carebridge.security import Role
from tests.factories import Factory
from tests.web.helpers import assert_good_page, sign_in


def test_prescriber_page_loads_the_live_script_under_a_policy_that_allows_only_it(
        client: TestClient, factory: Factory) -> None:
    clinic = factory.clinic()
    assert sign_in(client, clinic.users[Role.practitioner].username).status_code == 303
    page = client.get(f"/prescribe/{clinic.patient_id}")
    assert page.status_code == 200
    assert page.text.count("<script") == 1
    assert_good_page(page.text.replace('<script src="/prescribe/live.js" defer></script>', ""))
    assert f'id="open-alerts" data-patient="{clinic.patient_id}"' in page.text
    assert '<script src="/prescribe/live.js" defer></script>' in page.text
    assert "No open alerts." in page.text  # the server-rendered content is all there without the script
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp and "unsafe-inline" not in csp
    script = client.get("/prescribe/live.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "/api/v1/prescription-alerts/stream?patient=" in script.text
    assert '"prescription.checked"' in script.text and 'getElementById("open-alerts")' in script.text
