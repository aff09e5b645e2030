"""A tiny FHIR server for the remote-provider tests: Starlette under uvicorn, on a free port, in a thread.

`/fhir/Location` answers a searchset Bundle of Locations and the HealthcareServices at them (what
`_revinclude=HealthcareService:location` asks for) and remembers the query strings it was sent;
`/slow/Location` answers too late; `/broken/Location` answers HTML.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route


def location(lid: str, name: str, lat: float, lng: float, *, phone: str | None = None,
             type_code: str = "HOSP") -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Location", "id": lid, "status": "active", "name": name,
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": type_code}]}],
        "address": {"line": [f"{lid} Residency Road"], "city": "Bengaluru", "state": "Karnataka",
                    "postalCode": "560025", "country": "IN"},
        "position": {"latitude": lat, "longitude": lng},
    }
    if phone:
        res["telecom"] = [{"system": "phone", "value": phone}]
    return res


def service(sid: str, location_id: str, *, specialties: tuple[str, ...] = (), emergency: bool = False) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "HealthcareService", "id": sid, "active": True,
        "location": [{"reference": f"Location/{location_id}"}],
        "specialty": [{"coding": [{"system": "https://carebridge.dev/fhir/CodeSystem/specialty", "code": c}]}
                      for c in specialties],
    }
    if emergency:
        res["type"] = [{"coding": [{"system": "http://snomed.info/sct", "code": "225728007",
                                    "display": "Accident and Emergency department"}]}]
    return res


def bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [{"fullUrl": f"urn:test:{r['id']}", "resource": r,
                       "search": {"mode": "match" if r["resourceType"] == "Location" else "include"}}
                      for r in resources]}


@dataclass
class FhirTestServer:
    base: str
    resources: list[dict[str, Any]]
    queries: list[dict[str, str]] = field(default_factory=list)


@contextmanager
def fhir_server(resources: list[dict[str, Any]]) -> Iterator[FhirTestServer]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    state = FhirTestServer(base=f"http://127.0.0.1:{port}/fhir", resources=resources)

    async def locations(request: Request) -> Response:
        state.queries.append(dict(request.query_params))
        return JSONResponse(bundle(state.resources), media_type="application/fhir+json")

    async def slow(request: Request) -> Response:
        await asyncio.sleep(2)
        return JSONResponse(bundle([]))

    async def broken(request: Request) -> Response:
        return HTMLResponse("<html>maintenance</html>")

    app = Starlette(routes=[Route("/fhir/Location", locations), Route("/slow/Location", slow),
                            Route("/broken/Location", broken)])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise AssertionError("the FHIR test server did not start")
        time.sleep(0.02)
    try:
        yield state
    finally:
        server.should_exit = True
        thread.join(timeout=5)
