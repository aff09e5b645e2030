"""DTOs of the identity context: what the API and the web pages send and receive.

Usernames are case-insensitive (stored lower-case) so "Asha" and "asha" cannot be two people;
passwords are bounded above so hashing cost cannot be used to exhaust the server.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from carebridge.kernel.pagination import Page
from carebridge.kernel.text import NoControl, PhoneNumber
from carebridge.security import CaregiverScope, Role

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{2,63}$"



def _username(value: str) -> str:
    if not re.fullmatch(USERNAME_PATTERN, value):
        raise ValueError("use 3-64 letters, digits, dots, underscores or hyphens, starting with a letter or digit")
    return value


Username = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, min_length=3, max_length=64),
    AfterValidator(_username),
    Field(description="3-64 characters: letters, digits, dot, underscore, hyphen; case-insensitive."),
]
# What a login form may send: looser than Username (an old or mistyped name is a 401, not a 422).
LoginName = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64), NoControl
]
NewPassword = Annotated[str, Field(min_length=1, max_length=128, description="At least 12 characters, not common.")]
GivenPassword = Annotated[str, Field(min_length=1, max_length=128)]
FullName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoControl]
TotpCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=6, max_length=8, pattern=r"^[0-9 ]+$"),
    Field(description="The 6-digit code shown by the authenticator app."),
]
Language = Literal["en", "hi"]
StaffRole = Literal["practitioner", "nurse", "health_worker", "pharmacist", "front_desk", "admin"]


def _lower_email(value: str | None) -> str | None:
    return value.lower() if value else value


Email = Annotated[EmailStr, Field(max_length=254), AfterValidator(_lower_email)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(_In):
    username: LoginName
    password: GivenPassword
    totp_code: TotpCode | None = Field(None, description="Required once the account has two-factor sign-in on.")


class RefreshRequest(_In):
    refresh_token: str = Field(min_length=1, max_length=200)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    email: str | None
    full_name: str
    role: Role
    organization_id: uuid.UUID | None
    patient_id: uuid.UUID | None
    is_active: bool
    totp_enabled: bool
    language: str
    created_at: datetime


class UserPage(Page[UserRead]):
    pass


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (a scheme name, not a secret)
    expires_in: int = Field(description="Seconds until the access token expires; refresh before then.")
    user: UserRead


class RegistrationCreate(_In):
    username: Username
    password: NewPassword
    full_name: FullName
    email: Email | None = None
    phone: PhoneNumber | None = None
    birth_date: date | None = None
    sex: Literal["female", "male", "other", "unknown"] | None = None
    role: Literal["patient", "caregiver"] = Field(
        "patient", description="patient (gets a patient record) or caregiver (acts for patients who link them)."
    )
    language: Language = "en"


class StaffCreate(_In):
    username: Username
    password: NewPassword
    full_name: FullName
    email: Email | None = None
    role: StaffRole
    language: Language = "en"


class RoleChange(_In):
    role: StaffRole


class MeRead(BaseModel):
    id: uuid.UUID
    username: str
    full_name: str
    email: str | None
    role: Role
    organization_id: uuid.UUID | None
    organization_name: str | None
    patient_id: uuid.UUID | None
    language: str
    totp_enabled: bool
    totp_required: bool = Field(description="True while an admin must enrol two-factor sign-in to use admin rights.")
    session_mfa: bool = Field(description="This sign-in was confirmed with a two-factor code.")
    permissions: list[str]


class MeUpdate(_In):
    full_name: FullName | None = None
    language: Language | None = None


class PasswordChange(_In):
    current_password: GivenPassword
    new_password: NewPassword


class TotpSetup(BaseModel):
    secret: str = Field(description="Base32 secret to type into an authenticator app.")
    otpauth_uri: str = Field(description="otpauth:// URI; most apps read it from the QR code.")
    qr_svg: str = Field(description="The URI as an SVG QR code.")


class TotpConfirm(_In):
    code: TotpCode


class TotpDisable(_In):
    password: GivenPassword
    code: TotpCode


class CaregiverLinkCreate(_In):
    caregiver_username: LoginName
    scopes: list[CaregiverScope] = Field(min_length=1, max_length=len(CaregiverScope))


class CaregiverLinkRead(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    caregiver_user_id: uuid.UUID
    caregiver_username: str
    caregiver_full_name: str
    scopes: list[CaregiverScope]
    created_at: datetime
    revoked_at: datetime | None


class CaredPatientRead(BaseModel):
    link_id: uuid.UUID
    patient_id: uuid.UUID
    patient_name: str = Field(description="The name on the patient's account, if they have one.")
    scopes: list[CaregiverScope]
    linked_at: datetime
