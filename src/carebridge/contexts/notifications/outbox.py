"""Queueing a message in the caller's transaction, and taking back the ones not yet sent."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carebridge.contexts.notifications.models import Notification
from carebridge.contexts.notifications.templates import get_template
from carebridge.kernel.ids import new_id

MAX_KEY = 300


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who hears about it: an account (in-app, and its preferences) and/or plain contacts (email, SMS)."""

    user_id: uuid.UUID | None
    name: str
    email: str | None = None
    phone: str | None = None


def enqueue(session: Session, *, recipient: Recipient, template: str, params: dict[str, str], now: datetime,
            not_before: datetime | None = None, dedupe_key: str | None = None) -> uuid.UUID:
    """Queue one message in the caller's transaction; a repeated `dedupe_key` returns the queued one."""
    known = get_template(template)
    if known is None:
        raise ValueError(f"no template {template!r} is registered")
    if recipient.user_id is None and not recipient.email and not recipient.phone:
        raise ValueError("a recipient needs an account, an email address or a phone number")
    if dedupe_key is not None:
        dedupe_key = dedupe_key[:MAX_KEY]
        existing = session.scalar(select(Notification.id).where(Notification.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    row = Notification(id=new_id(), user_id=recipient.user_id, name=recipient.name[:200], email=recipient.email,
                       phone=recipient.phone, template=template, params={k: str(v) for k, v in params.items()},
                       urgent=known.urgent, status="pending", next_attempt_at=not_before or now, dedupe_key=dedupe_key,
                       created_at=now)
    session.add(row)
    session.flush()
    return row.id


def cancel_pending(session: Session, *, dedupe_prefix: str, now: datetime) -> int:
    """Cancel every unsent message whose dedupe key starts with the prefix (a moved or cancelled appointment)."""
    if not dedupe_prefix:
        raise ValueError("an empty prefix would cancel everything")
    escaped = dedupe_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    result = session.execute(
        update(Notification)
        .where(Notification.status == "pending", Notification.dedupe_key.like(escaped + "%", escape="\\"))
        .values(status="cancelled", last_error=f"cancelled at {now.isoformat()}", locked_until=None)
        .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)
