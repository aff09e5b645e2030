"""The audit hash chain: canonical form, and that verification names the first entry that cannot be trusted."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from carebridge.engines.audit_chain import (
    CHAINED_FIELDS,
    GENESIS_HASH,
    ChainVerifier,
    Checkpoint,
    VerifyReport,
    canonical_bytes,
    checkpoint_message,
    link_hash,
    verify_chain,
)

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
T0 = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)

Entry = dict[str, Any]


def check(message: bytes, signature: bytes) -> bool:
    try:
        KEY.public_key().verify(signature, message)
    except InvalidSignature:
        return False
    return True


def sign(seq: int, entry_hash: str, key: Ed25519PrivateKey = KEY) -> Checkpoint:
    signed_at = T0 + timedelta(hours=1)
    return Checkpoint(seq, entry_hash, signed_at, key.sign(checkpoint_message(seq, entry_hash, signed_at)))


def content(i: int) -> Entry:
    return {
        "id": uuid.UUID(int=i), "at": T0 + timedelta(seconds=i), "user_id": uuid.UUID(int=1000 + i),
        "username": f"nurse{i}", "role": "nurse", "organization_id": uuid.UUID(int=7), "action": "read",
        "resource_type": "patient", "resource_id": str(uuid.UUID(int=500)), "patient_id": uuid.UUID(int=500),
        "purpose": "treatment", "outcome": "success", "client_address": "10.0.0.1", "request_id": f"req-{i}",
        "detail": {"fields": ["name", "birth_date"], "n": i},
    }


def chain(contents: list[Entry]) -> list[Entry]:
    out, prev = [], GENESIS_HASH
    for seq, body in enumerate(contents, start=1):
        entry = {**body, "seq": seq, "prev_hash": prev}
        entry["hash"] = link_hash(prev, entry)
        prev = entry["hash"]
        out.append(entry)
    return out


def run(entries: list[Entry], checkpoints: list[Checkpoint], head: tuple[int, str] | None) -> VerifyReport:
    return verify_chain(entries, checkpoints, verify_signature=check, head=head)


# --- canonical form


def test_canonical_form_is_pinned() -> None:
    """Changing the canonical form would orphan every stored chain: this vector must never change."""
    body = canonical_bytes(content(1))
    assert body == (
        b'{"action":"read","at":"2026-03-10T09:30:01.000000Z","client_address":"10.0.0.1",'
        b'"detail":{"fields":["name","birth_date"],"n":1},"id":"00000000-0000-0000-0000-000000000001",'
        b'"organization_id":"00000000-0000-0000-0000-000000000007","outcome":"success",'
        b'"patient_id":"00000000-0000-0000-0000-0000000001f4","purpose":"treatment","request_id":"req-1",'
        b'"resource_id":"00000000-0000-0000-0000-0000000001f4","resource_type":"patient","role":"nurse",'
        b'"seq":null,"user_id":"00000000-0000-0000-0000-0000000003e9","username":"nurse1"}'
    )
    assert link_hash(GENESIS_HASH, content(1)) == hashlib.sha256(GENESIS_HASH.encode() + b"\n" + body).hexdigest()


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ({"at": T0}, {"at": T0.astimezone(timezone(timedelta(hours=5, minutes=30)))}, True),  # same instant, IST
        ({"user_id": uuid.UUID(int=3)}, {"user_id": str(uuid.UUID(int=3))}, True),
        ({"detail": {"a": 1, "b": 2}}, {"detail": {"b": 2, "a": 1}}, True),  # key order is not content
        ({"username": None}, {}, True),  # absent is null
        ({"prev_hash": "x", "hash": "y"}, {}, True),  # links are not content
        ({"username": "asha"}, {"username": "Asha"}, False),
        ({"at": T0}, {"at": T0 + timedelta(microseconds=1)}, False),
        ({"detail": {"n": 1}}, {"detail": {"n": "1"}}, False),
        ({"resource_id": None}, {"resource_id": ""}, False),
    ],
)
def test_canonical_bytes_equality(a: Entry, b: Entry, same: bool) -> None:
    assert (canonical_bytes(a) == canonical_bytes(b)) is same


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        canonical_bytes({"at": datetime(2026, 3, 10, 9, 30)})


def test_link_hash_depends_on_the_previous_hash() -> None:
    assert link_hash(GENESIS_HASH, content(1)) != link_hash("f" * 64, content(1))


def test_checkpoint_message_names_seq_hash_and_time() -> None:
    assert checkpoint_message(42, "ab" * 32, T0) == (
        b"carebridge-audit-checkpoint\n42\n" + b"ab" * 32 + b"\n2026-03-10T09:30:00.000000Z"
    )


# --- tampering, table-driven: a 6-entry chain with a checkpoint at 3, head at 6

Tamper = Callable[[list[Entry], list[Checkpoint], tuple[int, str]], tuple[list[Entry], list[Checkpoint], tuple[int, str]]]


def _alter(seq: int, **changes: Any) -> Tamper:
    def f(es: list[Entry], cps: list[Checkpoint], head: tuple[int, str]) -> Any:
        return [{**e, **changes} if e["seq"] == seq else e for e in es], cps, head
    return f


def _drop(*seqs: int) -> Tamper:
    return lambda es, cps, head: ([e for e in es if e["seq"] not in seqs], cps, head)


def _swap_seq(a: int, b: int) -> Tamper:
    """What `UPDATE ... SET seq` on two rows does: each row now sits at the other's position."""
    def f(es: list[Entry], cps: list[Checkpoint], head: tuple[int, str]) -> Any:
        swapped = [{**e, "seq": b if e["seq"] == a else a if e["seq"] == b else e["seq"]} for e in es]
        return sorted(swapped, key=lambda e: e["seq"]), cps, head
    return f


