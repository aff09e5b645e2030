"""Database engine, declarative base and the unit of work.

SQLite is the embedded default, PostgreSQL the production engine; both run the same models.
On SQLite every transaction starts with BEGIN IMMEDIATE: nearly every request that touches
patient data writes an audit entry, and a deferred transaction that later upgrades to a writer
fails outright (SQLITE_BUSY_SNAPSHOT) instead of waiting its turn.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, DateTime, Engine, MetaData, TypeDecorator, Uuid, create_engine, event, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from carebridge.kernel import json_codec

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always hands back aware UTC values (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime(), uuid.UUID: Uuid()}


READ_ONLY_OPTION = "carebridge_read_only"


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": None},
            pool_size=pool_size,
            max_overflow=20,
            json_serializer=json_codec.dumps,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # read-only units of work (READ_ONLY_OPTION) begin deferred: in WAL mode they never wait for a writer
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY_OPTION) else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, echo=echo, pool_size=pool_size, max_overflow=20, pool_pre_ping=True,
                         json_serializer=json_codec.dumps)


class Database:
    """An engine plus its session factory; one per application (or per test database)."""

    def __init__(self, url: str, *, pool_size: int = 10, info: dict[str, Any] | None = None,
                 engine: Engine | None = None, bind: Connection | None = None) -> None:
        self.url = url
        self._gate: asyncio.Lock | asyncio.Semaphore | None = None
        self._gate_loop: asyncio.AbstractEventLoop | None = None
        self.engine = engine or make_engine(url, pool_size=pool_size)
        self.bound = bind is not None
        if bind is not None:
            # Tests: every unit of work becomes a SAVEPOINT inside one outer transaction rolled back per test.
            self.sessions = sessionmaker(bind=bind, expire_on_commit=False, autoflush=True, info=info or {},
                                         join_transaction_mode="create_savepoint")
            self._read_sessions = self.sessions
        else:
            self.sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=True, info=info or {})
            self._read_sessions = sessionmaker(self.engine.execution_options(**{READ_ONLY_OPTION: True}),
                                               expire_on_commit=False, autoflush=False, info=info or {})

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def sqlite_gate(self) -> asyncio.Lock | asyncio.Semaphore | None:
        """The per-process, per-event-loop gate of request transactions: a lock serialising SQLite's; elsewhere
        a semaphore of half the pool, so a request never waits for a pooled connection on the event-loop thread
        (which would deadlock: the connections are handed back on that same thread) and each may open a second
        connection (the audit entry of a refusal). None for test databases bound to one connection."""
        if not self.is_sqlite and self.bound:
            return None
        loop = asyncio.get_running_loop()
        if self._gate is None or self._gate_loop is not loop:
            if self.is_sqlite:
                self._gate = asyncio.Lock()
            else:
                pool = self.engine.pool
                capacity = int(getattr(pool, "size", lambda: 10)()) + int(getattr(pool, "_max_overflow", 0))
                self._gate = asyncio.Semaphore(max(1, capacity // 2))
            self._gate_loop = loop
        return self._gate

    @contextmanager
    def unit_of_work(self, info: dict[str, Any] | None = None) -> Iterator[Session]:
        """One transaction: commit on success, roll back on any error.

        Work that must survive a rollback (the audit entry of a refused access) registers a callable
        in `session.info["after_rollback"]`; it runs in a fresh transaction once the failed one is gone.
        """
        session = self.sessions()
        if info:
            session.info.update(info)
        try:
            with session.begin():
                yield session
        except BaseException:
            hooks = list(session.info.get("after_rollback", ()))
            session.close()
            for hook in hooks:
                with self.sessions() as fresh, fresh.begin():
                    hook(fresh)
            raise
        finally:
            session.close()

    @contextmanager
    def read_only(self, info: dict[str, Any] | None = None) -> Iterator[Session]:
        """A transaction that only reads and is always rolled back: on SQLite it begins deferred, so it neither
        takes the write lock nor waits for it. Whatever it queues for the audit trail is the caller's to hand
        on (`audit` group commit); nothing written in it is kept."""
        session = self._read_sessions()
        session.info.update(self.sessions.kw.get("info") or {})
        if info:
            session.info.update(info)
        try:
            yield session
        finally:
            session.close()  # rolls back

    def transaction(self) -> AbstractContextManager[Session]:
        """A unit of work for jobs and CLIs."""
        return self.unit_of_work()

    def dispose(self) -> None:
        self.engine.dispose()


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- finding rows by id without flushing what is pending

PENDING_BY_ID_KEY = "carebridge_pending_by_id"
MISSING_KEY = "carebridge_missing_by_id"
T = TypeVar("T")


@event.listens_for(Session, "transient_to_pending")
def _remember_pending(session: Session, instance: object) -> None:
    ident = getattr(instance, "id", None)
    if ident is not None:  # an id given at construction (kernel.ids.new_id): others may already hold it
        session.info.setdefault(PENDING_BY_ID_KEY, {})[(type(instance), ident)] = instance


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_flush_postexec")
def _forget_flushed(session: Session, _context: object = None) -> None:
    session.info.pop(PENDING_BY_ID_KEY, None)
    session.info.pop(MISSING_KEY, None)


def get_row(session: Session, model: type[T], ident: uuid.UUID) -> T | None:
    """`session.get` that does not flush the session first.

    A lookup by id normally flushes every pending row so the SELECT can see them: in an import that is one
    flush per entry (an observation looking up its encounter, an encounter its practitioner) instead of one
    multi-row INSERT per table at the end. Rows added with their id already set are found here without
    a flush; rows added without one cannot have been named by id yet. Assigning `id` after `session.add`
    and before a flush is the one case this would miss: models here set it at construction or leave it
    to the flush. An id found missing is remembered until the next flush or commit (a new row with that id
    comes either pending, which is looked at first, or through a flush, which forgets).
    """
    key = (model, ident)
    pending = session.info.get(PENDING_BY_ID_KEY, {}).get(key)
    if pending is not None and inspect(pending).pending:
        return pending  # type: ignore[no-any-return]
    missing: set[tuple[type, uuid.UUID]] = session.info.setdefault(MISSING_KEY, set())
    if key in missing:  # asked before, since the last flush (a Synthea practitioner named by every encounter)
        return None
    with session.no_autoflush:
        found = session.get(model, ident)
    if found is None:
        missing.add(key)
    return found
