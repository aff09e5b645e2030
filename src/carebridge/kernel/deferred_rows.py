"""Rows a unit of work writes and never reads back as objects, inserted as plain rows in one statement a table.

An import writes about six bookkeeping rows per resource (its first history version, the body as received,
the timeline entry, the outbox event, the row of a type kept as JSON). As ORM objects each one costs its
instance state, attribute events and the flush's per-object bookkeeping: about a third of the writer's CPU.
Queued here they are handed to the driver as one executemany per table, with the same visibility as pending
ORM objects:

* they are written after the ORM's own rows at each flush (a timeline row's patient is inserted first), before
  an ORM statement that would autoflush, before a SAVEPOINT (so rolling back to it keeps them) and at commit;
* a rollback drops what is still queued, a rollback to a SAVEPOINT drops what was queued since it began.

Only a session that asked for it (`enable`) queues; elsewhere `add` adds the ORM object as before, so the
behaviour of every other caller is unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Table, event, insert
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from carebridge.kernel.db import Base

_QUEUE = "deferred_rows"
_QUEUED = "deferred_rows_queued"
_MARKS = "deferred_rows_savepoints"


def enable(session: Session) -> Callable[[], None]:
    """Queue this session's `add`s until they must be written; returns the call that stops it (after commit)."""
    connection = session.connection()
    session.info[_QUEUE] = []
    session.info[_MARKS] = {}
    session.info.setdefault(_QUEUED, 0)

    def before_savepoint(_conn: Connection, _name: str | None) -> None:
        """SQLAlchemy emits a SAVEPOINT at its first statement: what was queued before it goes in first."""
        nested = session.get_nested_transaction()
        _write(session, connection, upto=session.info[_MARKS].get(nested) if nested is not None else None)

    def before_orm_statement(state: ORMExecuteState) -> None:
        if state.is_orm_statement and session.autoflush and session.info.get(_QUEUE):
            session.flush()  # the ORM's rows first; the flush's end writes the queue
            _write(session, session.connection())

    listeners: tuple[tuple[Any, str, Callable[..., None]], ...] = (
        (connection, "savepoint", before_savepoint), (session, "do_orm_execute", before_orm_statement),
        (session, "after_flush", _after_flush), (session, "before_commit", _before_commit),
        (session, "after_transaction_create", _mark), (session, "after_soft_rollback", _after_rollback),
        (session, "after_transaction_end", _unmark))
    for target, name, fn in listeners:
        event.listen(target, name, fn)

    def stop() -> None:
        for target, name, fn in listeners:
            event.remove(target, name, fn)
        session.info.pop(_QUEUE, None)
        session.info.pop(_MARKS, None)

    return stop


def add(session: Session, model: type[Base], values: dict[str, Any]) -> None:
    """One row of `model`'s table; `values` by attribute name (= column name), a column left out takes its default."""
    queue: list[tuple[Table, dict[str, Any]]] | None = session.info.get(_QUEUE)
    if queue is None:
        session.add(model(**values))
        return
    queue.append((model.__table__, values))  # type: ignore[arg-type]  # declarative models have a Table
    session.info[_QUEUED] += 1


def queued(session: Session) -> int:
    """Rows ever queued in this session: a growing number means something was written."""
    count: int = session.info.get(_QUEUED, 0)
    return count


def _write(session: Session, connection: Connection, upto: int | None = None) -> None:
    queue: list[tuple[Table, dict[str, Any]]] | None = session.info.get(_QUEUE)
    rows = queue[:upto] if queue else None
    if not queue or not rows:
        return
    del queue[:len(rows)]
    marks: dict[SessionTransaction, int] = session.info[_MARKS]
    for transaction, mark in marks.items():
        marks[transaction] = max(0, mark - len(rows))
    groups: dict[tuple[Table, tuple[str, ...]], list[dict[str, Any]]] = {}
    for table, values in rows:
        groups.setdefault((table, tuple(values)), []).append(values)
    order = _table_order()
    for (table, _keys), batch in sorted(groups.items(), key=lambda g: order[g[0][0].name]):
        connection.execute(insert(table), batch)


def _table_order() -> dict[str, int]:
    """Tables in foreign-key order: a queued row that names another queued row goes after it.

    Keyed by the number of tables so a model imported after the first write is ordered too.
    """
    return _order_for(len(Base.metadata.tables))


@functools.cache
def _order_for(_table_count: int) -> dict[str, int]:
    return {t.name: i for i, t in enumerate(Base.metadata.sorted_tables)}


def _after_flush(session: Session, _context: object) -> None:
    _write(session, session.connection())


def _before_commit(session: Session) -> None:
    if session.info.get(_QUEUE):
        session.flush()
        _write(session, session.connection())


def _mark(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested and _QUEUE in session.info:
        session.info[_MARKS][transaction] = len(session.info[_QUEUE])


def _after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    """A rollback drops the queue; a rollback to a SAVEPOINT, what was queued since it began."""
    queue: list[Any] | None = session.info.get(_QUEUE)
    if queue is None:
        return
    if previous_transaction.parent is None:
        queue.clear()
        return
    mark = session.info[_MARKS].get(previous_transaction)
    if mark is not None:
        del queue[mark:]


def _unmark(session: Session, transaction: SessionTransaction) -> None:
    """At the root's end: a SAVEPOINT's own end comes before its `after_soft_rollback`, so its mark lives on."""
    marks: dict[SessionTransaction, int] | None = session.info.get(_MARKS)
    if marks is not None and transaction.parent is None:
        marks.clear()
