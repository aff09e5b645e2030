"""Facility DTOs. Every string and list has an explicit limit; codes come from the one coded list.

Specialties and services are codes of `engines/knowledge/specialties.csv` (kind `specialty` and kind
`service` respectively); insurance and government schemes are lower-case slugs (`pmjay`, `cghs`,
`esi`, or an insurer's slug), so a search for `pmjay` finds a facility however its source spelled it.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from carebridge.engines import specialties as coded
from carebridge.engines.opening_hours import OpeningHours
from carebridge.kernel.pagination import Page

MAX_CODES = 40
MAX_LANGUAGES = 20
MAX_BEDS = 100_000
MAX_RADIUS_KM = 500.0
MAX_SEARCH_LIMIT = 100
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_PHONE = re.compile(r"^\+?[0-9(][0-9 ()\-./]{4,30}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_]{0,39}$")


class FacilityType(StrEnum):
    sub_centre = "sub_centre"
    primary_health_centre = "primary_health_centre"
    community_health_centre = "community_health_centre"
    district_hospital = "district_hospital"
    private_clinic = "private_clinic"
    hospital = "hospital"
    diagnostic_lab = "diagnostic_lab"
    pharmacy = "pharmacy"
    blood_bank = "blood_bank"
    ambulance_base = "ambulance_base"
    other = "other"


class Ownership(StrEnum):
    public = "public"
    private = "private"


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _phone(value: str) -> str:
    if not _PHONE.match(value) or sum(ch.isdigit() for ch in value) < 6:
        raise ValueError("must be a phone number: digits, spaces, ( ) - . / and an optional leading +")
    return value


def _website(value: str) -> str:
    if not re.match(r"^https?://[^\s/$.?#][^\s]*$", value, re.IGNORECASE):
        raise ValueError("must be an http(s) URL")
    return value


def _language(value: str) -> str:
    if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}", value):
        raise ValueError("must be a BCP 47 language tag such as 'hi', 'en' or 'mr-IN'")
    return value


def scheme_slug(value: str) -> str:
    """`PM-JAY`, `pm jay` and `pmjay` are one scheme: lower-case, drop punctuation, spaces become nothing."""
    return re.sub(r"[^a-z0-9_]", "", value.strip().lower().replace(" ", "").replace("-", ""))


def _scheme(value: object) -> object:
    return scheme_slug(value) if isinstance(value, str) else value


def _slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError("must be a scheme code such as pmjay, cghs or esi (letters, digits, _)")
    return value


def _code_of(kind: str) -> AfterValidator:
    def check(value: str) -> str:
        found = coded.get(value)
        if found is None:
            raise ValueError(f"{value!r} is not a code of the specialties list")
        if found.kind != kind:
            raise ValueError(f"{value!r} is a {found.kind}, not a {kind}")
        return value

    return AfterValidator(check)


Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                    AfterValidator(_no_control)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), AfterValidator(_no_control)]
Line = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), AfterValidator(_no_control)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, min_length=6, max_length=32), AfterValidator(_phone)]
Website = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300), AfterValidator(_website)]
Language = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=35),
                     AfterValidator(_language)]
SpecialtyCode = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50), _code_of("specialty")]
ServiceCode = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50), _code_of("service")]
AnyCode = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)]
Scheme = Annotated[str, BeforeValidator(_scheme), StringConstraints(max_length=40), AfterValidator(_slug)]
ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                       AfterValidator(_no_control)]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False, description="WGS 84 degrees.")]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False, description="WGS 84 degrees.")]
Beds = Annotated[int, Field(ge=0, le=MAX_BEDS)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Address(_In):
    line: Line | None = None
    city: Short | None = None
    district: Short | None = None
    state: Short | None = None
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20),
                           AfterValidator(_no_control)] | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = Field(
        None, description="ISO 3166-1 alpha-2 code, e.g. IN.")


class Contact(_In):
    phone: Phone | None = None
    email: EmailStr | None = None
    website: Website | None = None


class GeoPoint(_In):
    lat: Latitude
    lng: Longitude


class BedsUpdate(_In):
    """Beds as counted now by the facility's own staff."""

    total: Beds | None = Field(None, description="Leave out to keep the recorded total.")
    available: Beds

    @model_validator(mode="after")
    def _check(self) -> BedsUpdate:
        if self.total is not None and self.available > self.total:
            raise ValueError("available beds cannot exceed total beds")
        return self


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


