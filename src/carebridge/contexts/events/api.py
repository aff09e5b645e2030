"""The live tail of committed domain events, for administrators watching a deployment (and for checking that
events cross processes through the configured bus). Events carry ids only, never clinical content."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import StreamingResponse

from carebridge.contexts.identity import CurrentPrincipal
from carebridge.kernel.bus import EventBus
from carebridge.kernel.errors import ValidationProblem
from carebridge.kernel.sse import sse_response, stream
from carebridge.security import Permission, require

router = APIRouter(prefix="/api/v1", tags=["events"])
MAX_PREFIXES = 10


@router.get(
    "/admin/events/stream",
    summary="Live stream (Server-Sent Events) of committed domain events (administrators)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "An endless event stream."},
               401: {"description": "Not signed in"}, 403: {"description": "Not an administrator"},
               422: {"description": "Bad filter"}},
)
async def event_stream(
    request: Request,
    principal: CurrentPrincipal,
    type_prefix: Annotated[list[str] | None, Query(alias="type", max_length=MAX_PREFIXES,
                                                   description="Only event types starting with this "
                                                               "(repeatable), e.g. `appointment.`")] = None,
) -> StreamingResponse:
    """Each event is `id:` (the event id, for de-duplication), `event:` (its type) and `data:` (JSON with
    the payload and commit time). Delivery is at least once; a comment line is sent every 15 s."""
    require(principal, Permission.events_watch)
    prefixes = tuple(type_prefix or ())
    if any(len(p) > 100 for p in prefixes):
        raise ValidationProblem("an event type prefix is at most 100 characters",
                                errors=[{"field": "type", "message": "at most 100 characters"}])
    bus: EventBus = request.app.state.bus
    return sse_response(stream(request, bus, prefixes))
