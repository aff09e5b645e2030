"""The ward page: server-rendered (works with scripts off); a small script listens to the SSE stream and
re-fetches the table when a reading or alert about one of the shown patients arrives. And a patient's vitals
charts over a chosen period, drawn from the rollups as SVG (no script at all)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final

from fastapi import Query
from fastapi.responses import Response

from carebridge.contexts.monitoring.chart_view import DEFAULT_PERIOD, PERIODS, vitals_charts
from carebridge.contexts.monitoring.ward import ward
from carebridge.kernel.errors import NotFound
from carebridge.web.render import SignedInPageDep, page_router, parse_uuid, signed_in

TEMPLATE_DIR: Final = Path(__file__).resolve().parent / "templates"
PAGE_PATH: Final = "/monitoring/ward"
SCRIPT_PATH: Final = "/monitoring/ward.js"
# the page's script and its stream are the only additions to the shell's script-free policy
CHART_PATH: Final = "/monitoring/patients/{patient_id}/chart"
CSP: Final = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
              "base-uri 'none'; frame-ancestors 'none'; script-src 'self'; connect-src 'self'")

SCRIPT: Final = """(function () {
  var table = document.getElementById("ward");
  if (!table || !window.EventSource) { return; }
  var ids = table.getAttribute("data-patients");
  if (!ids) { return; }
  var url = "/api/v1/monitoring/stream?" + ids.split(" ").map(function (id) {
    return "patient=" + encodeURIComponent(id); }).join("&");
  var pending = false;
  function refresh() {
    pending = false;
    fetch(location.href, {credentials: "same-origin"}).then(function (r) { return r.text(); }).then(function (html) {
      var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("ward");
      if (fresh) { table.innerHTML = fresh.innerHTML; }
    });
  }
  var source = new EventSource(url);
  ["monitoring.vitals_received", "monitoring.alert_raised", "monitoring.alert_updated",
   "monitoring.alert_acknowledged", "monitoring.alert_resolved", "monitoring.alert_escalated"].forEach(function (t) {
    source.addEventListener(t, function () { if (!pending) { pending = true; setTimeout(refresh, 500); } });
  });
})();
"""

router = page_router()


@router.get(PAGE_PATH, summary="Ward view: latest NEWS2 per monitored patient")
def ward_page(page: SignedInPageDep) -> Response:
    principal, _me = signed_in(page)
    rows = ward(page.session, principal, now=page.clock.now())
    page.extra_headers["Content-Security-Policy"] = CSP
    return page.render("monitoring/ward.html", rows=rows, patient_ids=" ".join(str(r.patient_id) for r in rows))


@router.get(SCRIPT_PATH, summary="The ward page's live-update script")
def ward_script() -> Response:
    return Response(SCRIPT, media_type="text/javascript", headers={"Cache-Control": "public, max-age=3600"})


@router.get(CHART_PATH, summary="A patient's vitals charts over a chosen period (from the rollups)")
def chart_page(page: SignedInPageDep, patient_id: str,
               period: Annotated[str, Query(max_length=8)] = DEFAULT_PERIOD) -> Response:
    principal, _me = signed_in(page)
    pid = parse_uuid(patient_id)
    if pid is None:
        raise NotFound("no such patient")
    view = vitals_charts(page.session, principal, patient_id=pid, period=period, now=page.clock.now())
    return page.render("monitoring/chart.html", view=view, periods=list(PERIODS))
