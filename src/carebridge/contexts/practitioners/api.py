"""JSON API of the practitioners context."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["practitioners"])
