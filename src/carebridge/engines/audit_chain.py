"""The audit trail's hash chain: canonical form, link hashes, checkpoint messages and verification.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's canonical JSON (sorted
keys, no whitespace, UTC timestamps with microseconds), so changing, deleting or reordering any entry
breaks that entry's link and every later one. Signed checkpoints bound what an attacker who rewrites
the whole tail can do: they cannot re-sign. The design follows the "hash chain plus signed tree head"
idea of Crosby & Wallach, *Efficient Data Structures for Tamper-Evident Logging* (USENIX Security
2009) and RFC 6962 §3.5, simplified to a linear chain because audit verification walks every entry.

Whoever can write the database can also delete checkpoints and rewrite everything after the last
one kept; only a copy held elsewhere catches that, so verification also takes external anchors
(seq, hash) such as the checkpoint lines the server logs.

Signature checks are passed in as a function: this module stays free of crypto libraries, databases
and I/O, so the same verifier runs in the server, the CLI and an auditor's offline script.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64

CHAINED_FIELDS = (
    "seq", "id", "at", "user_id", "username", "role", "organization_id", "action", "resource_type",
    "resource_id", "patient_id", "purpose", "outcome", "client_address", "request_id", "detail",
)

SignatureCheck = Callable[[bytes, bytes], bool]


def _norm(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("audit timestamps must be timezone-aware")
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def canonical_bytes(entry: Mapping[str, Any]) -> bytes:
    """The bytes an entry's hash covers: every chained field, absent ones as null."""
    body = {name: _norm(entry.get(name)) for name in CHAINED_FIELDS}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    h = hashlib.sha256()
    h.update(prev_hash.encode())
    h.update(b"\n")
    h.update(canonical_bytes(entry))
    return h.hexdigest()


