"""A user's inbox and preferences, and the operators' view of delivery status."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from carebridge.contexts.notifications.models import InboxMessage, Notification, NotificationPreference
from carebridge.contexts.notifications.schemas import (
    DeliveryPage,
    DeliveryStatus,
    InboxItem,
    InboxPage,
    Preferences,
)
from carebridge.kernel.errors import NotFound, ValidationProblem
from carebridge.kernel.pagination import decode_cursor, encode_cursor
from carebridge.security import Permission, Principal, require


def _after(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    raw = decode_cursor(cursor, arity=2)
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(str(raw[0])), uuid.UUID(str(raw[1]))
    except ValueError as exc:
        raise ValidationProblem("cursor is not one this server issued",
                                errors=[{"field": "cursor", "in": "query", "message": "malformed"}]) from exc


def inbox(session: Session, principal: Principal, *, limit: int, cursor: str | None,
          unread_only: bool = False) -> InboxPage:
    """Newest first, keyset-paged; a user only ever sees their own messages."""
    stmt = select(InboxMessage).where(InboxMessage.user_id == principal.user_id)
    if unread_only:
        stmt = stmt.where(InboxMessage.read_at.is_(None))
    after = _after(cursor)
    if after is not None:
        stmt = stmt.where(or_(InboxMessage.created_at < after[0],
                              and_(InboxMessage.created_at == after[0], InboxMessage.id < after[1])))
    rows = list(session.scalars(stmt.order_by(InboxMessage.created_at.desc(), InboxMessage.id.desc())
                                .limit(limit + 1)))
    more, rows = len(rows) > limit, rows[:limit]
    unread = int(session.scalar(select(func.count()).select_from(InboxMessage).where(
        InboxMessage.user_id == principal.user_id, InboxMessage.read_at.is_(None))) or 0)
    return InboxPage(items=[InboxItem(id=r.id, subject=r.subject, body=r.body, created_at=r.created_at,
                                      read_at=r.read_at) for r in rows], unread=unread,
                     next_cursor=encode_cursor([rows[-1].created_at.isoformat(), str(rows[-1].id)])
                     if more and rows else None)


def mark_read(session: Session, principal: Principal, *, message_id: uuid.UUID, now: datetime) -> InboxItem:
    row = session.get(InboxMessage, message_id)
    if row is None or row.user_id != principal.user_id:
        raise NotFound("no such message in your inbox")
    row.read_at = row.read_at or now
    return InboxItem(id=row.id, subject=row.subject, body=row.body, created_at=row.created_at, read_at=row.read_at)


def get_preferences(session: Session, principal: Principal) -> Preferences:
    row = session.get(NotificationPreference, principal.user_id)
    if row is None:
        return Preferences()
    return Preferences.model_validate({"channels": row.channels or ["in_app", "email", "sms"],
                                       "language": row.language, "quiet_start": row.quiet_start,
                                       "quiet_end": row.quiet_end, "time_zone": row.time_zone})


def set_preferences(session: Session, principal: Principal, *, data: Preferences, now: datetime) -> Preferences:
    row = session.get(NotificationPreference, principal.user_id)
    if row is None:
        row = NotificationPreference(user_id=principal.user_id)
        session.add(row)
    row.channels, row.language = list(data.channels), data.language
    row.quiet_start, row.quiet_end, row.time_zone, row.updated_at = (data.quiet_start, data.quiet_end,
                                                                     data.time_zone, now)
    return data


def delivery_status(session: Session, principal: Principal, *, status: str | None, limit: int,
                    cursor: str | None) -> DeliveryPage:
    """Operations: what was queued, sent, failed — without message content or contact details."""
    require(principal, Permission.events_watch)
    stmt = select(Notification)
    if status is not None:
        stmt = stmt.where(Notification.status == status)
    after = _after(cursor)
    if after is not None:
        stmt = stmt.where(or_(Notification.created_at < after[0],
                              and_(Notification.created_at == after[0], Notification.id < after[1])))
    rows = list(session.scalars(stmt.order_by(Notification.created_at.desc(), Notification.id.desc())
                                .limit(limit + 1)))
    more, rows = len(rows) > limit, rows[:limit]
    return DeliveryPage(
        items=[DeliveryStatus(id=r.id, template=r.template, status=r.status, attempts=r.attempts,
                              channels=list(r.channels or []), next_attempt_at=r.next_attempt_at, sent_at=r.sent_at,
                              last_error=r.last_error, created_at=r.created_at) for r in rows],
        next_cursor=encode_cursor([rows[-1].created_at.isoformat(), str(rows[-1].id)]) if more and rows else None)
