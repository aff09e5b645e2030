"""API-key DTOs. The secret appears in exactly one answer: the one that issued it."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints


class ApiScope(StrEnum):
    """What an integrating app may call; a key carries one or more."""

    care_diagnose = "care:diagnose"  # POST /diagnose: store a symptom query
    care_geo = "care:geo"  # POST /geo: facilities for a stored query


def _printable(value: str) -> str:
    if not value.isprintable():
        raise ValueError("must not contain control characters")
    return value


def _unique(values: list[ApiScope]) -> list[ApiScope]:
    return list(dict.fromkeys(values))


AppName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                    AfterValidator(_printable)]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    app_name: AppName = Field(description="The integrating app, as admins will recognise it in the list.")
    scopes: Annotated[list[ApiScope], AfterValidator(_unique)] = Field(
        default_factory=lambda: [ApiScope.care_diagnose, ApiScope.care_geo], min_length=1, max_length=len(ApiScope))
    rate_limit: int | None = Field(None, ge=1, le=1_000_000,
                                   description="Requests per window for this key; default: the server-wide limit.")


class ApiKeyRead(BaseModel):
    id: uuid.UUID
    app_name: str
    prefix: str = Field(description="The public start of the key (`cbk_<prefix>_…`), to recognise it in logs.")
    scopes: list[str]
    rate_limit: int | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyIssued(ApiKeyRead):
    key: str = Field(description="The whole key. Shown this once; only its hash is kept.")


class ApiKeyList(BaseModel):
    items: list[ApiKeyRead]
