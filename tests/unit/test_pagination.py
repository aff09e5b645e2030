"""Keyset cursors of (instant, id): what the server issued comes back; anything else is a clear 422, never a
database error (a naive instant cannot be compared with a timezone-aware column on PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from carebridge.kernel.errors import ValidationProblem
from carebridge.kernel.pagination import decode_time_cursor, encode_cursor

AT = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
RID = uuid.UUID("6b9e3a52-1f0c-4f4e-9a53-2b8f0f3c1d20")


def test_an_issued_cursor_comes_back_as_its_keys() -> None:
    assert decode_time_cursor(encode_cursor([AT.isoformat(), str(RID)])) == (AT, RID)
    assert decode_time_cursor(None) is None and decode_time_cursor("") is None


@pytest.mark.parametrize("keys", [["2026-03-10T09:30:00", str(RID)], ["yesterday", str(RID)],
                                  [AT.isoformat(), "not-a-uuid"]], ids=["naive", "not-a-date", "not-a-uuid"])
def test_a_forged_cursor_is_refused_by_name(keys: list[str]) -> None:
    with pytest.raises(ValidationProblem) as refused:
        decode_time_cursor(encode_cursor(keys))
    assert refused.value.errors == [{"field": "cursor", "in": "query", "message": "malformed"}]
