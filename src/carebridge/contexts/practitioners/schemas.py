"""Organization, practitioner and practitioner-role DTOs; specialties are codes from the one coded list."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from carebridge.engines import specialties
from carebridge.kernel.pagination import Page
from carebridge.kernel.text import CountryCode, LanguageTag, NoControl, PhoneNumber

MAX_LIST = 20


def _known_specialty(code: str) -> str:
    if not specialties.is_known(code):
        raise ValueError(f"unknown specialty code {code!r}; GET /api/v1/specialties lists the codes")
    return code


SpecialtyCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
                          AfterValidator(_known_specialty)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), NoControl]
Line = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), NoControl]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), NoControl]
OrgName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoControl]
PostalCode = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20), NoControl]


class OrganizationType(StrEnum):
    clinic = "clinic"
    hospital = "hospital"
    lab = "lab"
    pharmacy = "pharmacy"
    public_programme = "public_programme"


class RoleCode(StrEnum):
    """What a practitioner does at an organization."""

    doctor = "doctor"
    nurse = "nurse"
    midwife = "midwife"
    pharmacist = "pharmacist"
    health_worker = "health_worker"
    lab_technician = "lab_technician"
    therapist = "therapist"
    counsellor = "counsellor"


class Gender(StrEnum):
    male = "male"
    female = "female"
    other = "other"
    unknown = "unknown"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrganizationCreate(_In):
    name: OrgName
    type: OrganizationType
    external_id: Short | None = Field(None, description="An outside registry's id (e.g. a facility registry); unique.")
    phone: PhoneNumber | None = None
    email: EmailStr | None = None
    address_line: Line | None = None
    city: Short | None = None
    state: Short | None = None
    postal_code: PostalCode | None = None
    country: CountryCode | None = None


class OrganizationUpdate(_In):
    name: OrgName | None = None
    type: OrganizationType | None = None
    external_id: Short | None = None
    phone: PhoneNumber | None = None
    email: EmailStr | None = None
    address_line: Line | None = None
    city: Short | None = None
    state: Short | None = None
    postal_code: PostalCode | None = None
    country: CountryCode | None = None
    active: bool | None = None


class OrganizationRead(BaseModel):
    id: uuid.UUID
    name: str
    type: OrganizationType
    external_id: str | None
    phone: str | None
    email: str | None
    address_line: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None
    active: bool
    created_at: datetime
    updated_at: datetime


class OrganizationPage(Page[OrganizationRead]):
    pass


class Qualification(_In):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), NoControl] = Field(
        description="e.g. MBBS, MD (Paediatrics), GNM")
    institution: Line | None = None
    year: int | None = Field(None, ge=1900, le=2100)


class PractitionerCreate(_In):
    given_name: Name
    family_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), NoControl] = ""
    gender: Gender | None = None
    registration_number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
                                   NoControl] | None = None
    registration_council: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                                    NoControl] | None = Field(
        None, description="The council that issued the registration number, e.g. 'Maharashtra Medical Council'.")
    qualifications: list[Qualification] = Field(default_factory=list, max_length=MAX_LIST)
    specialties: list[SpecialtyCode] = Field(default_factory=list, max_length=MAX_LIST)
    languages: list[LanguageTag] = Field(default_factory=list, max_length=MAX_LIST)
    phone: PhoneNumber | None = None
    email: EmailStr | None = None

    @model_validator(mode="after")
    def _registration_pair(self) -> PractitionerCreate:
        if (self.registration_number is None) != (self.registration_council is None):
            raise ValueError("registration_number and registration_council go together")
        return self


class PractitionerUpdate(_In):
    given_name: Name | None = None
    family_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), NoControl] | None = None
    gender: Gender | None = None
    registration_number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
                                   NoControl] | None = None
    registration_council: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                                    NoControl] | None = None
    qualifications: list[Qualification] | None = Field(None, max_length=MAX_LIST)
    specialties: list[SpecialtyCode] | None = Field(None, max_length=MAX_LIST)
    languages: list[LanguageTag] | None = Field(None, max_length=MAX_LIST)
    phone: PhoneNumber | None = None
    email: EmailStr | None = None
    active: bool | None = None


class PractitionerRead(BaseModel):
    id: uuid.UUID
    given_name: str
    family_name: str
    gender: Gender | None
    registration_number: str | None
    registration_council: str | None
    qualifications: list[Qualification]
    specialties: list[str]
    languages: list[str]
    phone: str | None
    email: str | None
    active: bool
    created_at: datetime
    updated_at: datetime


class PractitionerPage(Page[PractitionerRead]):
    pass


class PractitionerRoleCreate(_In):
    organization_id: uuid.UUID
    code: RoleCode
    specialties: list[SpecialtyCode] = Field(default_factory=list, max_length=MAX_LIST,
                                             description="What the practitioner does at this organization.")


class PractitionerRoleUpdate(_In):
    specialties: list[SpecialtyCode] | None = Field(None, max_length=MAX_LIST)
    active: bool | None = None


class PractitionerRoleRead(BaseModel):
    id: uuid.UUID
    practitioner_id: uuid.UUID
    organization_id: uuid.UUID
    code: RoleCode
    specialties: list[str]
    active: bool
    created_at: datetime


class SpecialtyRead(BaseModel):
    code: str
    name_en: str
    name_hi: str
    kind: str
    description: str