class _FacilityFields(_In):
    type: FacilityType
    ownership: Ownership | None = None
    organization_id: uuid.UUID | None = Field(None, description="The organization whose staff keep it current.")
    emergency: bool = Field(False, description="Receives emergencies around the clock.")
    specialties: Annotated[list[SpecialtyCode], AfterValidator(_unique)] = Field(
        default_factory=list, max_length=MAX_CODES)
    services: Annotated[list[ServiceCode], AfterValidator(_unique)] = Field(default_factory=list,
                                                                           max_length=MAX_CODES)
    insurance: Annotated[list[Scheme], AfterValidator(_unique)] = Field(
        default_factory=list, max_length=MAX_CODES, description="Accepted insurance and schemes: pmjay, cghs, esi...")
    languages: Annotated[list[Language], AfterValidator(_unique)] = Field(default_factory=list,
                                                                         max_length=MAX_LANGUAGES)
    beds_total: Beds | None = None
    beds_available: Beds | None = None
    opening_hours: OpeningHours | None = Field(None, description="Unknown when absent: never shown as open.")
    contact: Contact = Field(default_factory=Contact)
    address: Address = Field(default_factory=Address)
    location: GeoPoint
    active: bool = True

    @model_validator(mode="after")
    def _beds(self) -> _FacilityFields:
        if self.beds_total is not None and self.beds_available is not None and self.beds_available > self.beds_total:
            raise ValueError("beds_available cannot exceed beds_total")
        return self


class FacilityCreate(_FacilityFields):
    name: Text200
    external_id: ExternalId | None = Field(None, description="The source registry's id; imports upsert by it.")


class FacilityUpdate(_In):
    """Only the fields sent change; `version` must match the stored one when given.

    Nested objects (contact, address, location, opening_hours) are replaced whole, not merged.
    """

    version: int | None = Field(None, ge=1)
    name: Text200 | None = None
    external_id: ExternalId | None = None
    type: FacilityType | None = None
    ownership: Ownership | None = None
    organization_id: uuid.UUID | None = None
    emergency: bool | None = None
    specialties: Annotated[list[SpecialtyCode], AfterValidator(_unique)] | None = Field(None, max_length=MAX_CODES)
    services: Annotated[list[ServiceCode], AfterValidator(_unique)] | None = Field(None, max_length=MAX_CODES)
    insurance: Annotated[list[Scheme], AfterValidator(_unique)] | None = Field(None, max_length=MAX_CODES)
    languages: Annotated[list[Language], AfterValidator(_unique)] | None = Field(None, max_length=MAX_LANGUAGES)
    beds_total: Beds | None = None
    beds_available: Beds | None = None
    opening_hours: OpeningHours | None = None
    contact: Contact | None = None
    address: Address | None = None
    location: GeoPoint | None = None
    active: bool | None = None


class HoursUpdate(_In):
    opening_hours: OpeningHours | None = Field(description="null: hours unknown.")
    version: int | None = Field(None, ge=1)


class FacilityRead(BaseModel):
    id: uuid.UUID
    external_id: str | None
    name: str
    type: FacilityType
    ownership: Ownership | None
    organization_id: uuid.UUID | None
    emergency: bool
    specialties: list[str]
    services: list[str]
    insurance: list[str]
    languages: list[str]
    beds_total: int | None
    beds_available: int | None
    beds_updated_at: datetime | None
    opening_hours: OpeningHours | None
    contact: Contact
    address: Address
    location: GeoPoint
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime


class FacilityPage(Page[FacilityRead]):
    pass


class FacilitySearch(_In):
    """A nearest-facility question; the patient's position is never stored."""

    lat: Latitude
    lng: Longitude
    radius_km: float = Field(25.0, gt=0, le=MAX_RADIUS_KM, allow_inf_nan=False)
    limit: int = Field(10, ge=1, le=MAX_SEARCH_LIMIT)
    specialty: Annotated[AnyCode, _code_of("specialty")] | None = None
    service: Annotated[AnyCode, _code_of("service")] | None = None
    open_at: datetime | None = Field(None, description="Only facilities open at this instant (aware datetime).")
    emergency: bool | None = None
    ownership: Ownership | None = None
    insurance: Scheme | None = None
    types: list[FacilityType] = Field(default_factory=list, max_length=len(FacilityType))

    @field_validator("open_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a time zone offset, e.g. 2026-03-10T09:30:00+05:30")
        return value


class FacilityHit(BaseModel):
    facility: FacilityRead
    distance_km: float = Field(description="Great-circle distance from the search point.")
    travel_minutes: float | None = Field(description="Rough road estimate: distance x road factor / average speed.")
    open_at: bool | None = Field(description="Open at the asked instant; null when no instant was asked or hours "
                                             "are unknown.")


class FacilitySearchResult(BaseModel):
    items: list[FacilityHit]
    radius_km: float
    at: datetime | None


class RejectedRow(BaseModel):
    line: int | None = Field(description="1-based line of the file (CSV); null for JSON formats.")
    where: str = Field(description="`line 12`, `features[3]` or `entry[7]`.")
    external_id: str | None
    errors: list[str]


class ImportReport(BaseModel):
    format: Literal["csv", "geojson", "fhir"]
    profile: str
    total: int = Field(description="Records read (rows, features or Location entries).")
    created: int
    updated: int
    rejected: int
    rejected_rows: list[RejectedRow]
    notes: list[str] = Field(default_factory=list)
