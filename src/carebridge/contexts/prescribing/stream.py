"""The live feed behind an open prescriber page: `prescription.*` events about one patient, ids only.

A new alert on a patient reaches the prescriber without a reload: a record change re-checks the open
prescriptions (reactions.py), each run emits `prescription.checked`, the relay publishes it, and the page's
script (web.py) re-draws its alerts section when anything about this patient arrives. The events carry ids,
the outcome and counts, never clinical text: the page fetches the alerts through the same policy as a reload.
The policy is asked once, when the stream opens (service.authorize_stream).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.requests import Request

from carebridge.kernel.bus import Event, EventBus
from carebridge.kernel.sse import HEARTBEAT_SECONDS, stream

PREFIXES = ("prescription.",)
FIELDS = ("prescription_id", "patient_id", "outcome", "blocking", "trigger", "full")


def selector(patient_id: uuid.UUID) -> Callable[[Event], dict[str, Any] | None]:
    wanted = str(patient_id)

    def select(event: Event) -> dict[str, Any] | None:
        if event.payload.get("patient_id") != wanted:
            return None
        return {"type": event.type, "payload": {k: event.payload[k] for k in FIELDS if k in event.payload},
                "created_at": event.created_at.isoformat()}

    return select


def alert_events(request: Request, bus: EventBus, patient_id: uuid.UUID, *,
                 heartbeat: float = HEARTBEAT_SECONDS) -> AsyncIterator[bytes]:
    return stream(request, bus, PREFIXES, select=selector(patient_id), heartbeat=heartbeat)