def _rewrite_from(seq: int, *, move_head: bool) -> Tamper:
    """An attacker who recomputes every hash from `seq` on (they cannot re-sign checkpoints)."""
    def f(es: list[Entry], cps: list[Checkpoint], head: tuple[int, str]) -> Any:
        bodies = [{k: v for k, v in e.items() if k not in ("seq", "prev_hash", "hash")} for e in es]
        bodies[seq - 1]["username"] = "someone-else"
        new = chain(bodies)
        return new, cps, (new[-1]["seq"], new[-1]["hash"]) if move_head else head
    return f


def _cps(fn: Callable[[list[Checkpoint]], list[Checkpoint]]) -> Tamper:
    return lambda es, cps, head: (es, fn(cps), head)


def _head(seq: int | None = None, hash_: str | None = None) -> Tamper:
    return lambda es, cps, head: (es, cps, (head[0] if seq is None else seq, hash_ or head[1]))


TAMPERING: list[tuple[str, Tamper, int | None, str]] = [
    ("untouched", lambda es, cps, head: (es, cps, head), None, ""),
    ("a field changed", _alter(2, username="mallory"), 2, "altered"),
    ("the purpose changed", _alter(5, purpose="research"), 5, "altered"),
    ("the detail changed", _alter(4, detail={"fields": []}), 4, "altered"),
    ("a stored hash changed", _alter(4, hash="0" * 64), 4, "altered"),
    ("a prev_hash changed", _alter(2, prev_hash="1" * 64), 2, "does not link"),
    ("a middle entry deleted", _drop(3), 3, "missing"),
    ("the first entry deleted", _drop(1), 1, "missing"),
    ("the last entry deleted", _drop(6), 6, "head records entry 6"),
    ("two entries swapped", _swap_seq(2, 3), 2, "does not link"),
    ("tail after the checkpoint truncated", _drop(5, 6), 5, "head records entry 6"),
    ("truncated into the signed part, head rewound",
     lambda es, cps, head: ([e for e in es if e["seq"] <= 2], cps, (2, es[1]["hash"])), 3, "signed checkpoint"),
    ("checkpoint signature forged", _cps(lambda cps: [replace(c, signature=b"\x00" * 64) for c in cps]), 3,
     "invalid signature"),
    ("checkpoint re-signed with another key", _cps(lambda cps: [sign(c.seq, c.hash, OTHER_KEY) for c in cps]), 3,
     "invalid signature"),
    ("checkpoint hash swapped", _cps(lambda cps: [replace(c, hash="e" * 64) for c in cps]), 3, "invalid signature"),
    ("forged checkpoint beyond the end", _cps(lambda cps: [*cps, replace(cps[0], seq=99)]), 99,
     "invalid signature"),
    ("checkpoint at seq 0", _cps(lambda cps: [*cps, sign(0, GENESIS_HASH)]), 1, "names no entry"),
    ("head rewound", _head(seq=4), 5, "not covered by the head"),
    ("head hash rewritten", _head(hash_="d" * 64), 6, "head's hash"),
    ("head ahead of the chain", _head(seq=9), 7, "head records entry 9"),
    ("consistent rewrite through a checkpoint", _rewrite_from(2, move_head=True), 3, "differs from its signed"),
    ("consistent rewrite, head left behind", _rewrite_from(5, move_head=False), 6, "head's hash"),
]


