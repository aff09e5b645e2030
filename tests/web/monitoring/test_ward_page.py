"""The ward page renders on the server (no script needed to read it): NEWS2, its colour band and an SVG
sparkline per monitored patient the clinician may see."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from carebridge.contexts.monitoring.charts import sparkline_svg
from carebridge.kernel.clock import FixedClock
from carebridge.security import Role
from tests.api.monitoring.conftest import MEDIUM_5, NORMAL, Rig
from tests.factories import Factory
from tests.web.helpers import sign_in


def test_sparkline_is_plain_svg_scaled_to_its_box() -> None:
    svg = sparkline_svg([60, 80, 100], width=100, height=20, label="hr <x>")
    assert svg.startswith("<svg") and "<polyline" in svg and "hr &lt;x&gt;" in svg
    assert 'points="2.0,18.0 50.0,10.0 98.0,2.0"' in svg
    assert "<polyline" not in sparkline_svg([])


def test_ward_page_shows_monitored_patients_highest_score_first(client: TestClient, rig: Rig, clock: FixedClock,
                                                                 factory: Factory) -> None:
    second = factory.patient(organization_id=rig.clinic.org, given="Kiran", family="Rao")
    key2 = {"X-Device-Key": client.post(f"/api/v1/patients/{second}/devices", headers=rig.nurse,
                                        json={"type": "patch", "serial": "P-9"}).json()["credential"]}
    for minutes, key, values in ((30, rig.key, MEDIUM_5), (0, rig.key, MEDIUM_5), (0, key2, NORMAL)):
        at = (clock.now() - timedelta(minutes=minutes)).isoformat()
        batch = [{"type": t, "value": v, "at": at} for t, v in values.items()]
        assert client.post("/api/v1/vitals", headers=key, json={"readings": batch}).status_code == 200
    sign_in(client, rig.clinic.users[Role.nurse].username)
    page = client.get("/monitoring/ward")
    assert page.status_code == 200
    html = page.text
    assert html.index("Meera Iyer") < html.index("Kiran Rao")
    assert 'class="news2 band-amber">5<' in html and 'class="news2 band-green">0<' in html
    assert html.count("<polyline") == 2
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_ward_page_leaves_out_patients_of_other_organizations(client: TestClient, rig: Rig,
                                                              factory: Factory) -> None:
    stranger = factory.user(Role.nurse, organization_id=rig.clinic.other_org)
    sign_in(client, stranger.username)
    page = client.get("/monitoring/ward")
    assert page.status_code == 200 and "Meera Iyer" not in page.text


def test_ward_script_is_served(client: TestClient) -> None:
    r = client.get("/monitoring/ward.js")
    assert r.status_code == 200 and "EventSource" in r.text
