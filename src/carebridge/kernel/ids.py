"""Identifiers: random UUIDv4 for every entity, so ids leak no counts and merge across sites."""

from __future__ import annotations

import uuid


def new_id() -> uuid.UUID:
    return uuid.uuid4()