@pytest.mark.parametrize(("name", "tamper", "first_broken", "problem"), TAMPERING, ids=[t[0] for t in TAMPERING])
def test_verify_names_the_first_broken_entry(name: str, tamper: Tamper, first_broken: int | None,
                                             problem: str) -> None:
    entries = chain([content(i) for i in range(1, 7)])
    cps = [sign(3, entries[2]["hash"])]
    es, cps, head = tamper(entries, cps, (6, entries[-1]["hash"]))
    report = run(es, cps, head)
    assert report.ok is (first_broken is None), report
    assert report.first_broken_seq == first_broken
    assert problem in (report.problem or "")


def test_untouched_chain_reports_counts_and_unsigned_tail() -> None:
    entries = chain([content(i) for i in range(1, 7)])
    report = run(entries, [sign(3, entries[2]["hash"])], (6, entries[-1]["hash"]))
    assert (report.ok, report.entries_checked, report.checkpoints_checked) == (True, 6, 1)
    assert (report.last_seq, report.last_checkpoint_seq, report.unsigned_tail) == (6, 3, 3)


def test_empty_chain_is_valid() -> None:
    assert run([], [], (0, GENESIS_HASH)) == VerifyReport(True, 0, 0)


def test_documented_limit_a_consistent_rewrite_of_the_unsigned_tail_is_not_detected() -> None:
    """Why checkpoints are signed often and at shutdown: past the last one only the chain protects."""
    entries = chain([content(i) for i in range(1, 7)])
    es, cps, head = _rewrite_from(5, move_head=True)(entries, [sign(3, entries[2]["hash"])], (6, entries[-1]["hash"]))
    assert run(es, cps, head).ok


def test_verifier_extends_when_checkpoints_arrive_during_the_walk() -> None:
    entries = chain([content(i) for i in range(1, 5)])
    verifier = ChainVerifier([], verify_signature=check)
    for e in entries[:2]:
        assert verifier.feed(e)
    verifier.add_checkpoints([sign(4, entries[3]["hash"])])
    for e in entries[2:]:
        assert verifier.feed(e)
    report = verifier.finish((4, entries[-1]["hash"]))
    assert (report.ok, report.checkpoints_checked, report.last_checkpoint_seq) == (True, 1, 4)
    assert not verifier.feed(entries[0])  # out of order after the end


# --- properties over random valid chains

uuids = st.uuids()
opt_text = st.none() | st.text(max_size=20)
json_leaf = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=10)
details = st.dictionaries(st.text(max_size=8), json_leaf | st.lists(json_leaf, max_size=3), max_size=4)
instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))

FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "seq": st.integers(-5, 50),
    "id": uuids,
    "at": instants,
    "user_id": st.none() | uuids,
    "username": opt_text,
    "role": st.none() | st.sampled_from(["patient", "caregiver", "nurse", "admin"]),
    "organization_id": st.none() | uuids,
    "action": st.sampled_from(["read", "update", "create", "delete", "search"]),
    "resource_type": st.sampled_from(["patient", "encounter", "document", "access_log"]),
    "resource_id": opt_text,
    "patient_id": st.none() | uuids,
    "purpose": st.sampled_from(["treatment", "emergency", "patient_request"]),
    "outcome": st.sampled_from(["success", "denied", "failure"]),
    "client_address": st.none() | st.ip_addresses().map(str),
    "request_id": opt_text,
    "detail": details,
    "prev_hash": st.text("0123456789abcdef", min_size=64, max_size=64),
    "hash": st.text("0123456789abcdef", min_size=64, max_size=64),
}
bodies = st.fixed_dictionaries({k: v for k, v in FIELD_VALUES.items() if k not in ("seq", "prev_hash", "hash")})


@st.composite
def signed_chains(draw: st.DrawFn) -> tuple[list[Entry], list[Checkpoint], tuple[int, str]]:
    entries = chain(draw(st.lists(bodies, min_size=1, max_size=10)))
    signed = draw(st.sets(st.integers(1, len(entries))))
    cps = [sign(s, entries[s - 1]["hash"]) for s in sorted(signed)]
    return entries, cps, (len(entries), entries[-1]["hash"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(signed_chains())
def test_untouched_random_chains_verify(data: tuple[list[Entry], list[Checkpoint], tuple[int, str]]) -> None:
    entries, cps, head = data
    report = run(entries, cps, head)
    assert report.ok
    assert (report.entries_checked, report.checkpoints_checked) == (len(entries), len(cps))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(signed_chains(), st.data())
def test_any_single_field_change_is_detected_at_that_entry(
    data: tuple[list[Entry], list[Checkpoint], tuple[int, str]], draw: st.DataObject
) -> None:
    entries, cps, head = data
    index = draw.draw(st.integers(0, len(entries) - 1), label="entry")
    field = draw.draw(st.sampled_from([*CHAINED_FIELDS, "prev_hash", "hash"]), label="field")
    new = draw.draw(FIELD_VALUES[field], label="new value")
    old = entries[index][field]
    if field in ("seq", "prev_hash", "hash"):
        assume(new != old)
    else:
        assume(canonical_bytes({field: new}) != canonical_bytes({field: old}))
    tampered = [dict(e) for e in entries]
    tampered[index][field] = new
    report = run(tampered, cps, head)
    assert not report.ok
    assert report.first_broken_seq == index + 1, report


@settings(max_examples=100, deadline=None)
@given(signed_chains(), st.data())
def test_deleting_any_entry_is_detected_at_it(
    data: tuple[list[Entry], list[Checkpoint], tuple[int, str]], draw: st.DataObject
) -> None:
    entries, cps, head = data
    index = draw.draw(st.integers(0, len(entries) - 1))
    report = run(entries[:index] + entries[index + 1:], cps, head)
    assert (report.ok, report.first_broken_seq) == (False, index + 1)


@settings(max_examples=100, deadline=None)
@given(signed_chains(), st.data())
def test_reordering_adjacent_entries_is_detected_at_the_first(
    data: tuple[list[Entry], list[Checkpoint], tuple[int, str]], draw: st.DataObject
) -> None:
    entries, cps, head = data
    assume(len(entries) >= 2)
    i = draw.draw(st.integers(0, len(entries) - 2))
    swapped = [*entries[:i], entries[i + 1], entries[i], *entries[i + 2:]]
    report = run(swapped, cps, head)
    assert (report.ok, report.first_broken_seq) == (False, i + 1)
