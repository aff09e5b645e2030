"""The audit trail's hash chain: canonical form, link hashes, checkpoint messages and verification.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's canonical JSON (sorted
keys, no whitespace, UTC timestamps with microseconds), so changing, deleting or reordering any entry
breaks every later link. Signed checkpoints bound what an attacker who rewrites the whole tail can do.
Signature checks are passed in as a function: this module stays free of crypto libraries.
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


def _norm(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("audit timestamps must be timezone-aware")
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def canonical_bytes(entry: Mapping[str, Any]) -> bytes:
    body = {name: _norm(entry.get(name)) for name in CHAINED_FIELDS}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    h = hashlib.sha256()
    h.update(prev_hash.encode())
    h.update(b"\n")
    h.update(canonical_bytes(entry))
    return h.hexdigest()


def checkpoint_message(seq: int, entry_hash: str, signed_at: datetime) -> bytes:
    return f"carebridge-audit-checkpoint\n{seq}\n{entry_hash}\n{_norm(signed_at)}".encode()


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    signed_at: datetime
    signature: bytes


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    entries_checked: int
    checkpoints_checked: int
    first_broken_seq: int | None = None
    problem: str | None = None


def verify_chain(
    entries: Iterable[Mapping[str, Any]],
    checkpoints: Iterable[Checkpoint],
    *,
    verify_signature: Callable[[bytes, bytes], bool],
    head: tuple[int, str] | None = None,
) -> VerifyReport:
    """Walk entries in stored order and report the first broken link, if any.

    `entries` must come ordered by `seq` ascending, each mapping carrying CHAINED_FIELDS plus
    `prev_hash` and `hash`. `head` is the (seq, hash) the store believes is latest.
    """
    cps = sorted(checkpoints, key=lambda c: c.seq)
    cp_by_seq = {c.seq: c for c in cps}
    for cp in cps:
        if not verify_signature(checkpoint_message(cp.seq, cp.hash, cp.signed_at), cp.signature):
            return VerifyReport(False, 0, 0, cp.seq, f"checkpoint at seq {cp.seq} has an invalid signature")
    prev = GENESIS_HASH
    expected_seq = 1
    count = 0
    seen_cps = 0
    for entry in entries:
        seq = int(entry["seq"])
        if seq != expected_seq:
            what = "missing" if seq > expected_seq else "out of order"
            return VerifyReport(False, count, seen_cps, expected_seq, f"entry {expected_seq} is {what}")
        if entry["prev_hash"] != prev:
            return VerifyReport(False, count, seen_cps, seq, f"entry {seq} does not link to entry {seq - 1}")
        actual = link_hash(prev, entry)
        if actual != entry["hash"]:
            return VerifyReport(False, count, seen_cps, seq, f"entry {seq} was altered (hash mismatch)")
        signed = cp_by_seq.get(seq)
        if signed is not None:
            if signed.hash != actual:
                return VerifyReport(False, count, seen_cps, seq, f"entry {seq} differs from its signed checkpoint")
            seen_cps += 1
        prev = actual
        expected_seq += 1
        count += 1
    last_seq = expected_seq - 1
    if cps and cps[-1].seq > last_seq:
        return VerifyReport(
            False, count, seen_cps, last_seq + 1,
            f"entries after {last_seq} are missing: a signed checkpoint covers entry {cps[-1].seq}",
        )
    if head is not None and (head[0] != last_seq or (last_seq > 0 and head[1] != prev)):
        return VerifyReport(
            False, count, seen_cps, min(head[0], last_seq) + 1,
            f"the chain ends at entry {last_seq} but the head records entry {head[0]}",
        )
    return VerifyReport(True, count, seen_cps)
