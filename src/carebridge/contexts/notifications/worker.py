"""Delivering the outbox: at least once, with retries and backoff, within each user's preferences.

The worker leases a batch of due messages (`locked_until`; `FOR UPDATE SKIP LOCKED` on PostgreSQL, so
workers in several processes never take the same row at once), then delivers each in its own transaction.
A message goes to every wanted channel that can reach its recipient; channels that already took it are
remembered (`channels`), so a retry after a partial failure never sends twice where it already arrived.
A failure counts an attempt and backs off exponentially (with jitter) until `max_attempts`, then the message
is `failed` with the last error kept. Quiet hours defer a message to their end, unless its template is urgent.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from carebridge.contexts.notifications.channels import Channel, DeliveryError, Outgoing
from carebridge.contexts.notifications.models import DeliveryAttempt, Notification, NotificationPreference
from carebridge.contexts.notifications.templates import DEFAULT_LANGUAGE, get_template, render
from carebridge.kernel.background import BackgroundLoop
from carebridge.kernel.clock import Clock
from carebridge.kernel.db import Database
from carebridge.kernel.ids import new_id

log = logging.getLogger("carebridge.notifications")
LEASE = timedelta(minutes=2)
DEFAULT_CHANNELS = ("in_app", "email", "sms")


@dataclass(frozen=True, slots=True)
class Backoff:
    base_seconds: float = 30.0
    cap_seconds: float = 3600.0
    jitter: float = 0.2

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        """attempts 1, 2, 3 … wait about base, 2·base, 4·base … (never above the cap), ±jitter."""
        raw = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        return timedelta(seconds=raw * (1 + rng.uniform(-self.jitter, self.jitter)))


def quiet_until(pref: NotificationPreference | None, now: datetime) -> datetime | None:
    """The end of the recipient's quiet hours if `now` falls inside them (windows may cross midnight)."""
    if pref is None or not pref.quiet_start or not pref.quiet_end:
        return None
    zone = ZoneInfo(pref.time_zone)
    local = now.astimezone(zone)
    start, end = time.fromisoformat(pref.quiet_start), time.fromisoformat(pref.quiet_end)
    if start == end:
        return None
    t = local.time().replace(tzinfo=None)
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside:
        return None
    day = local.date() if (start < end or t < end) else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone).astimezone(now.tzinfo)


def claim(database: Database, *, now: datetime, limit: int) -> list[Notification]:
    with database.unit_of_work() as session:
        rows = list(session.scalars(
            select(Notification)
            .where(Notification.status == "pending", Notification.next_attempt_at <= now,
                   or_(Notification.locked_until.is_(None), Notification.locked_until < now))
            .order_by(Notification.next_attempt_at, Notification.id).limit(limit)
            .with_for_update(skip_locked=True)))
        if rows:
            session.execute(update(Notification).where(Notification.id.in_([r.id for r in rows]))
                            .values(locked_until=now + LEASE))
    return rows


@dataclass
class Delivery:
    channels: Sequence[Channel]
    max_attempts: int = 5
    backoff: Backoff = field(default_factory=Backoff)
    rng: random.Random = field(default_factory=random.Random)  # jitter only, not security

    def deliver(self, session: Session, n: Notification, *, now: datetime, language: str | None = None) -> str:
        """One message, in the caller's transaction; answers its status afterwards."""
        pref = session.get(NotificationPreference, n.user_id) if n.user_id is not None else None
        template = get_template(n.template)
        if template is None:
            return self._fail(session, n, now, "no template registered under this key", final=True)
        later = None if n.urgent else quiet_until(pref, now)
        if later is not None:
            n.next_attempt_at, n.locked_until = later, None
            return n.status
        lang = (pref.language if pref and pref.language else None) or language or DEFAULT_LANGUAGE
        subject, body = render(template, lang, n.params)
        wanted = set(pref.channels) if pref and pref.channels else set(DEFAULT_CHANNELS)
        wanted.add("log")
        done = set(n.channels or [])
        reach = [c for c in self.channels if c.name in wanted and c.can_reach(n)]
        if not any(c.name != "log" for c in reach):
            return self._fail(session, n, now, "no configured channel reaches this recipient", final=True)
        errors = []
        for channel in reach:
            if channel.name in done:
                continue
            try:
                with session.begin_nested():
                    channel.send(session, Outgoing(n, subject, body, lang))
            except DeliveryError as exc:
                errors.append(f"{channel.name}: {exc}")
                session.add(DeliveryAttempt(id=new_id(), notification_id=n.id, channel=channel.name, at=now, ok=False,
                                            error=str(exc)[:500]))
                continue
            done.add(channel.name)
            session.add(DeliveryAttempt(id=new_id(), notification_id=n.id, channel=channel.name, at=now, ok=True))
        n.channels = sorted(done)
        if errors:
            return self._fail(session, n, now, "; ".join(errors), final=False)
        n.status, n.sent_at, n.locked_until, n.last_error = "sent", now, None, None
        return n.status

    def _fail(self, session: Session, n: Notification, now: datetime, error: str, *, final: bool) -> str:
        n.attempts += 1
        n.last_error = error[:500]
        n.locked_until = None
        if final or n.attempts >= self.max_attempts:
            n.status = "failed"
        else:
            n.next_attempt_at = now + self.backoff.delay(n.attempts, self.rng)
        return n.status


class NotificationWorker(BackgroundLoop):
    """Runs `run_once` every `poll_seconds` (the service's lifespan task, or `carebridge notifications worker`)."""

    def __init__(self, database: Database, delivery: Delivery, *, clock: Clock, poll_seconds: float = 2.0,
                 batch: int = 100) -> None:
        self.database, self.delivery, self.clock = database, delivery, clock
        self.poll_seconds, self.batch = poll_seconds, batch
        self._task: asyncio.Task[None] | None = None

    def run_once(self) -> int:
        """Delivers what is due now; the number of messages handled (sent, failed or deferred)."""
        now = self.clock.now()
        handled = 0
        for leased in claim(self.database, now=now, limit=self.batch):
            with self.database.unit_of_work() as session:
                n = session.get(Notification, leased.id)
                if n is None or n.status != "pending":
                    continue
                self.delivery.deliver(session, n, now=now)
                handled += 1
        return handled

    async def run_forever(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:
                log.exception("the notification worker failed a round; it tries again")
            await asyncio.sleep(self.poll_seconds)
