"""Code run in other processes and threads by the concurrency tests (importable, so `spawn` can find it)."""

from __future__ import annotations

import random
import time
from typing import Any

from sqlalchemy import text

from carebridge.contexts.audit import service as audit
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from tests.integration.audit.helpers import SIGNER, T0

CHECKPOINT_EVERY = 40


def append_in_small_transactions(db: Database, worker: int, transactions: int) -> list[str]:
    """1-3 entries per transaction; returns the resource ids written, so the test can check none is lost.

    A pause of up to a millisecond between transactions, as between a client's requests: without it a writer
    that commits and at once begins again can keep SQLite's lock from the others past their 30 s busy timeout
    (its busy handler polls, it does not queue), which tests the machine's scheduler, not the chain.
    """
    rng = random.Random(worker)
    written = []
    for t in range(transactions):
        with db.unit_of_work() as s:
            for j in range(rng.randint(1, 3)):
                rid = f"w{worker}-t{t}-{j}"
                audit.record(s, None, action="read", resource_type="probe", resource_id=rid, at=T0)
                written.append(rid)
        time.sleep(rng.random() / 1000)
    return written


def open_database(url: str) -> Database:
    db = Database(url, pool_size=4)
    audit.install(db.sessions, SIGNER, checkpoint_every=CHECKPOINT_EVERY, clock=FixedClock(T0))
    return db


def process_main(url: str, worker: int, transactions: int, start: Any, results: Any) -> None:
    """Entry point of one writer process: wait for the others, append, report what was written."""
    db = open_database(url)
    try:
        with db.engine.connect() as conn:  # connect (WAL pragmas, first-connect checks) before the race, not in it
            conn.execute(text("SELECT 1"))
        start.wait(timeout=120)
        results.put((worker, append_in_small_transactions(db, worker, transactions)))
    except BaseException as exc:
        results.put((worker, f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        db.dispose()
