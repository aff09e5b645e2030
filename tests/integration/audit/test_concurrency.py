"""Concurrent writers, in separate processes or threads, still build one complete, valid chain.

These run against real, committed databases created for the test (not the per-test SAVEPOINT,
which would serialise everything on one connection) and removed afterwards.
"""

from __future__ import annotations

import itertools
import multiprocessing
import queue
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from carebridge.contexts.audit import service as audit
from carebridge.contexts.audit.models import AuditCheckpoint, AuditEntry
from carebridge.kernel.db import Database
from tests.integration.audit.helpers import KEY, committed_database
from tests.integration.audit.workers import (
    CHECKPOINT_EVERY,
    append_in_small_transactions,
    open_database,
    process_main,
)

PROCESSES = 3
TRANSACTIONS = 150  # 1-3 entries each: about 300 entries per process


def _check_one_chain(url: str, written: dict[int, list[str]]) -> None:
    expected = [rid for rids in written.values() for rid in rids]
    db = Database(url, pool_size=2)
    try:
        report = audit.verify(db.transaction, [KEY.public_key()], batch=500)
        with db.transaction() as s:
            count = audit.count_entries(s)
            order = list(s.execute(select(AuditEntry.resource_id).order_by(AuditEntry.seq)).scalars())
            signed = list(s.execute(select(AuditCheckpoint.seq)).scalars())
    finally:
        db.dispose()
    assert report.ok, report
    assert count == report.entries_checked == len(expected)
    assert sorted(order) == sorted(expected)  # nothing lost, nothing doubled
    assert len(signed) >= len(expected) // (CHECKPOINT_EVERY + 3) and report.checkpoints_checked == len(signed)
    owners = [rid.split("-")[0] for rid in order]
    switches = sum(1 for a, b in itertools.pairwise(owners) if a != b)
    assert switches >= len(written), "the writers never overlapped: this run did not test concurrency"


def _run_processes(url: str) -> dict[int, list[str]]:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    procs = [ctx.Process(target=process_main, args=(url, w, TRANSACTIONS, start, results)) for w in range(PROCESSES)]
    for p in procs:
        p.start()
    written: dict[int, list[str]] = {}
    try:
        for _ in procs:
            worker, outcome = results.get(timeout=300)
            assert isinstance(outcome, list), f"writer {worker} failed: {outcome}"
            written[worker] = outcome
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.terminate()
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    return written


KINDS = [pytest.param("sqlite", id="sqlite"), pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("kind", KINDS)
def test_processes_appending_at_once_build_one_valid_chain(kind: str, tmp_path: Path) -> None:
    with committed_database(kind, tmp_path) as url:
        _check_one_chain(url, _run_processes(url))


@pytest.mark.postgres
def test_processes_racing_to_create_the_head_row_do_not_collide(tmp_path: Path) -> None:
    """Tables from the models alone (no seeded head row): every process's first append may try to create it."""
    with committed_database("postgresql", tmp_path, migrate=False) as url:
        _check_one_chain(url, _run_processes(url))


def test_threads_sharing_a_sqlite_file_in_wal_mode_build_one_valid_chain(tmp_path: Path) -> None:
    with committed_database("sqlite", tmp_path) as url:
        db = open_database(url)
        try:
            with db.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            start = threading.Barrier(4)
            results: queue.Queue[tuple[int, list[str] | BaseException]] = queue.Queue()

            def run(worker: int) -> None:
                try:
                    start.wait(timeout=60)
                    results.put((worker, append_in_small_transactions(db, worker, 60)))
                except BaseException as exc:
                    results.put((worker, exc))

            threads = [threading.Thread(target=run, args=(w,)) for w in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=300)
        finally:
            db.dispose()
        written: dict[int, list[str]] = {}
        while not results.empty():
            worker, outcome = results.get()
            assert isinstance(outcome, list), f"writer {worker} failed: {outcome!r}"
            written[worker] = outcome
        assert len(written) == 4
        _check_one_chain(url, written)
