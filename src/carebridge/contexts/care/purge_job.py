"""Deleting expired care requests while the service runs, so "kept transiently" needs no cron entry.

Expired requests already vanish from every read at once; this only removes their rows. `carebridge care purge`
does the same on demand.
"""

from __future__ import annotations

import asyncio
import logging

from carebridge.contexts.care.service import purge_expired
from carebridge.kernel.background import BackgroundLoop
from carebridge.kernel.clock import Clock
from carebridge.kernel.db import Database

log = logging.getLogger("carebridge.care")


class PurgeJob(BackgroundLoop):
    def __init__(self, database: Database, clock: Clock, *, every_seconds: float = 600.0) -> None:
        self.database, self.clock, self.every_seconds = database, clock, every_seconds
        self._task: asyncio.Task[None] | None = None

    def run_once(self) -> int:
        with self.database.unit_of_work() as session:
            return purge_expired(session, now=self.clock.now())

    async def run_forever(self) -> None:
        while True:
            try:
                gone = await asyncio.to_thread(self.run_once)
                if gone:
                    log.info("purged expired care requests", extra={"count": gone})
            except Exception:
                log.exception("purging expired care requests failed; trying again later")
            await asyncio.sleep(self.every_seconds)
