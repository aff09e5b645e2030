"""The inbox and notification-preference pages (no JavaScript)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Final

from fastapi import Form, Query
from fastapi.responses import Response
from pydantic import ValidationError

from carebridge.contexts.notifications import service
from carebridge.contexts.notifications.schemas import Preferences
from carebridge.kernel.errors import Problem
from carebridge.web.i18n import N_
from carebridge.web.render import SignedInPageDep, page_router, signed_in

TEMPLATE_DIR: Final = Path(__file__).resolve().parent / "templates"
router = page_router()
Text = Annotated[str, Form(max_length=64)]
CHANNEL_LABELS: Final = {"in_app": N_("Messages here in CareBridge"), "email": N_("Email"), "sms": N_("SMS")}


@router.get("/inbox", summary="My messages")
def inbox_page(page: SignedInPageDep, cursor: Annotated[str | None, Query(max_length=512)] = None,
               error: Annotated[str | None, Query(max_length=8)] = None) -> Response:
    principal, _me = signed_in(page)
    try:
        box = service.inbox(page.session, principal, limit=20, cursor=cursor)
    except Problem:
        box = service.inbox(page.session, principal, limit=20, cursor=None)
    prefs = service.get_preferences(page.session, principal)
    return page.render("notifications/inbox.html", box=box, prefs=prefs, channels=CHANNEL_LABELS,
                       error=error == "prefs")


@router.post("/inbox/{message_id}/read", summary="Mark a message read")
def read_submit(page: SignedInPageDep, message_id: uuid.UUID) -> Response:
    principal, _me = signed_in(page)
    service.mark_read(page.session, principal, message_id=message_id, now=page.clock.now())
    return page.redirect("/inbox")


@router.post("/inbox/preferences", summary="Change where and when my messages reach me")
def preferences_submit(page: SignedInPageDep, channels: Annotated[list[str] | None, Form(max_length=3)] = None,
                       language: Text = "", quiet_start: Text = "", quiet_end: Text = "",
                       time_zone: Text = "Asia/Kolkata") -> Response:
    principal, _me = signed_in(page)
    try:
        data = Preferences.model_validate({
            "channels": [c for c in (channels or []) if c in CHANNEL_LABELS], "language": language or None,
            "quiet_start": quiet_start or None, "quiet_end": quiet_end or None, "time_zone": time_zone})
    except ValidationError:
        return page.redirect("/inbox?error=prefs#preferences")
    service.set_preferences(page.session, principal, data=data, now=page.clock.now())
    return page.redirect("/inbox?done=saved#preferences")
