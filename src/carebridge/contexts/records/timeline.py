"""The patient timeline: one keyset range scan over the denormalised `timeline_entries` index.

Newest first, ordered by (occurred_at, id), so a page costs the same for the first and the hundredth page and
for a patient with ten entries or ten thousand; the indexes (patient_id, occurred_at, id) and
(patient_id, kind, occurred_at, id) serve the unfiltered and the kind-filtered scans.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts import audit
from carebridge.contexts.records.entries import cursor_keys
from carebridge.contexts.records.guard import authorize, bad
from carebridge.contexts.records.models import TimelineEntry
from carebridge.contexts.records.schemas import TimelineEntryRead, TimelinePage
from carebridge.contexts.records.vocab import RecordKind
from carebridge.kernel.pagination import decode_cursor, encode_cursor
from carebridge.security import Permission, Principal


def read_timeline(session: Session, *, patient_id: uuid.UUID, limit: int, cursor: str | None = None,
                  kinds: Sequence[RecordKind] = (), from_: datetime | None = None,
                  to: datetime | None = None) -> TimelinePage:
    """The page itself, without policy or audit: for callers that have already authorized (the summary)."""
    if from_ is not None and to is not None and from_ > to:
        raise bad("from", "must not be after `to`", "query")
    q = select(TimelineEntry).where(TimelineEntry.patient_id == patient_id)
    if kinds:
        q = q.where(TimelineEntry.kind.in_([k.value for k in kinds]))
    if from_ is not None:
        q = q.where(TimelineEntry.occurred_at >= from_)
    if to is not None:
        q = q.where(TimelineEntry.occurred_at < to)
    keys = decode_cursor(cursor, arity=2)
    if keys is not None:
        at, rid = cursor_keys(keys)
        q = q.where((TimelineEntry.occurred_at < at)
                    | ((TimelineEntry.occurred_at == at) & (TimelineEntry.id < rid)))
    rows = session.scalars(q.order_by(TimelineEntry.occurred_at.desc(), TimelineEntry.id.desc())
                           .limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = encode_cursor([rows[-1].occurred_at.isoformat(), str(rows[-1].id)]) if more else None
    return TimelinePage(items=[TimelineEntryRead.model_validate(r) for r in rows], next_cursor=nxt, limit=limit)


def get_timeline(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime, limit: int,
                 cursor: str | None = None, kinds: Sequence[RecordKind] = (), from_: datetime | None = None,
                 to: datetime | None = None) -> TimelinePage:
    authorize(session, principal, patient_id, Permission.record_read, now=now)
    page = read_timeline(session, patient_id=patient_id, limit=limit, cursor=cursor, kinds=kinds, from_=from_,
                         to=to)
    audit.record(session, principal, action="search", resource_type="Timeline", patient_id=patient_id,
                 detail={"count": len(page.items), "kinds": [k.value for k in kinds]}, at=now)
    return page
