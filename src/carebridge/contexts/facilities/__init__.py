"""The facilities context: the registry of places that give care, and nearest-facility search.

Other contexts (the care-request flow) use `search_facilities` with a `FacilitySearch`.
"""

from carebridge.contexts.facilities.schemas import (
    FacilityHit,
    FacilityRead,
    FacilitySearch,
    FacilitySearchResult,
    FacilityType,
    Ownership,
)
from carebridge.contexts.facilities.search import (
    DEFAULT_AVERAGE_SPEED_KMH,
    DEFAULT_ROAD_FACTOR,
    search_facilities,
)
from carebridge.contexts.facilities.service import facility_exists, get_facility, place_position

__all__ = [
    "DEFAULT_AVERAGE_SPEED_KMH",
    "DEFAULT_ROAD_FACTOR",
    "FacilityHit",
    "FacilityRead",
    "FacilitySearch",
    "FacilitySearchResult",
    "FacilityType",
    "Ownership",
    "facility_exists",
    "get_facility",
    "place_position",
    "search_facilities",
]
