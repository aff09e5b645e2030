"""Sliding-window request limits kept in the database, so several API processes share one count.

Each counted request is a row in `rate_hits`; a request is refused (429 with Retry-After) when the
window already holds `limit` rows for its bucket. Only admitted requests are recorded, so a client
that keeps hammering is let in again as soon as its oldest admitted request leaves the window. Two
processes admitting at the same instant may each see `limit - 1` and overshoot by one: a limit here
is a guard against abuse, not a quota to bill by.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from carebridge.contexts.integrations.models import RateHit
from carebridge.kernel.errors import TooManyRequests
from carebridge.kernel.ids import new_id


def address_bucket(scope: str, client_address: str | None) -> str:
    """A bucket for one client address; the address itself is not stored, only a digest of it."""
    digest = hashlib.sha256((client_address or "unknown").encode()).hexdigest()[:40]
    return f"{scope[:30]}:{digest}"


def hit(session: Session, *, bucket: str, limit: int, window_seconds: int, now: datetime,
        what: str = "requests") -> None:
    """Count one request in `bucket`, or raise 429 saying how long to wait."""
    since = now - timedelta(seconds=window_seconds)
    times = session.execute(
        select(RateHit.at).where(RateHit.bucket == bucket, RateHit.at > since).order_by(RateHit.at.asc())
        .limit(limit)
    ).scalars().all()
    if len(times) >= limit:
        wait = max(1, math.ceil((times[0] + timedelta(seconds=window_seconds) - now).total_seconds()))
        raise TooManyRequests(f"too many {what}: at most {limit} per {window_seconds} s; try again in {wait} s",
                              retry_after=wait, slug="rate-limited")
    session.add(RateHit(id=new_id(), bucket=bucket, at=now))
    session.flush()


def purge_hits(session: Session, *, before: datetime) -> int:
    """Forget hits older than every window in use (the caller passes now minus the longest window)."""
    result = session.execute(delete(RateHit).where(RateHit.at < before).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)
