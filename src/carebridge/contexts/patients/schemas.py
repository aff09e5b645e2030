"""Patient DTOs: what the API accepts and answers. Every string and list has an explicit limit."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from carebridge.contexts.audit import PurposeOfUse as PurposeOfUse  # the audit vocabulary, re-exported
from carebridge.kernel.pagination import Page
from carebridge.kernel.text import CountryCode, LanguageTag, NoControl, PhoneNumber

ABHA_SYSTEM = "https://healthid.ndhm.gov.in"
"""Identifier system of the ABHA number (India's 14-digit national health ID, ABDM)."""

MRN_SYSTEM_SHORTHAND = "mrn"
"""Given as a system by staff, it stands for their own organization's medical record number system."""

MAX_LIST = 20
_ABHA_SHAPE = re.compile(r"^[0-9]{2}-?[0-9]{4}-?[0-9]{4}-?[0-9]{4}$")


def mrn_system(organization_id: uuid.UUID) -> str:
    """Each organization numbers its own records, so its MRNs are unique only within its own system."""
    return f"urn:carebridge:organization:{organization_id}:mrn"


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                 NoControl]
OptionalName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), NoControl]
Phone = PhoneNumber
Language = LanguageTag
Email = EmailStr  # email-validator caps the length at 254
Line = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), NoControl]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), NoControl]
Country = CountryCode


class AdministrativeSex(StrEnum):
    male = "male"
    female = "female"
    other = "other"
    unknown = "unknown"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GeoPoint(_In):
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="Latitude, WGS 84 degrees.")
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False, description="Longitude, WGS 84 degrees.")


class Address(_In):
    line: Line | None = None
    city: Short | None = None
    district: Short | None = None
    state: Short | None = None
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20),
                           NoControl] | None = None
    country: Country | None = Field(None, description="ISO 3166-1 alpha-2 code, e.g. IN.")
    geo: GeoPoint | None = None


class IdentifierIn(_In):
    system: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                      NoControl] = Field(
        description=f"A URI naming the issuer: `{ABHA_SYSTEM}` for an ABHA number, or `mrn` for your "
        "organization's medical record number.")
    value: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                     NoControl]

    @model_validator(mode="after")
    def _check(self) -> IdentifierIn:
        if self.system != MRN_SYSTEM_SHORTHAND and ":" not in self.system:
            raise ValueError("system must be a URI (e.g. https://healthid.ndhm.gov.in) or 'mrn'")
        if self.system == ABHA_SYSTEM:
            if not _ABHA_SHAPE.match(self.value):
                raise ValueError("an ABHA number has 14 digits, written 12345678901234 or 12-3456-7890-1234")
            self.value = self.value.replace("-", "")
        return self


class IdentifierRead(BaseModel):
    id: uuid.UUID
    system: str
    value: str


class EmergencyContactIn(_In):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                    NoControl]
    relationship: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64),
                            NoControl] | None = Field(None, description="e.g. spouse, parent")
    phone: Phone
    email: Email | None = None


class EmergencyContactRead(BaseModel):
    id: uuid.UUID
    name: str
    relationship: str | None
    phone: str
    email: str | None


class _PatientFields(_In):
    preferred_name: OptionalName | None = None
    birth_date: date | None = Field(None, description="Not in the future, not before 1900.")
    sex: AdministrativeSex = AdministrativeSex.unknown
    gender_identity: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64),
                               NoControl] | None = None
    preferred_languages: list[Language] = Field(default_factory=list, max_length=MAX_LIST)
    phone: Phone | None = None
    email: Email | None = None
    address: Address | None = None
    deceased: bool = False
    deceased_at: datetime | None = Field(None, description="Aware timestamp; implies deceased.")


class PatientCreate(_PatientFields):
    given_name: Name
    family_name: OptionalName = ""
    identifiers: list[IdentifierIn] = Field(default_factory=list, max_length=MAX_LIST)
    emergency_contacts: list[EmergencyContactIn] = Field(default_factory=list, max_length=MAX_LIST)


class PatientUpdate(_In):
    """Only the fields sent change; `version` (or an If-Match header) must match the stored one."""

    version: int | None = Field(None, ge=1, description="The version you read; a stale one is refused.")
    given_name: Name | None = None
    family_name: OptionalName | None = None
    preferred_name: OptionalName | None = None
    birth_date: date | None = None
    sex: AdministrativeSex | None = None
    gender_identity: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64),
                               NoControl] | None = None
    preferred_languages: list[Language] | None = Field(None, max_length=MAX_LIST)
    phone: Phone | None = None
    email: Email | None = None
    address: Address | None = None
    deceased: bool | None = None
    deceased_at: datetime | None = None


class PatientRead(BaseModel):
    id: uuid.UUID
    given_name: str
    family_name: str
    preferred_name: str | None
    birth_date: date | None
    sex: AdministrativeSex
    gender_identity: str | None
    preferred_languages: list[str]
    phone: str | None
    email: str | None
    address: Address | None
    identifiers: list[IdentifierRead]
    emergency_contacts: list[EmergencyContactRead]
    deceased: bool
    deceased_at: datetime | None
    active: bool
    merged_into_id: uuid.UUID | None = Field(description="Set once merged: follow it to the surviving record.")
    version: int
    created_at: datetime
    updated_at: datetime


class PatientPage(Page[PatientRead]):
    pass


class DeactivateRequest(_In):
    reason: Line | None = None


class MergeRequest(_In):
    into: uuid.UUID = Field(description="The surviving patient; the one in the path becomes inactive.")


class DuplicateCandidate(BaseModel):
    id: uuid.UUID
    reason: str
