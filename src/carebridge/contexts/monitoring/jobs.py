"""The monitoring job inside the server, so escalation, rollups and retention need no cron entry (the same
shape as the care-requests purge job; `carebridge monitoring escalate|maintain` do the same on demand).

Every `every_seconds`: escalate alerts left unacknowledged (telling the care team again) and rebuild the
pending rollups. Every `maintenance_seconds`: create the PostgreSQL day partitions ahead and apply the
retention. Each step is its own transaction and takes an advisory lock on PostgreSQL, so several API
processes never run a step twice at once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from carebridge.contexts.monitoring import alerts, partitions, retention, rollups
from carebridge.kernel.background import BackgroundLoop
from carebridge.kernel.clock import Clock
from carebridge.kernel.db import Database

log = logging.getLogger("carebridge.monitoring")


@dataclass(frozen=True, slots=True)
class Retention:
    raw_days: int = 30
    minute_days: int = 400
    hour_days: int = 3650


@dataclass(frozen=True, slots=True)
class JobReport:
    escalated: int
    rolled_up: int
    partitions_created: int
    retention: retention.RetentionReport | None


class MonitoringJob(BackgroundLoop):
    def __init__(self, database: Database, clock: Clock, *, keep: Retention = Retention(),
                 every_seconds: float = 60.0, maintenance_seconds: float = 3600.0) -> None:
        self.database, self.clock, self.keep = database, clock, keep
        self.every_seconds, self.maintenance_seconds = every_seconds, maintenance_seconds
        self._last_maintenance: datetime | None = None
        self._task: asyncio.Task[None] | None = None

    def escalate(self) -> int:
        with self.database.unit_of_work() as session:
            return alerts.escalate_overdue(session, now=self.clock.now()) if partitions.try_lock(session) else 0

    def roll_up(self) -> int:
        with self.database.unit_of_work() as session:
            return rollups.refresh_rollups(session) if partitions.try_lock(session) else 0

    def maintain(self) -> tuple[int, retention.RetentionReport | None]:
        now = self.clock.now()
        with self.database.unit_of_work() as session:
            if not partitions.try_lock(session):
                return 0, None
            created = partitions.ensure_partitions(session, now=now)
            report = retention.apply_retention(session, now=now, raw_days=self.keep.raw_days,
                                               minute_days=self.keep.minute_days, hour_days=self.keep.hour_days)
        self._last_maintenance = now
        return len(created), report

    def run_once(self) -> JobReport:
        escalated = self.escalate()
        rolled = self.roll_up()
        created, report = 0, None
        last = self._last_maintenance
        if last is None or (self.clock.now() - last).total_seconds() >= self.maintenance_seconds:
            created, report = self.maintain()
        return JobReport(escalated, rolled, created, report)

    async def run_forever(self) -> None:
        while True:
            try:
                report = await asyncio.to_thread(self.run_once)
                if report.escalated or report.partitions_created:
                    log.info("monitoring job", extra={"escalated": report.escalated,
                                                      "partitions": report.partitions_created})
            except Exception:
                log.exception("the monitoring job failed; trying again later")
            await asyncio.sleep(self.every_seconds)
