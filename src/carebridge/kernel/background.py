"""The lifecycle every in-process background job shares: started in the app's lifespan, cancelled at shutdown.

The jobs (care-request purge, notification delivery, prescription re-checks and reminders, monitoring
maintenance) differ in what one round does and how often; starting, cancelling and awaiting the loop, and
running a round off the event loop behind the SQLite write gate, are the same for all, so they live here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TypeVar

from carebridge.kernel.db import Database

T = TypeVar("T")


class BackgroundLoop:
    """Subclasses define `run_forever()`, a loop that sleeps between rounds; `start`/`stop` run and cancel it."""

    _task: asyncio.Task[None] | None = None

    async def run_forever(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


async def run_in_thread_gated(database: Database, round_: Callable[[], T]) -> T:
    """One round in a worker thread; on SQLite behind the per-process gate of request transactions, so the
    round's writes queue behind (not beside) the requests' on the single write lock."""
    gate = database.sqlite_gate() if database.is_sqlite else None
    if gate is None:
        return await asyncio.to_thread(round_)
    async with gate:
        return await asyncio.to_thread(round_)
