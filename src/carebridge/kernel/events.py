"""Domain events through a transactional outbox: written with the change, published after commit.

`emit` adds the event to the caller's transaction, so an event exists if and only if its change committed.
The relay (`kernel.relay`) publishes committed events to the configured bus (`kernel.bus`: in-process by
default, NATS JetStream or Kafka in production) and marks them published. A commit that carried events
wakes the relays of this process at once (`add_commit_listener`), so live views do not wait for the next poll.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Mapped, Session, mapped_column

from carebridge.kernel import deferred_rows
from carebridge.kernel.db import Base, utcnow
from carebridge.kernel.ids import new_id

_HOOKED_KEY = "carebridge_outbox_hooked"
_COMMIT_LISTENERS: list[Callable[[], None]] = []


class OutboxEvent(Base):
    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_pending", "published_at", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(100), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    # a relay that claimed the event holds it until then; after a crash another relay takes it over
    locked_until: Mapped[datetime | None] = mapped_column(default=None)


def add_commit_listener(listener: Callable[[], None]) -> None:
    """Called (from whatever thread committed) after every commit that carried at least one event."""
    _COMMIT_LISTENERS.append(listener)


def remove_commit_listener(listener: Callable[[], None]) -> None:
    if listener in _COMMIT_LISTENERS:
        _COMMIT_LISTENERS.remove(listener)


def _after_commit(session: Session) -> None:
    session.info.pop(_HOOKED_KEY, None)
    for listener in tuple(_COMMIT_LISTENERS):
        listener()


def emit(session: Session, event_type: str, payload: dict[str, Any]) -> uuid.UUID:
    """Queues the event in the caller's transaction; its id."""
    event_id = new_id()
    deferred_rows.add(session, OutboxEvent, {"id": event_id, "type": event_type, "payload": payload,
                                             "created_at": utcnow(), "published_at": None, "attempts": 0,
                                             "locked_until": None})
    if not session.info.get(_HOOKED_KEY):
        session.info[_HOOKED_KEY] = True
        # once: a rolled-back session keeps it for its next commit, which at worst wakes a relay for nothing
        sa_event.listen(session, "after_commit", _after_commit, once=True)
    return event_id
