"""Writing facilities as CSV, GeoJSON or a FHIR R4 Bundle of Locations, streamed chunk by chunk.

Each format reads back through `importers` unchanged (the round-trip tests check it). In FHIR a
facility is a Location: its type, position, address, telecom and hours map to core elements;
specialties, services, insurance, languages, emergency, ownership and beds travel as CareBridge
extensions (formats.EXT_*); `managingOrganization` points at `Organization/<id>` on this server.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from carebridge.contexts.facilities import formats as fm
from carebridge.contexts.facilities.schemas import FacilityRead
from carebridge.engines.opening_hours import format_exceptions, format_weekly

MEDIA_TYPES: dict[str, str] = {"csv": "text/csv; charset=utf-8", "geojson": "application/geo+json",
                               "fhir": "application/fhir+json"}
EXTENSIONS: dict[str, str] = {"csv": "csv", "geojson": "geojson", "fhir": "json"}


def flat_row(f: FacilityRead) -> dict[str, Any]:
    hours = f.opening_hours
    return {
        "external_id": f.external_id, "name": f.name, "type": f.type.value,
        "ownership": f.ownership.value if f.ownership else None,
        "organization_id": str(f.organization_id) if f.organization_id else None, "emergency": f.emergency,
        "specialties": list(f.specialties), "services": list(f.services), "insurance": list(f.insurance),
        "languages": list(f.languages), "beds_total": f.beds_total, "beds_available": f.beds_available,
        "lat": f.location.lat, "lng": f.location.lng, "phone": f.contact.phone,
        "email": str(f.contact.email) if f.contact.email else None, "website": f.contact.website,
        "address_line": f.address.line, "city": f.address.city, "district": f.address.district,
        "state": f.address.state, "postal_code": f.address.postal_code, "country": f.address.country,
        "time_zone": hours.time_zone if hours else None, "hours": format_weekly(hours) if hours else None,
        "hours_exceptions": format_exceptions(hours.exceptions) if hours and hours.exceptions else None,
        "active": f.active,
    }


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return fm.LIST_SEPARATOR.join(str(v) for v in value)
    return csv_safe(str(value))


def csv_safe(text: str) -> str:
    """Keep spreadsheets from running an imported name as a formula (OWASP "CSV injection").

    A cell starting with = + - @ that is not a number gets a leading apostrophe; the CSV importer
    removes it again, so files still round-trip.
    """
    if text and text[0] in fm.FORMULA_STARTS:
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text


def to_csv(facilities: Iterable[FacilityRead], *, chunk_rows: int = 500) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(fm.CSV_COLUMNS)
    for count, f in enumerate(facilities, start=1):
        row = flat_row(f)
        writer.writerow([_csv_cell(row[c]) for c in fm.CSV_COLUMNS])
        if count % chunk_rows == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def geojson_feature(f: FacilityRead) -> dict[str, Any]:
    props = flat_row(f)
    lat, lng = props.pop("lat"), props.pop("lng")
    props["id"] = str(f.id)
    props["opening_hours"] = f.opening_hours.model_dump(mode="json") if f.opening_hours else None
    for key in ("time_zone", "hours", "hours_exceptions"):
        props.pop(key)
    return {"type": "Feature", "id": str(f.id), "geometry": {"type": "Point", "coordinates": [lng, lat]},
            "properties": props}


def _json_array(prefix: str, items: Iterable[dict[str, Any]], suffix: str) -> Iterator[str]:
    yield prefix
    first = True
    for item in items:
        yield ("" if first else ",\n") + json.dumps(item, ensure_ascii=False, separators=(",", ":"))
        first = False
    yield suffix


def to_geojson(facilities: Iterable[FacilityRead]) -> Iterator[str]:
    return _json_array('{"type":"FeatureCollection","features":[\n', (geojson_feature(f) for f in facilities),
                       "\n]}\n")


def _ext(url: str, key: str, value: Any) -> dict[str, Any]:
    return {"url": url, key: value}


def location(f: FacilityRead) -> dict[str, Any]:
    """A FHIR R4 Location for one facility."""
    exts: list[dict[str, Any]] = []
    exts += [_ext(fm.EXT_SPECIALTY, "valueCode", c) for c in f.specialties]
    exts += [_ext(fm.EXT_SERVICE, "valueCode", c) for c in f.services]
    exts += [_ext(fm.EXT_INSURANCE, "valueCode", c) for c in f.insurance]
    exts += [_ext(fm.EXT_LANGUAGE, "valueCode", c) for c in f.languages]
    exts.append(_ext(fm.EXT_EMERGENCY, "valueBoolean", f.emergency))
    if f.ownership:
        exts.append(_ext(fm.EXT_OWNERSHIP, "valueCode", f.ownership.value))
    if f.beds_total is not None:
        exts.append(_ext(fm.EXT_BEDS_TOTAL, "valueInteger", f.beds_total))
    if f.beds_available is not None:
        exts.append(_ext(fm.EXT_BEDS_AVAILABLE, "valueInteger", f.beds_available))
    resource: dict[str, Any] = {
        "resourceType": "Location", "id": str(f.id), "status": "active" if f.active else "inactive",
        "name": f.name, "mode": "instance",
        "type": [{"coding": [{"system": fm.FACILITY_TYPE_SYSTEM, "code": f.type.value}]}],
        "position": {"latitude": f.location.lat, "longitude": f.location.lng},
    }
    if f.external_id:
        resource["identifier"] = [{"system": fm.EXTERNAL_ID_SYSTEM, "value": f.external_id}]
    telecom = [{"system": s, "value": v} for s, v in (("phone", f.contact.phone), ("email", f.contact.email),
                                                       ("url", f.contact.website)) if v]
    if telecom:
        resource["telecom"] = [{"system": t["system"], "value": str(t["value"])} for t in telecom]
    a = f.address
    address: dict[str, Any] = {k: v for k, v in (("city", a.city), ("district", a.district), ("state", a.state),
                                 ("postalCode", a.postal_code), ("country", a.country)) if v}
    if a.line:
        address["line"] = [a.line]
    if address:
        resource["address"] = address
    hours = f.opening_hours
    if hours is not None:
        exts.append(_ext(fm.TIMEZONE_EXT, "valueCode", hours.time_zone))
        if hours.always_open:
            exts.append(_ext(fm.EXT_ALWAYS_OPEN, "valueBoolean", True))
        if hours.exceptions:
            exts.append(_ext(fm.EXT_HOURS_EXCEPTIONS, "valueString", format_exceptions(hours.exceptions)))
        slots = []
        for day, ranges in hours.weekly.items():
            for r in ranges:
                slot: dict[str, Any] = {"daysOfWeek": [day.value]}
                if (r.opens, r.closes) == ("00:00", "24:00"):
                    slot["allDay"] = True
                else:
                    slot["openingTime"] = f"{r.opens}:00"
                    slot["closingTime"] = "00:00:00" if r.closes == "24:00" else f"{r.closes}:00"
                slots.append(slot)
        if slots:
            resource["hoursOfOperation"] = slots
    if f.organization_id:
        resource["managingOrganization"] = {"reference": f"Organization/{f.organization_id}"}
    resource["extension"] = exts
    return resource


def to_fhir(facilities: Iterable[FacilityRead]) -> Iterator[str]:
    entries = ({"fullUrl": f"urn:uuid:{f.id}", "resource": location(f)} for f in facilities)
    return _json_array('{"resourceType":"Bundle","type":"collection","entry":[\n', entries, "\n]}\n")


def export(fmt: fm.Format, facilities: Iterable[FacilityRead]) -> Iterator[str]:
    if fmt == "csv":
        return to_csv(facilities)
    if fmt == "geojson":
        return to_geojson(facilities)
    return to_fhir(facilities)
