"""A patient's vitals charts over a chosen period: drawn on the server from the rollups (so they show what the
monitoring job has rolled up), with a period chooser that works without scripts, and the policy applied."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from carebridge.contexts.monitoring.charts import Bucket, band_chart_svg
from carebridge.contexts.monitoring.jobs import MonitoringJob
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.security import Role
from tests.api.monitoring.conftest import Rig
from tests.factories import Factory
from tests.web.helpers import sign_in

T0 = datetime(2026, 3, 10, 0, 0, tzinfo=UTC)


def _send(client: TestClient, rig: Rig, clock: FixedClock, hours_ago: float, heart: float) -> None:
    at = (clock.now() - timedelta(hours=hours_ago)).isoformat()
    batch = [{"type": "heart_rate", "value": heart, "at": at}, {"type": "spo2", "value": 96, "at": at}]
    assert client.post("/api/v1/vitals", headers=rig.key, json={"readings": batch}).status_code == 200


def test_band_chart_draws_mean_over_range_and_breaks_at_gaps() -> None:
    buckets = [Bucket(T0 + timedelta(minutes=m), 80.0 + m, 70.0, 90.0 + m) for m in (0, 1, 2, 30, 31)]
    svg = band_chart_svg(buckets, since=T0, until=T0 + timedelta(hours=1), width_seconds=60, label="hr <x>",
                         unit="/min")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count('<polyline class="mean"') == 2 and svg.count('<polygon class="range"') == 2
    assert "hr &lt;x&gt;" in svg and "<x>" not in svg
    assert 'text-anchor="end">121</text>' in svg and 'text-anchor="end">70</text>' in svg  # highest, lowest
    empty = band_chart_svg([], since=T0, until=T0 + timedelta(hours=1), width_seconds=60, label="hr", unit="/min")
    assert "<polyline" not in empty and "<rect" in empty


def test_the_chart_page_reads_the_rollups_over_the_chosen_period(client: TestClient, rig: Rig, clock: FixedClock,
                                                                 database: Database) -> None:
    _send(client, rig, clock, 1, 70)
    _send(client, rig, clock, 3 * 24, 110)  # three days ago: only in the 7- and 30-day charts
    sign_in(client, rig.clinic.users[Role.nurse].username)
    url = f"/monitoring/patients/{rig.clinic.patient_id}/chart"
    before = client.get(url)
    assert before.status_code == 200 and "No readings in this period." in before.text  # not rolled up yet
    MonitoringJob(database, clock).run_once()
    day = client.get(url)
    assert day.status_code == 200
    assert "Meera Iyer" in day.text and '<strong aria-current="page">24 hours</strong>' in day.text
    assert 'href="?period=7d"' in day.text
    heart = day.text.split('id="chart-heart_rate"')[1].split("</section>")[0]
    assert "<svg" in heart and "Readings: 1" in heart and "mean 70.0" in heart
    week = client.get(url, params={"period": "7d"}).text.split('id="chart-heart_rate"')[1].split("</section>")[0]
    assert "Readings: 2" in week and "highest 110.0" in week
    assert "Each point is one hour" in client.get(url, params={"period": "7d"}).text
    assert "Each point is one minute" in client.get(url, params={"period": "6h"}).text
    # an unknown period falls back to the default rather than failing
    assert '<strong aria-current="page">24 hours</strong>' in client.get(url, params={"period": "1y"}).text


def test_the_chart_page_refuses_a_clinician_of_another_organization(client: TestClient, rig: Rig,
                                                                    factory: Factory) -> None:
    stranger = factory.user(Role.nurse, organization_id=rig.clinic.other_org)
    sign_in(client, stranger.username)
    page = client.get(f"/monitoring/patients/{rig.clinic.patient_id}/chart")
    assert page.status_code in (403, 404) and "Meera Iyer" not in page.text
    assert client.get("/monitoring/patients/not-a-uuid/chart").status_code == 404


def test_the_ward_links_each_patient_to_their_charts_and_the_nav_links_the_ward(client: TestClient, rig: Rig,
                                                                                 clock: FixedClock) -> None:
    _send(client, rig, clock, 0, 72)
    sign_in(client, rig.clinic.users[Role.nurse].username)
    ward = client.get("/monitoring/ward").text
    assert f'href="/monitoring/patients/{rig.clinic.patient_id}/chart"' in ward
    assert 'href="/monitoring/ward"' in client.get("/dashboard").text


def test_a_patient_gets_no_ward_link(client: TestClient, rig: Rig) -> None:
    sign_in(client, rig.clinic.users[Role.patient].username)
    assert 'href="/monitoring/ward"' not in client.get("/dashboard").text
