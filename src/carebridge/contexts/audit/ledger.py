"""The audit trail's storage: queueing, chaining at commit, checkpoints and the verification walk.

`record` queues an entry on the session. A listener on *every* SQLAlchemy session chains the queued
entries in `before_commit` under a lock on the single `audit_head` row, so an entry commits or rolls
back with the change it describes, the lock is held only for the commit itself, and no session (a
CLI job, a background worker, a test) can drop entries by forgetting to opt in. Entries whose
outcome is not a success are written even when the transaction rolls back: a refused access must
leave a trace although the request fails.

Appends are serialised on both engines: PostgreSQL takes `SELECT ... FOR UPDATE` on the head row
(seeded by migration 0002; created with `INSERT ... ON CONFLICT DO NOTHING` if missing, so two
processes racing on an empty table cannot both insert it), and SQLite runs every transaction as
`BEGIN IMMEDIATE` (kernel/db.py), one writer at a time. Either way two transactions can never read
the same head, so the chain never forks. PostgreSQL must run at READ COMMITTED (its default): under
REPEATABLE READ a concurrent head update fails the later transaction instead of making it wait.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import math
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Table, event, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker
from sqlalchemy.orm.state_changes import _StateChangeStates
from sqlalchemy.sql import Executable

from carebridge.contexts.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from carebridge.engines.audit_chain import (
    GENESIS_HASH,
    ChainVerifier,
    Checkpoint,
    VerifyReport,
    checkpoint_message,
    link_hash,
)
from carebridge.kernel.clock import Clock
from carebridge.kernel.db import Database
from carebridge.kernel.ids import new_id
from carebridge.security import Principal

PENDING_KEY = "audit_pending"
SIGNER_KEY = "audit_signer"
CHECKPOINT_EVERY_KEY = "audit_checkpoint_every"
CLOCK_KEY = "audit_clock"
SIGNED_KEY = "audit_signed"
AFTER_ROLLBACK_KEY = "after_rollback"  # run by kernel.db.Database.unit_of_work after a rollback
SAVEPOINT_MARKS_KEY = "audit_savepoint_marks"
HEAD_ID = 1
_CHANGING = _StateChangeStates.CHANGE_IN_PROGRESS
DEFAULT_CHECKPOINT_EVERY = 1000

MAX_DETAIL_BYTES = 8192
MAX_DETAIL_TEXT = 2000
_CODE_LIMITS = {"action": 32, "resource_type": 64, "purpose": 32, "outcome": 16}

log = logging.getLogger("carebridge.audit")

_ENTRIES = cast(Table, AuditEntry.__table__)
_HEAD = cast(Table, AuditHead.__table__)
_CHECKPOINTS = cast(Table, AuditCheckpoint.__table__)
ENTRY_COLUMNS = (
    "seq", "id", "at", "user_id", "username", "role", "organization_id", "action", "resource_type",
    "resource_id", "patient_id", "purpose", "outcome", "client_address", "request_id", "detail", "prev_hash", "hash",
)


@dataclass(frozen=True)
class AuditSigner:
    private_key: Ed25519PrivateKey

    @property
    def public_key_hex(self) -> str:
        raw = self.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return raw.hex()


# --- cleaning what goes in: PostgreSQL refuses NUL and lone surrogates, and a bad value must not fail a commit


def _text(value: object, limit: int) -> str:
    text = str(value).encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    return text[:limit]


def _opt_text(value: object | None, limit: int) -> str | None:
    return None if value is None else _text(value, limit)


def _code(name: str, value: str) -> str:
    """Action, resource type, purpose and outcome come from code, not users: a bad one is a bug, raised early."""
    text = value.value if isinstance(value, Enum) else value
    limit = _CODE_LIMITS[name]
    if not isinstance(text, str) or not text or len(text) > limit or not text.isprintable() or text.strip() != text:
        raise ValueError(f"audit {name} must be 1-{limit} printable characters without surrounding spaces: {text!r}")
    return text


def json_safe(value: Any, depth: int = 0) -> Any:
    """The JSON value a detail field will read back as, so the hash covers exactly what is stored."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if depth >= 6:
        return _text(value, MAX_DETAIL_TEXT)
    if isinstance(value, Mapping):
        return {_text(k, 200): json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v, depth + 1) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((json_safe(v, depth + 1) for v in value), key=str)
    if isinstance(value, Enum):
        return json_safe(value.value, depth + 1)
    return _text(value, MAX_DETAIL_TEXT)


