"""Domain events through a transactional outbox: written with the change, published after commit.

The in-process bus is the embedded default; NATS JetStream and Kafka publishers (monitoring issue)
read the same outbox table, so an event exists if and only if its change committed.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from carebridge.kernel.db import Base, utcnow
from carebridge.kernel.ids import new_id


class OutboxEvent(Base):
    __tablename__ = "outbox_events"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(100), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    attempts: Mapped[int] = mapped_column(default=0)


def emit(session: Session, event_type: str, payload: dict[str, Any]) -> OutboxEvent:
    event = OutboxEvent(id=new_id(), type=event_type, payload=payload, created_at=utcnow())
    session.add(event)
    return event
