"""Building blocks for bounded, clean text fields in every context's schemas.

PostgreSQL refuses NUL bytes and terminals misrender other control characters, so free text is
checked here once rather than failing later as a 500. Use as `Annotated[str, StringConstraints(...), NoControl]`.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-.]{4,30}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")


def no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def phone(value: str) -> str:
    if not _PHONE.match(value) or sum(ch.isdigit() for ch in value) < 6:
        raise ValueError("must be a phone number: digits, spaces, ( ) - . and an optional leading +; 6 digits at least")
    return value


def language(value: str) -> str:
    if not _LANGUAGE.match(value):
        raise ValueError("must be a BCP 47 language tag such as 'hi', 'en' or 'mr-IN'")
    return value


NoControl = AfterValidator(no_control)
PhoneNumber = Annotated[str, StringConstraints(strip_whitespace=True, min_length=6, max_length=32),
                        AfterValidator(phone)]
LanguageTag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=35),
                        AfterValidator(language)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
