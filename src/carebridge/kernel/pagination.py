"""Keyset pagination with opaque cursors: pages stay stable while rows are inserted."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from carebridge.kernel.errors import ValidationProblem

T = TypeVar("T")

MAX_CURSOR_LEN = 512


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(None, description="Pass as `cursor` to get the next page; null on the last.")
    limit: int


def encode_cursor(keys: list[Any]) -> str:
    raw = json.dumps(keys, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, arity: int) -> list[Any] | None:
    if cursor is None or cursor == "":
        return None
    if len(cursor) > MAX_CURSOR_LEN:
        raise ValidationProblem("cursor is too long", errors=[{"field": "cursor", "message": "too long"}])
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        keys = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationProblem(
            "cursor is not one this server issued", errors=[{"field": "cursor", "message": "malformed"}]
        ) from exc
    # a forged key with a NUL byte would reach PostgreSQL, which refuses it with an error
    if (not isinstance(keys, list) or len(keys) != arity or not all(isinstance(k, str | int | None) for k in keys)
            or any(isinstance(k, str) and "\x00" in k for k in keys)):
        raise ValidationProblem(
            "cursor is not one this server issued", errors=[{"field": "cursor", "message": "malformed"}]
        )
    return keys


def decode_time_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """The (instant, id) keys of a cursor from `encode_cursor([at.isoformat(), str(id)])`, the usual keyset.

    A key that is not an aware instant and a UUID is refused here, where a naive instant would otherwise
    reach the database and fail there (PostgreSQL cannot compare it with a timezone-aware column).
    """
    keys = decode_cursor(cursor, arity=2)
    if keys is None:
        return None
    try:
        at, rid = datetime.fromisoformat(str(keys[0])), uuid.UUID(str(keys[1]))
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise ValidationProblem("cursor is not one this server issued",
                                errors=[{"field": "cursor", "in": "query", "message": "malformed"}])
    return at, rid


def resolve_limit(limit: int | None, *, default: int, maximum: int) -> int:
    """The page size asked for, or the default; one above `maximum` is an error, never a silent cap."""
    if limit is None:
        return default
    if limit > maximum:
        msg = f"at most {maximum}"
        raise ValidationProblem(f"limit: {msg}", errors=[{"field": "limit", "in": "query", "message": msg}])
    return limit