def checkpoint_message(seq: int, entry_hash: str, signed_at: datetime) -> bytes:
    """What a checkpoint signs; the prefix keeps the key from signing anything else by accident."""
    return f"carebridge-audit-checkpoint\n{seq}\n{entry_hash}\n{_norm(signed_at)}".encode()


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    signed_at: datetime
    signature: bytes


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of a walk. `first_broken_seq` is the lowest sequence number that cannot be trusted."""

    ok: bool
    entries_checked: int
    checkpoints_checked: int
    first_broken_seq: int | None = None
    problem: str | None = None
    last_seq: int = 0
    last_checkpoint_seq: int | None = None

    @property
    def unsigned_tail(self) -> int:
        """Entries after the last valid checkpoint: protected by the chain and head only, not a signature."""
        return self.last_seq - (self.last_checkpoint_seq or 0)


class ChainVerifier:
    """Checks entries fed one at a time in ascending `seq` order; stops at the first break.

    Incremental so the caller can stream millions of rows in batches and extend the walk while
    other writers keep appending (see `contexts/audit/ledger.py`).
    """

    def __init__(self, checkpoints: Iterable[Checkpoint], *, verify_signature: SignatureCheck,
                 anchors: Mapping[int, str] | None = None) -> None:
        self._cps = {c.seq: c for c in checkpoints}
        self._anchors = dict(anchors or {})
        self._verify_signature = verify_signature
        self._prev = GENESIS_HASH
        self._expected = 1
        self._count = 0
        self._seen_cps = 0
        self._last_cp: int | None = None
        self.broken: VerifyReport | None = None

    @property
    def last_seq(self) -> int:
        return self._expected - 1

    def _broken(self, seq: int, problem: str) -> VerifyReport:
        self.broken = VerifyReport(False, self._count, self._seen_cps, seq, problem, self.last_seq, self._last_cp)
        return self.broken

    def _fail(self, seq: int, problem: str) -> bool:
        self._broken(seq, problem)
        return False

    def _signature_ok(self, cp: Checkpoint) -> bool:
        return self._verify_signature(checkpoint_message(cp.seq, cp.hash, cp.signed_at), cp.signature)

    def add_checkpoints(self, checkpoints: Iterable[Checkpoint]) -> None:
        """Checkpoints signed after the walk started (the chain grew meanwhile)."""
        for cp in checkpoints:
            self._cps.setdefault(cp.seq, cp)

    def feed(self, entry: Mapping[str, Any]) -> bool:
        """Check one entry; False once the chain is broken (the reason is in `broken`)."""
        if self.broken is not None:
            return False
        seq = int(entry["seq"])
        if seq != self._expected:
            what = "missing" if seq > self._expected else "out of order"
            return self._fail(self._expected, f"entry {self._expected} is {what}")
        if entry["prev_hash"] != self._prev:
            return self._fail(seq, f"entry {seq} does not link to entry {seq - 1} (reordered or replaced)")
        actual = link_hash(self._prev, entry)
        if actual != entry["hash"]:
            return self._fail(seq, f"entry {seq} was altered (its content does not match its hash)")
        anchor = self._anchors.get(seq)
        if anchor is not None and anchor != actual:
            return self._fail(seq, f"entry {seq} differs from the external anchor kept for it")
        cp = self._cps.get(seq)
        if cp is not None:
            if not self._signature_ok(cp):
                return self._fail(seq, f"checkpoint at entry {seq} has an invalid signature")
            if cp.hash != actual:
                return self._fail(seq, f"entry {seq} differs from its signed checkpoint")
            self._seen_cps += 1
            self._last_cp = seq
        self._prev = actual
        self._expected += 1
        self._count += 1
        return True

    def finish(self, head: tuple[int, str] | None, *, stored_last: int | None = None) -> VerifyReport:
        """Close the walk against the head the store believes is latest, then checkpoints and anchors
        past the end. `stored_last` is the highest seq stored, when the walk stopped at the head."""
        if self.broken is not None:
            return self.broken
        last = self.last_seq
        if head is not None:
            head_seq, head_hash = head
            if head_seq > last:
                return self._broken(last + 1, f"entries after {last} are missing: the head records entry {head_seq}")
            if head_seq < max(last, stored_last or 0):
                return self._broken(max(head_seq, 0) + 1, f"entries after {head_seq} are not covered by the head "
                                                          "(the head was rewound or entries were inserted)")
            if last > 0 and head_hash != self._prev:
                return self._broken(last, f"the head's hash does not match entry {last}")
        for cp in sorted(self._cps.values(), key=lambda c: c.seq):
            if 1 <= cp.seq <= last:
                continue
            if cp.seq < 1:
                return self._broken(1, f"checkpoint at entry {cp.seq} names no entry")
            if not self._signature_ok(cp):
                return self._broken(cp.seq, f"checkpoint at entry {cp.seq} has an invalid signature")
            return self._broken(last + 1, f"entries after {last} are missing: "
                                          f"a signed checkpoint covers entry {cp.seq}")
        beyond = [a for a in self._anchors if a > last]
        if beyond:
            return self._broken(last + 1, f"entries after {last} are missing: an external anchor names entry "
                                          f"{min(beyond)}")
        return VerifyReport(True, self._count, self._seen_cps, last_seq=last, last_checkpoint_seq=self._last_cp)


def verify_chain(
    entries: Iterable[Mapping[str, Any]],
    checkpoints: Iterable[Checkpoint],
    *,
    verify_signature: SignatureCheck,
    head: tuple[int, str] | None = None,
    anchors: Mapping[int, str] | None = None,
) -> VerifyReport:
    """Walk entries in stored order and report the first broken link, if any.

    `entries` must come ordered by `seq` ascending, each mapping carrying CHAINED_FIELDS plus
    `prev_hash` and `hash`. `head` is the (seq, hash) the store believes is latest. `anchors` are
    (seq -> hash) pairs kept outside the database (checkpoint log lines): they catch an attacker who
    deleted checkpoints and rewrote everything after the last one they kept.
    """
    verifier = ChainVerifier(checkpoints, verify_signature=verify_signature, anchors=anchors)
    for entry in entries:
        if not verifier.feed(entry):
            break
    return verifier.finish(head)
