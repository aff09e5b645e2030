"""JSON API: my inbox and my notification preferences; the delivery status list for operators."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from carebridge.contexts.identity import CurrentPrincipal
from carebridge.contexts.notifications import service
from carebridge.contexts.notifications.schemas import DeliveryPage, InboxItem, InboxPage, Preferences
from carebridge.kernel.deps import ClockDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["notifications"])
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=512)]


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {401: "Not signed in.", 403: "Not allowed.", 404: "No such message in your inbox.",
            422: "A parameter or field is invalid (the `errors` list names it)."}
    return {c: {"description": text[c], "content": {"application/problem+json": {}}} for c in codes}


@router.get("/notifications/inbox", response_model=InboxPage, summary="My in-app messages, newest first",
            responses=_problems(401, 422))
def get_inbox(session: SessionDep, principal: CurrentPrincipal, limit: Limit = 20, cursor: Cursor = None,
              unread: Annotated[bool, Query(description="Only messages not yet read.")] = False) -> InboxPage:
    return service.inbox(session, principal, limit=limit, cursor=cursor, unread_only=unread)


@router.post("/notifications/inbox/{message_id}/read", response_model=InboxItem, summary="Mark a message read",
             responses=_problems(401, 404, 422))
def read_message(session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                 message_id: uuid.UUID) -> InboxItem:
    return service.mark_read(session, principal, message_id=message_id, now=clock.now())


@router.get("/notifications/preferences", response_model=Preferences, summary="My channels, language and "
            "quiet hours", responses=_problems(401))
def get_preferences(session: SessionDep, principal: CurrentPrincipal) -> Preferences:
    return service.get_preferences(session, principal)


@router.put("/notifications/preferences", response_model=Preferences, summary="Change my channels, language "
            "and quiet hours", responses=_problems(401, 422))
def put_preferences(session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                    body: Preferences) -> Preferences:
    return service.set_preferences(session, principal, data=body, now=clock.now())


@router.get("/notifications", response_model=DeliveryPage, summary="Delivery status of queued notifications "
            "(administrators)", responses=_problems(401, 403, 422))
def list_deliveries(session: SessionDep, principal: CurrentPrincipal, limit: Limit = 50, cursor: Cursor = None,
                    status: Annotated[Literal["pending", "sent", "failed", "cancelled"] | None,
                                      Query()] = None) -> DeliveryPage:
    return service.delivery_status(session, principal, status=status, limit=limit, cursor=cursor)
