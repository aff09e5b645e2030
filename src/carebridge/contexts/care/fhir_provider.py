"""The remote adapter: facilities from a FHIR R4 server's Location and HealthcareService resources.

One search per care request: `GET [base]/Location?near=lat|lng|radius|km&_revinclude=HealthcareService:location`
(a searchset Bundle). Distances are recomputed here and the radius applied here, since servers differ
in how (and whether) they honour `near`. A Location is emergency-capable when a HealthcareService at
it is coded as an emergency service (SNOMED CT 225728007 "Accident and Emergency department", HL7
service-category 14 "Emergency Department", or the code `emergency`); its specialties are the
HealthcareService `specialty`/`type` codes that are codes of CareBridge's specialty list. Anything the
server gets wrong (down, slow, not FHIR) answers 503, never a 500.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx
from sqlalchemy.orm import Session

from carebridge.contexts.care.plan import SearchPlan
from carebridge.contexts.care.providers import Travel
from carebridge.contexts.care.schemas import FacilityAddress, FacilityMatch
from carebridge.engines import specialties
from carebridge.engines.geo import haversine_km
from carebridge.kernel.errors import Problem

EMERGENCY_CODES = frozenset({"225728007", "14", "emergency", "emergency_medicine", "ER"})
PAGE_SIZE = 200
_TYPE_CODES = {"HOSP": "hospital", "PHARM": "pharmacy", "ER": "hospital", "OUTPHARM": "pharmacy",
               "AMB": "ambulance_base", "PC": "private_clinic", "HLAB": "diagnostic_lab"}


class ProviderUnavailable(Problem):
    status, slug, title = 503, "facility-provider-unavailable", "Facility provider unavailable"


def _codes(concepts: Any) -> list[str]:
    out: list[str] = []
    for concept in concepts if isinstance(concepts, list) else []:
        for coding in concept.get("coding", []) if isinstance(concept, dict) else []:
            code = coding.get("code") if isinstance(coding, dict) else None
            if isinstance(code, str) and code:
                out.append(code)
    return out


def _phone(telecom: Any) -> str | None:
    for item in telecom if isinstance(telecom, list) else []:
        if isinstance(item, dict) and item.get("system") == "phone" and isinstance(item.get("value"), str):
            return str(item["value"])[:32]
    return None


def _text(value: Any, limit: int = 200) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


class FhirProvider:
    name: Literal["local", "fhir"] = "fhir"

    def __init__(self, base_url: str, *, timeout_seconds: float = 5.0, transport: httpx.BaseTransport | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout = httpx.Timeout(timeout_seconds)
        self.transport = transport

    def _bundle(self, lat: float, lng: float, radius_km: float) -> dict[str, Any]:
        params = {"near": f"{lat}|{lng}|{radius_km}|km", "_revinclude": "HealthcareService:location",
                  "_count": str(PAGE_SIZE)}
        try:
            with httpx.Client(timeout=self.timeout, transport=self.transport,
                              headers={"Accept": "application/fhir+json"}) as client:
                response = client.get(f"{self.base_url}/Location", params=params)
                response.raise_for_status()
                bundle = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnavailable(f"the FHIR facility server did not answer usefully ({type(exc).__name__})") \
                from exc
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise ProviderUnavailable("the FHIR facility server did not answer with a Bundle")
        return bundle

    def find(self, session: Session, *, plan: SearchPlan, lat: float, lng: float, limit: int,
             travel: Travel) -> list[FacilityMatch]:
        bundle = self._bundle(lat, lng, plan.radius_km)
        locations: dict[str, dict[str, Any]] = {}
        services: dict[str, list[dict[str, Any]]] = {}
        for entry in bundle.get("entry") or []:
            res = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(res, dict) or not isinstance(res.get("id"), str):
                continue
            if res.get("resourceType") == "Location":
                locations[res["id"]] = res
            elif res.get("resourceType") == "HealthcareService":
                for ref in res.get("location") or []:
                    target = ref.get("reference") if isinstance(ref, dict) else None
                    if isinstance(target, str) and target.startswith("Location/"):
                        services.setdefault(target.removeprefix("Location/"), []).append(res)
        found: list[FacilityMatch] = []
        for lid, loc in locations.items():
            match = self._match(lid, loc, services.get(lid, []), lat=lat, lng=lng, travel=travel)
            if match is None or match.distance_km > plan.radius_km:
                continue
            if plan.emergency_only and not match.emergency:
                continue
            if plan.specialty and plan.specialty not in match.specialties:
                continue
            found.append(match)
        found.sort(key=lambda m: (m.distance_km, m.id))
        return found[:limit]

    def _match(self, lid: str, loc: dict[str, Any], offered: list[dict[str, Any]], *, lat: float, lng: float,
               travel: Travel) -> FacilityMatch | None:
        if loc.get("status") not in (None, "active"):
            return None
        pos = loc.get("position")
        try:
            flat, flng = float(pos["latitude"]), float(pos["longitude"])  # type: ignore[index]
        except (TypeError, KeyError, ValueError):
            return None  # a Location without a usable position cannot be ranked by distance
        if not (-90 <= flat <= 90 and -180 <= flng <= 180):
            return None
        codes: list[str] = []
        emergency = False
        for svc in offered:
            if svc.get("active") is False:
                continue
            svc_codes = _codes(svc.get("specialty")) + _codes(svc.get("type")) + _codes(svc.get("category"))
            emergency = emergency or any(c in EMERGENCY_CODES for c in svc_codes)
            codes += [c for c in svc_codes if (s := specialties.get(c)) is not None and s.kind == "specialty"]
        type_codes = _codes(loc.get("type"))
        emergency = emergency or "ER" in type_codes
        raw_address = loc.get("address")
        address: dict[str, Any] = raw_address if isinstance(raw_address, dict) else {}
        lines = address.get("line") if isinstance(address.get("line"), list) else []
        distance = round(haversine_km(lat, lng, flat, flng), 3)
        return FacilityMatch(
            id=f"Location/{lid}"[:100], source="fhir", name=_text(loc.get("name")) or f"Location/{lid}",
            type=next((_TYPE_CODES[c] for c in type_codes if c in _TYPE_CODES), None), ownership=None,
            emergency=emergency, specialties=list(dict.fromkeys(codes)),
            address=FacilityAddress(line=_text(", ".join(str(x) for x in lines)) if lines else None,
                                    city=_text(address.get("city"), 100), state=_text(address.get("state"), 100),
                                    postal_code=_text(address.get("postalCode"), 20),
                                    country=_text(address.get("country"), 2)),
            lat=flat, lng=flng, phone=_phone(loc.get("telecom")), distance_km=distance,
            travel_minutes=travel.minutes(distance),
        )
