"""What the prescribing pages serve besides HTML: the prescriber page's live-alert script (progressive
enhancement: without it the page is the same, updated on reload) and the printed prescription's style sheet.
Served from the context's own routes (web.py), so the shell's shared CSS and script-free policy stay untouched."""

from __future__ import annotations

from typing import Final

SCRIPT_PATH: Final = "/prescribe/live.js"
# the prescriber page's live-alert script and its stream are its only additions to the shell's script-free policy
LIVE_CSP: Final = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
                   "base-uri 'none'; frame-ancestors 'none'; script-src 'self'; connect-src 'self'")
# Progressive enhancement: without it (or without EventSource) the page is the same, updated on reload.
LIVE_SCRIPT: Final = """(function () {
  var section = document.getElementById("open-alerts");
  if (!section || !window.EventSource || !window.fetch || !window.DOMParser) { return; }
  var patient = section.getAttribute("data-patient");
  var status = document.getElementById("live-status");
  var pending = false;
  function refresh() {
    pending = false;
    fetch(location.pathname, {credentials: "same-origin"}).then(function (r) { return r.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("open-alerts");
        if (!fresh) { return; }
        section.innerHTML = fresh.innerHTML;
        if (status) { status.textContent = status.getAttribute("data-updated"); }
      });
  }
  var source = new EventSource("/api/v1/prescription-alerts/stream?patient=" + encodeURIComponent(patient));
  ["prescription.checked", "prescription.created", "prescription.updated", "prescription.signed",
   "prescription.cancelled", "prescription.expired", "prescription.dispensed"].forEach(function (t) {
    source.addEventListener(t, function () { if (!pending) { pending = true; setTimeout(refresh, 300); } });
  });
})();
"""
PRINT_CSS_PATH: Final = "/prescriptions/print.css"
PRINT_CSS: Final = """.rx-print table { width: 100%; border-collapse: collapse; margin: .5rem 0 1rem; }
.rx-print th, .rx-print td { text-align: left; vertical-align: top; padding: .25rem .4rem;
  border-bottom: 1px solid #999; }
.rx-meta { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0 0 1rem; }
.rx-meta dt { font-weight: 700; }
.rx-meta dd { margin: 0; }
.rx-qr { margin: 1rem 0; }
.rx-qr img { width: 5cm; height: 5cm; }
.rx-hash code { word-break: break-all; font-size: .8em; }
.rx-not-valid { border: 3px solid #b3261e; padding: .5rem; font-weight: 700; }
@page { size: A5; margin: 12mm; }
@media print {
  header, footer, nav, .skip-link, .no-print { display: none !important; }
  body { background: #fff; color: #000; font-size: 10.5pt; }
  main { margin: 0; padding: 0; max-width: none; }
  .rx-print table, .rx-qr, .rx-meta { break-inside: avoid; }
  a { color: #000; text-decoration: none; }
}
"""
