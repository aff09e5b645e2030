"""The bodies of the brokering API that patient apps were written against (Project Healthcare's).

Field names and nesting are theirs (`{"query_id": {"query_id": "q-1"}}`); unknown extra fields are
ignored rather than refused, so an app sending a field that API accepted keeps working.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from carebridge.contexts.care.schemas import Latitude, Longitude, SymptomText, TriageSummary


def _printable(value: str) -> str:
    if not value.isprintable():
        raise ValueError("must not contain control characters")
    return value


Ref = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                AfterValidator(_printable)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class QueryId(_Body):
    query_id: Ref = Field(description="The app's own id for this symptom query.")


class CustId(_Body):
    cust_id: Ref = Field(description="The app's own id for its user; kept with the query, never interpreted.")


class GeoLocation(_Body):
    lat: Latitude
    lng: Longitude


class DiagnoseRequest(_Body):
    query: SymptomText
    query_id: QueryId


class DiagnoseResponse(BaseModel):
    query_id: QueryId
    triage: TriageSummary
    expires_at: datetime = Field(description="The query is forgotten after this; call /geo before.")


class GeoRequest(_Body):
    location: GeoLocation
    cust_id: CustId
    query_id: QueryId


class CompatAddress(BaseModel):
    name: str | None = Field(description="The facility's name, as that API repeated it in the address.")
    street: str | None
    city: str | None
    state: str | None
    zip: str | None
    country: str | None


class CompatGeolocation(BaseModel):
    lat: float
    lng: float


class CompatFacility(BaseModel):
    name: str
    address: CompatAddress
    geolocation: CompatGeolocation
    contact: str | None = Field(description="A phone number, when known.")
    facility_type: str | None
    ownership: str | None
    specialties: list[str]
    stars: float | None = Field(description="null: the registry holds no ratings.")
    reviews: int | None = Field(description="null: the registry holds no reviews.")
    rank: int = Field(description="1 = nearest.")
    estimated_time: float = Field(description="Minutes: distance x road factor / average speed (docs/api.md).")


class GeoResponse(BaseModel):
    query_id: QueryId
    cust_id: CustId
    triage: TriageSummary
    facilities: list[CompatFacility] = Field(description="Ranked nearest first by the urgency's search.")
