"""Server-Sent Events over the bus: the one way live views (ward dashboards, event tails) get pushed updates.

SSE rather than WebSockets: it is plain HTTP (proxies and cheap phones cope), the browser reconnects by
itself, and each event carries its id, so a client that reconnects after a blip and sees an event twice (the
relay delivers at least once) can drop the repeat. A comment line goes out every `heartbeat` seconds so idle
connections survive proxies that close silent ones, and so a vanished client is noticed and unsubscribed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import StreamingResponse

from carebridge.kernel.bus import Event, EventBus

HEARTBEAT_SECONDS = 15.0


def format_event(event: Event, data: dict[str, Any] | None = None) -> bytes:
    body = json.dumps(data if data is not None else {"type": event.type, "payload": event.payload,
                                                      "created_at": event.created_at.isoformat()},
                      separators=(",", ":"), default=str)
    return f"id: {event.id}\nevent: {event.type}\ndata: {body}\n\n".encode()


async def stream(request: Request, bus: EventBus, prefixes: tuple[str, ...], *,
                 select: Callable[[Event], dict[str, Any] | None] = lambda e: {},
                 heartbeat: float = HEARTBEAT_SECONDS) -> AsyncIterator[bytes]:
    """Events whose type starts with one of `prefixes`, shaped by `select` (None drops the event: the caller's
    filter of what this viewer may see; `{}` sends the default shape)."""
    subscription = bus.subscribe(prefixes)
    try:
        yield b": connected\n\n"  # lets the client know the subscription is live before any event
        while True:
            event = await subscription.next(timeout=heartbeat)
            if await request.is_disconnected():
                return
            if event is None:
                yield b": keep-alive\n\n"
                continue
            data = select(event)
            if data is None:
                continue
            yield format_event(event, data or None)
    finally:
        bus.unsubscribe(subscription)


def sse_response(body: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(body, media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
