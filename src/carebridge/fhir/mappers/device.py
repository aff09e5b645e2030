"""Device <-> the monitoring context's registered devices (read and search; a device is registered through
`POST /api/v1/patients/{id}/devices`, which hands out its credential once, so FHIR create is not offered).

A revoked device is `inactive`; the time its last reading arrived travels as a note.
"""

from __future__ import annotations

import uuid
from typing import Any

from carebridge.contexts import monitoring
from carebridge.contexts.monitoring import DeviceRead
from carebridge.fhir.mappers.common import NONE, by_id, iso, one_code, patient_id, prune, stored
from carebridge.fhir.registry import Context, Found, Mapper, Query, ReferenceParam, SearchParam, Stored
from carebridge.fhir.search import collect

TYPE = "Device"
TYPE_SYSTEM = "urn:carebridge:device-type"
SERIAL_SYSTEM = "urn:carebridge:device-serial"


def to_fhir(d: DeviceRead) -> Stored:
    body: dict[str, Any] = {
        "resourceType": TYPE, "id": str(d.id), "status": "inactive" if d.revoked_at else "active",
        "identifier": [{"system": f"{SERIAL_SYSTEM}:{d.type}", "value": d.serial}], "serialNumber": d.serial,
        "type": {"coding": [{"system": TYPE_SYSTEM, "code": d.type}], "text": d.type},
        "deviceName": [{"name": d.label, "type": "user-friendly-name"}] if d.label else None,
        "patient": {"reference": f"Patient/{d.patient_id}"},
        "note": [{"text": f"last reading received {iso(d.last_seen_at)}"}] if d.last_seen_at else None,
    }
    return stored(prune(body), d.revoked_at or d.created_at, d.created_at)


def read(ctx: Context, rid: uuid.UUID) -> Stored:
    return to_fhir(monitoring.get_device(ctx.session, ctx.principal, device_id=rid, now=ctx.now))


def search(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    if (found := by_id(ctx, query, read)) is not None:
        return found
    pid = patient_id(query, "patient")
    type_ok, kind = one_code(query, "type", TYPE_SYSTEM)
    status_ok, status = one_code(query, "status", None)
    if pid is None or not (type_ok and status_ok):
        return NONE

    def fetch(cur: str | None, limit: int) -> tuple[list[Any], str | None]:
        page = monitoring.find_devices(ctx.session, ctx.principal, patient_id=pid, type_=kind, limit=limit,
                                       cursor=cur, now=ctx.now)
        return list(page.items), page.next_cursor

    return collect(fetch, lambda d: status is None or to_fhir(d).body["status"] == status, to_fhir, count, cursor,
                   filtered=status is not None)


MAPPER = Mapper(
    type=TYPE, documentation="Monitoring devices bound to a patient (read and search).",
    search_params=(SearchParam("_id", "token", "The device's id."),
                   SearchParam("patient", "reference", "Patient/<id>: required."),
                   SearchParam("type", "token", f"[{TYPE_SYSTEM}|]<type>, e.g. pulse_oximeter."),
                   SearchParam("status", "token", "active | inactive (revoked).")),
    search=search, read=read, patient_param="patient",
    references=(ReferenceParam("patient", ("Patient",), "patient"),),
    not_kept=("(read only) the credential, the NEWS2 SpO2 scale",))