def _detail(detail: Mapping[str, Any] | None) -> dict[str, Any]:
    clean = json_safe(dict(detail or {}))
    size = len(json.dumps(clean, separators=(",", ":")))
    if size > MAX_DETAIL_BYTES:
        return {"truncated": True, "bytes": size, "keys": sorted(clean)[:20]}
    return dict(clean)


def _uuid(value: uuid.UUID | str | None) -> uuid.UUID | None:
    """Callers sometimes hold ids as text; a malformed one is a bug and fails here, not at commit."""
    return value if value is None or isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _now(session: Session) -> datetime:
    clock: Clock | None = session.info.get(CLOCK_KEY)
    return clock.now() if clock is not None else datetime.now(UTC)


# --- queueing and appending


def record(
    session: Session,
    principal: Principal | None,
    *,
    action: str,
    resource_type: str,
    resource_id: str | uuid.UUID | None = None,
    patient_id: uuid.UUID | str | None = None,
    purpose: str = "treatment",
    outcome: str = "success",
    detail: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Queue one audit entry; it commits with the session's transaction (non-successes commit regardless)."""
    if at is not None and at.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    req = session.info.get("request")
    client = (principal.client_address if principal else None) or getattr(req, "client_address", None)
    rid = (principal.request_id if principal else None) or getattr(req, "request_id", None)
    entry: dict[str, Any] = {
        "id": new_id(),
        "at": (at or _now(session)).astimezone(UTC),
        "user_id": principal.user_id if principal else None,
        "username": _opt_text(principal.username, 64) if principal else None,
        "role": principal.role.value if principal else None,
        "organization_id": principal.organization_id if principal else None,
        "action": _code("action", action),
        "resource_type": _code("resource_type", resource_type),
        "resource_id": _opt_text(resource_id, 64),
        "patient_id": _uuid(patient_id),
        "purpose": _code("purpose", purpose),
        "outcome": _code("outcome", outcome),
        "client_address": _opt_text(client, 64),
        "request_id": _opt_text(rid, 64),
        "detail": _detail(detail),
    }
    session.info.setdefault(PENDING_KEY, []).append(entry)
    if entry["outcome"] != "success":
        carried = {k: session.info[k] for k in (SIGNER_KEY, CHECKPOINT_EVERY_KEY, CLOCK_KEY) if k in session.info}

        def _keep(fresh: Session, entry: dict[str, Any] = entry) -> None:
            for key, value in carried.items():
                fresh.info.setdefault(key, value)
            fresh.info.setdefault(PENDING_KEY, []).append(entry)

        _keep.audit_entry = entry  # type: ignore[attr-defined]  # lets a read-only scope batch it instead
        session.info.setdefault(AFTER_ROLLBACK_KEY, []).append(_keep)


# --- group commit: the entries of read-only requests


class GroupCommitter:
    """One writer per process and event loop for the audit entries of read-only requests.

    A read changes nothing, so its entry need not share a transaction with anything: requests hand their
    entries here and wait; the writer takes everything queued since its last commit and appends it in one
    transaction (one head lock, one multi-row insert, one commit, checkpoints as usual), then wakes every
    request in the batch. A request answers only after its entry has committed, as before, but a hundred
    concurrent reads cost one write transaction instead of a hundred serialised ones. On SQLite the writer
    takes the same per-process gate as request transactions; the commit itself runs in a worker thread, so
    the event loop keeps serving while it waits for the disk or for another process's lock.
    """

    def __init__(self, database: Database) -> None:
        self.database = database
        self._queue: list[tuple[list[dict[str, Any]], asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.batches = 0  # commits made, for tests and the benchmark's notes

    async def append(self, entries: list[dict[str, Any]]) -> None:
        """Returns once `entries` are committed; raises what the commit raised."""
        if not entries:
            return
        if self.database.bound:  # test databases: one shared connection, nothing to batch with
            self._write(entries)
            return
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._queue, self._task = loop, [], None
        done: asyncio.Future[None] = loop.create_future()
        self._queue.append((entries, done))
        if self._task is None:
            self._task = loop.create_task(self._drain())
        await done

    def _write(self, entries: list[dict[str, Any]]) -> None:
        with self.database.unit_of_work() as session:
            session.info.setdefault(PENDING_KEY, []).extend(entries)
        self.batches += 1

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                entries = [entry for queued, _ in batch for entry in queued]
                gate = self.database.sqlite_gate() if self.database.is_sqlite else None
                error: BaseException | None = None
                if gate is not None:
                    await gate.acquire()
                try:
                    await loop.run_in_executor(None, self._write, entries)
                except Exception as exc:  # handed to every waiting request, which answers with an error
                    error = exc
                finally:
                    if gate is not None:
                        gate.release()
                for _, done in batch:
                    if done.done():  # the request was cancelled (client gone); its entry is written all the same
                        continue
                    if error is None:
                        done.set_result(None)
                    else:
                        done.set_exception(error)
        finally:
            self._task = None


_COMMITTERS: weakref.WeakKeyDictionary[Database, GroupCommitter] = weakref.WeakKeyDictionary()


def group_committer(database: Database) -> GroupCommitter:
    committer = _COMMITTERS.get(database)
    if committer is None:
        committer = _COMMITTERS[database] = GroupCommitter(database)
    return committer


def take_read_entries(database: Database, session: Session, *, failed: bool) -> list[dict[str, Any]]:
    """What a read-only session queued, for the group writer (`group_committer(db).append`).

    After a failure only the non-successes are kept (a refusal must leave a trace; a read that did not
    happen must not), exactly what `record` arranges for an ordinary unit of work. Other work registered
    to survive a rollback runs in its own transaction, as `Database.unit_of_work` would run it.
    """
    pending: list[dict[str, Any]] = session.info.pop(PENDING_KEY, [])
    hooks = session.info.pop(AFTER_ROLLBACK_KEY, [])
    if not failed:
        return pending
    for hook in hooks:
        if not hasattr(hook, "audit_entry"):
            with database.unit_of_work() as fresh:
                hook(fresh)
    return [e for e in pending if e["outcome"] != "success"]


def _insert_head_if_absent(dialect: str) -> Executable:
    values = {"id": HEAD_ID, "seq": 0, "hash": GENESIS_HASH, "since_checkpoint": 0}
    if dialect == "postgresql":
        return pg_insert(_HEAD).values(**values).on_conflict_do_nothing(index_elements=["id"])
    if dialect == "sqlite":
        return sqlite_insert(_HEAD).values(**values).on_conflict_do_nothing(index_elements=["id"])
    return _HEAD.insert().values(**values)  # other engines: the migration seeded the row


def lock_head(session: Session) -> tuple[int, str, int]:
    """(seq, hash, entries since the last checkpoint), locked until the transaction ends.

    Plain column reads, not ORM objects: an `AuditHead` already in the identity map would hand back
    stale values after the lock waited for another writer.
    """
    dialect = session.get_bind().dialect.name
    stmt = select(_HEAD.c.seq, _HEAD.c.hash, _HEAD.c.since_checkpoint).where(_HEAD.c.id == HEAD_ID)
    if dialect != "sqlite":
        stmt = stmt.with_for_update()
    row = session.execute(stmt).first()
    if row is None:
        session.execute(_insert_head_if_absent(dialect))
        row = session.execute(stmt).one()
    return int(row.seq), str(row.hash), int(row.since_checkpoint)


def _releasing_savepoint(session: Session) -> bool:
    """True when `before_commit` fires for a SAVEPOINT released on its own, not for the root commit.

    SQLAlchemy fires `before_commit` for nested transactions too. Appending there would cost a head lock, a
    multi-row insert and a head update at every SAVEPOINT (a Bundle transaction has one per entry) and would
    chain entries of work an enclosing SAVEPOINT may still undo; they wait for the root commit instead. The
    root commit may run with a SAVEPOINT still open (a unit of work ending while an interaction's SAVEPOINT
    is open): SQLAlchemy then fires the event with the nested transaction current, but the root is mid-change,
    so the entries are appended then. Without that marker (another SQLAlchemy) every firing appends, as before.
    """
    if not session.in_nested_transaction():
        return False
    root = session.get_transaction()
    state = getattr(root, "_next_state", None)
    return state is not None and state is not _CHANGING


def _append_pending(session: Session) -> None:
    if _releasing_savepoint(session):
        return
    pending: list[dict[str, Any]] = session.info.pop(PENDING_KEY, [])
    if not pending:
        return
    session.flush()  # the described change first, so the head lock is held only for the audit rows
    seq, prev, since = lock_head(session)
    rows = []
    for entry in pending:
        seq += 1
        row = {**entry, "seq": seq, "prev_hash": prev}
        row["hash"] = link_hash(prev, row)
        prev = row["hash"]
        rows.append(row)
        since += 1
    session.execute(_ENTRIES.insert(), rows)
    signer: AuditSigner | None = session.info.get(SIGNER_KEY)
    every: int = session.info.get(CHECKPOINT_EVERY_KEY, DEFAULT_CHECKPOINT_EVERY)
    if signer is not None and since >= every:
        _write_checkpoint(session, signer, seq, prev)
        since = 0
    session.execute(_HEAD.update().where(_HEAD.c.id == HEAD_ID).values(seq=seq, hash=prev, since_checkpoint=since))


def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        marks: dict[SessionTransaction, int] = session.info.setdefault(SAVEPOINT_MARKS_KEY, {})
        marks[transaction] = len(session.info.get(PENDING_KEY, ()))


def _trim_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    """A SAVEPOINT rolled back takes back the successes queued since it began (the work did not happen),
    including those of inner SAVEPOINTs already released; refusals stay queued, as the trail requires."""
    mark = session.info.get(SAVEPOINT_MARKS_KEY, {}).get(previous_transaction)
    pending: list[dict[str, Any]] | None = session.info.get(PENDING_KEY)
    if mark is not None and pending:
        pending[mark:] = [e for e in pending[mark:] if e["outcome"] != "success"]


def _forget_marks(session: Session, transaction: SessionTransaction) -> None:
    """At the root's end (a SAVEPOINT's own end comes before its `after_soft_rollback`, so marks live till then)."""
    if transaction.parent is None:
        session.info.pop(SAVEPOINT_MARKS_KEY, None)


_LISTENERS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("before_commit", _append_pending), ("after_transaction_create", _mark_savepoint),
    ("after_soft_rollback", _trim_rolled_back), ("after_transaction_end", _forget_marks))
for _event_name, _handler in _LISTENERS:
    if not event.contains(Session, _event_name, _handler):
        event.listen(Session, _event_name, _handler)


def _write_checkpoint(session: Session, signer: AuditSigner, seq: int, entry_hash: str) -> None:
    signed_at = _now(session).astimezone(UTC)
    values = {
        "seq": seq, "hash": entry_hash, "signed_at": signed_at,
        "signature": base64.b64encode(signer.private_key.sign(checkpoint_message(seq, entry_hash, signed_at))).decode(),
        "public_key": signer.public_key_hex,
    }
    session.execute(_CHECKPOINTS.insert().values(**values))
    session.info.setdefault(SIGNED_KEY, []).append({**values, "signed_at": signed_at.isoformat()})


def _log_signed(session: Session) -> None:
    """Once committed, each checkpoint goes to the log too: a copy outside the database is an anchor."""
    for cp in session.info.pop(SIGNED_KEY, []):
        log.info("audit checkpoint signed", extra={"audit_checkpoint": cp})


def _forget_signed(session: Session, _previous_transaction: object) -> None:
    session.info.pop(SIGNED_KEY, None)


for _name, _listener in (("after_commit", _log_signed), ("after_soft_rollback", _forget_signed)):
    if not event.contains(Session, _name, _listener):
        event.listen(Session, _name, _listener)


def install(factory: sessionmaker[Session], signer: AuditSigner, *, checkpoint_every: int,
            clock: Clock | None = None) -> None:
    """Give this factory's sessions the key that signs checkpoints, their cadence and the clock."""
    info = factory.kw.setdefault("info", {})
    info[SIGNER_KEY] = signer
    info[CHECKPOINT_EVERY_KEY] = checkpoint_every
    if clock is not None:
        info[CLOCK_KEY] = clock


def checkpoint_now(session: Session, signer: AuditSigner) -> int | None:
    """Sign the current head (at shutdown, or on demand) unless it is already signed; the signed seq."""
    seq, head_hash, _since = lock_head(session)
    if seq == 0:
        return None
    exists = session.execute(select(_CHECKPOINTS.c.seq).where(_CHECKPOINTS.c.seq == seq)).first()
    if exists is None:
        _write_checkpoint(session, signer, seq, head_hash)
    session.execute(_HEAD.update().where(_HEAD.c.id == HEAD_ID).values(since_checkpoint=0))
    return seq


# --- verification


def _signature_check(public_keys: Sequence[Ed25519PublicKey]) -> Callable[[bytes, bytes], bool]:
    def check(message: bytes, signature: bytes) -> bool:
        for key in public_keys:
            try:
                key.verify(signature, message)
            except InvalidSignature:
                continue
            return True
        return False

    return check


def _decode_signature(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return b""


def _read_checkpoints(session: Session, *, after: int | None) -> list[Checkpoint]:
    stmt = select(_CHECKPOINTS.c.seq, _CHECKPOINTS.c.hash, _CHECKPOINTS.c.signed_at, _CHECKPOINTS.c.signature)
    if after is not None:
        stmt = stmt.where(_CHECKPOINTS.c.seq > after)
    return [
        Checkpoint(seq=int(r.seq), hash=r.hash, signed_at=r.signed_at, signature=_decode_signature(r.signature))
        for r in session.execute(stmt.order_by(_CHECKPOINTS.c.seq))
    ]


def read_head(session: Session) -> tuple[int, str]:
    """The head as stored; a missing row reads as the empty chain (so stored entries show up as uncovered)."""
    row = session.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == HEAD_ID)).first()
    return (int(row.seq), str(row.hash)) if row else (0, GENESIS_HASH)


def _read_entries(session: Session, *, after: int, upto: int | None, limit: int) -> list[dict[str, Any]]:
    stmt = select(*(_ENTRIES.c[name] for name in ENTRY_COLUMNS)).where(_ENTRIES.c.seq > after)
    if upto is not None:
        stmt = stmt.where(_ENTRIES.c.seq <= upto)
    rows = session.execute(stmt.order_by(_ENTRIES.c.seq).limit(limit)).all()
    return [dict(r._mapping) for r in rows]


SessionScope = Callable[[], AbstractContextManager[Session]]


def _walk(open_scope: SessionScope, verifier: ChainVerifier, *, after: int, upto: int, batch: int) -> int:
    """Feed entries after..upto in batches; returns the last seq fed."""
    while after < upto and verifier.broken is None:
        with open_scope() as s:
            rows = _read_entries(s, after=after, upto=upto, limit=batch)
        if not rows:
            break
        for row in rows:
            if not verifier.feed(row):
                break
        after = int(rows[-1]["seq"])
    return after


def verify(scope: SessionScope | Session, public_keys: Iterable[Ed25519PublicKey], *,
           anchors: Mapping[int, str] | None = None, batch: int = 2000) -> VerifyReport:
    """Walk the whole chain and report the first entry that cannot be trusted.

    `scope` opens a short transaction per batch (`Database.transaction`), so a long walk never holds
    a lock for long, or is one session to read everything in. Consistent without a snapshot: the
    head is read first and entries are walked only up to it; entries and head always commit
    together, so everything up to the head is visible. If the head moved meanwhile (writers kept
    appending) the walk goes on to the new head; entries beyond a head that stays put are tampering.
    `anchors` (seq -> hash, kept outside the database) must match too.
    """
    open_scope: SessionScope = (lambda: nullcontext(scope)) if isinstance(scope, Session) else scope
    with open_scope() as s:
        head = read_head(s)
        checkpoints = _read_checkpoints(s, after=None)
    verifier = ChainVerifier(checkpoints, verify_signature=_signature_check(list(public_keys)), anchors=anchors)
    known_cp = max((c.seq for c in checkpoints), default=0)
    walked = stored_max = 0
    while True:
        walked = _walk(open_scope, verifier, after=walked, upto=head[0], batch=batch)
        if verifier.broken is not None:
            break
        with open_scope() as s:
            stored_max = int(s.execute(select(func.max(_ENTRIES.c.seq))).scalar_one() or 0)  # read before the head
            latest = read_head(s)
            fresh = _read_checkpoints(s, after=known_cp)
        verifier.add_checkpoints(fresh)
        known_cp = max([known_cp, *(c.seq for c in fresh)])
        moved = latest[0] > head[0]
        head = latest
        if not moved:
            break
    return verifier.finish(head, stored_last=stored_max)


def count_entries(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(_ENTRIES)).scalar_one())
