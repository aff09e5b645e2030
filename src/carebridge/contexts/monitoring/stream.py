"""The live feed of one viewer: monitoring events about the patients they were allowed, nothing else."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request

from carebridge.kernel.bus import Event, EventBus
from carebridge.kernel.sse import stream

PREFIXES = ("monitoring.",)


def selector(allowed: frozenset[uuid.UUID]) -> Any:
    names = {str(p) for p in allowed}

    def select(event: Event) -> dict[str, Any] | None:
        if event.payload.get("patient_id") not in names:
            return None
        return {"type": event.type, "payload": event.payload, "created_at": event.created_at.isoformat()}

    return select


def live_events(request: Request, bus: EventBus, allowed: frozenset[uuid.UUID]) -> AsyncIterator[bytes]:
    return stream(request, bus, PREFIXES, select=selector(allowed))
