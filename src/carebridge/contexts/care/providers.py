"""Where facilities come from: a port with two adapters, the local registry (default) and a FHIR server.

Both answer the same question (a `SearchPlan` around a point) with `FacilityMatch`es, nearest first,
so the care flow never knows which one answered. The setting `care_facility_provider` picks one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from sqlalchemy.orm import Session

from carebridge.contexts.care.plan import SearchPlan
from carebridge.contexts.care.schemas import FacilityAddress, FacilityMatch
from carebridge.contexts.facilities import FacilityHit, FacilitySearch, search_facilities


@dataclass(frozen=True, slots=True)
class Travel:
    """How a straight-line distance becomes an estimated time: × road factor ÷ average speed."""

    road_factor: float = 1.4
    average_speed_kmh: float = 30.0

    def minutes(self, distance_km: float) -> float:
        return round(distance_km * self.road_factor / self.average_speed_kmh * 60.0, 1)


class FacilityProvider(Protocol):
    name: Literal["local", "fhir"]

    def find(self, session: Session, *, plan: SearchPlan, lat: float, lng: float, limit: int,
             travel: Travel) -> list[FacilityMatch]: ...


def _from_hit(hit: FacilityHit, travel: Travel) -> FacilityMatch:
    f = hit.facility
    return FacilityMatch(
        id=str(f.id), source="local", name=f.name, type=f.type.value,
        ownership=f.ownership.value if f.ownership else None, emergency=f.emergency, specialties=list(f.specialties),
        address=FacilityAddress(line=f.address.line, city=f.address.city, state=f.address.state,
                                postal_code=f.address.postal_code, country=f.address.country),
        lat=f.location.lat, lng=f.location.lng, phone=f.contact.phone, distance_km=hit.distance_km,
        travel_minutes=travel.minutes(hit.distance_km), stars=None, reviews=None,
    )


class LocalProvider:
    """The facility registry of this server, through its indexed nearest-search."""

    name: Literal["local", "fhir"] = "local"

    def find(self, session: Session, *, plan: SearchPlan, lat: float, lng: float, limit: int,
             travel: Travel) -> list[FacilityMatch]:
        query = FacilitySearch(lat=lat, lng=lng, radius_km=plan.radius_km, limit=limit, specialty=plan.specialty,
                               emergency=True if plan.emergency_only else None)
        result = search_facilities(session, query=query, road_factor=travel.road_factor,
                                   average_speed_kmh=travel.average_speed_kmh)
        return [_from_hit(hit, travel) for hit in result.items]
