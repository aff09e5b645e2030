"""Location and HealthcareService <-> the facilities context (read and search; the directory is public data).

Each facility is one Location and one HealthcareService with the same id: the place, and the care
given there (services as `type`, specialties as `specialty`). Search without `near`, `_id` or
`location` is not offered yet: the facilities context exposes no directory listing to other packages.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from carebridge.contexts import facilities
from carebridge.contexts.facilities import FacilityRead, FacilitySearch
from carebridge.fhir.outcome import bad_param
from carebridge.fhir.registry import Context, Found, Mapper, Query, SearchParam, Stored
from carebridge.fhir.search import MAX_COUNT, only_id, starts, uuid_param
from carebridge.kernel.errors import NotFound

SERVICE_SYSTEM = "urn:carebridge:service"
SPECIALTY_SYSTEM = "urn:carebridge:specialty"
_KM_PER = {"km": 1.0, "[mi_i]": 1.609344, "mi": 1.609344, "m": 0.001}


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _meta(f: FacilityRead) -> dict[str, Any]:
    return {"versionId": str(f.version), "lastUpdated": _iso(f.updated_at)}


def location(f: FacilityRead) -> Stored:
    body: dict[str, Any] = {"resourceType": "Location", "id": str(f.id), "meta": _meta(f),
                            "status": "active" if f.active else "inactive", "name": f.name, "mode": "instance",
                            "type": [{"text": f.type.value}],
                            "position": {"latitude": f.location.lat, "longitude": f.location.lng}}
    if f.external_id:
        body["identifier"] = [{"system": "urn:carebridge:facility-external-id", "value": f.external_id}]
    tel = [t for t in ({"system": "phone", "value": f.contact.phone} if f.contact.phone else None,
                       {"system": "email", "value": str(f.contact.email)} if f.contact.email else None,
                       {"system": "url", "value": f.contact.website} if f.contact.website else None) if t]
    if tel:
        body["telecom"] = tel
    a = f.address
    addr: dict[str, Any] = {k: v for k, v in (("city", a.city), ("district", a.district), ("state", a.state),
                                              ("postalCode", a.postal_code), ("country", a.country)) if v}
    if a.line:
        addr["line"] = [a.line]
    if addr:
        body["address"] = addr
    if f.organization_id:
        body["managingOrganization"] = {"reference": f"Organization/{f.organization_id}"}
    return Stored(body=body, version=str(f.version), last_updated=f.updated_at)


def service(f: FacilityRead) -> Stored:
    body: dict[str, Any] = {"resourceType": "HealthcareService", "id": str(f.id), "meta": _meta(f),
                            "active": f.active, "name": f.name,
                            "location": [{"reference": f"Location/{f.id}"}]}
    if f.services:
        body["type"] = [{"coding": [{"system": SERVICE_SYSTEM, "code": s}]} for s in f.services]
    if f.specialties:
        body["specialty"] = [{"coding": [{"system": SPECIALTY_SYSTEM, "code": s}]} for s in f.specialties]
    if f.organization_id:
        body["providedBy"] = {"reference": f"Organization/{f.organization_id}"}
    if f.languages:
        body["communication"] = [{"coding": [{"system": "urn:ietf:bcp:47", "code": lang}]} for lang in f.languages]
    return Stored(body=body, version=str(f.version), last_updated=f.updated_at)


def _get(ctx: Context, rid: uuid.UUID) -> FacilityRead:
    return facilities.get_facility(ctx.session, facility_id=rid)


def _one(ctx: Context, value: str, name: str) -> list[FacilityRead]:
    rid = uuid_param(name, value)
    if rid is None:
        return []
    try:
        return [_get(ctx, rid)]
    except NotFound:
        return []


def _near(ctx: Context, value: str, count: int) -> list[FacilityRead]:
    parts = value.split("|")
    try:
        lat, lng = float(parts[0]), float(parts[1])
        distance = float(parts[2]) if len(parts) > 2 and parts[2] else 25.0
    except (ValueError, IndexError):
        raise bad_param("near", "latitude|longitude[|distance[|unit]], e.g. 18.52|73.85|10|km") from None
    unit = parts[3] if len(parts) > 3 and parts[3] else "km"
    if unit not in _KM_PER:
        raise bad_param("near", f"unit must be one of {', '.join(_KM_PER)}")
    try:
        q = FacilitySearch(lat=lat, lng=lng, radius_km=distance * _KM_PER[unit], limit=max(1, min(count, MAX_COUNT)))
    except ValidationError as exc:
        raise bad_param("near", str(exc.errors()[0].get("msg", "out of range"))) from exc
    return [h.facility for h in facilities.search_facilities(ctx.session, query=q).items]


def search_locations(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    if ids := only_id(query):
        rows = _one(ctx, ids[0], "_id") if len(set(ids)) == 1 else []
    elif (near := query.one("near")) is not None:
        rows = _near(ctx, near, count)
    else:
        raise bad_param("near", "Location search needs near or _id (a directory listing is not offered yet)")
    p = query.params
    rows = [f for f in rows if all(starts(f.name, v) for v in p.get("name", []))
            and all(starts(f.address.city, v) for v in p.get("address-city", []))
            and all(("active" if f.active else "inactive") == v for v in p.get("status", []))
            and all(f.type.value == _code(v) for v in p.get("type", []))
            and all(f.external_id == _code(v) for v in p.get("identifier", []))
            and all(str(f.organization_id) == v.rpartition("/")[2] for v in p.get("organization", []))]
    return Found(items=[location(f) for f in rows[:count]], next_cursor=None)


def _code(value: str) -> str:
    return value.rpartition("|")[2].strip()


def search_services(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    if ids := only_id(query):
        rows = _one(ctx, ids[0], "_id") if len(set(ids)) == 1 else []
    elif (loc := query.one("location")) is not None:
        rows = _one(ctx, loc, "location")
    else:
        raise bad_param("location", "HealthcareService search needs location or _id")
    p = query.params
    rows = [f for f in rows if all(_code(v) in f.services for v in p.get("service-type", []))
            and all(_code(v) in f.specialties for v in p.get("specialty", []))
            and all(str(f.active).lower() == v for v in p.get("active", []))
            and all(str(f.organization_id) == v.rpartition("/")[2] for v in p.get("organization", []))]
    return Found(items=[service(f) for f in rows[:count]], next_cursor=None)


LOCATION = Mapper(
    type="Location", documentation="Facilities of the directory as places (public data; sign-in still required).",
    search_params=(SearchParam("_id", "token", "The facility's id."),
                   SearchParam("near", "special", "latitude|longitude|distance|unit (km, m, mi); nearest first."),
                   SearchParam("name", "string", "Prefix of the name (with near)."),
                   SearchParam("address-city", "string", "Prefix of the city (with near)."),
                   SearchParam("status", "token", "active | inactive (with near or _id)."),
                   SearchParam("type", "token", "The facility type, e.g. phc, hospital (with near or _id)."),
                   SearchParam("identifier", "token", "The external id (with near or _id)."),
                   SearchParam("organization", "reference", "Organization/<id> managing it (with near or _id).")),
    search=search_locations, read=lambda ctx, rid: location(_get(ctx, rid)),
    not_kept=("opening hours (hoursOfOperation)", "beds", "insurance", "ownership"))
HEALTHCARE_SERVICE = Mapper(
    type="HealthcareService", documentation="What each facility offers: services and specialties.",
    search_params=(SearchParam("_id", "token", "The facility's id."),
                   SearchParam("location", "reference", "Location/<id>."),
                   SearchParam("service-type", "token", "A service code (with location)."),
                   SearchParam("specialty", "token", "A specialty code (with location)."),
                   SearchParam("active", "token", "true | false (with location or _id)."),
                   SearchParam("organization", "reference", "Organization/<id> providing it (with location or _id).")),
    search=search_services, read=lambda ctx, rid: service(_get(ctx, rid)))
