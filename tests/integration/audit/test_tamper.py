"""Tampering with the stored trail directly, as a database superuser would, is caught at the right entry.

Each test first disables the append-only triggers (an attacker with owner or superuser rights can),
then edits the tables with plain SQL; the per-test SAVEPOINT undoes it all afterwards.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from carebridge.contexts.audit import service as audit
from carebridge.contexts.audit.models import AuditEntry
from carebridge.engines.audit_chain import GENESIS_HASH, link_hash
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from tests.integration.audit.helpers import KEY, SIGNER, T0, append, drop_guards

# 8 entries, a checkpoint every 3: signed at 3 and 6, entries 7 and 8 unsigned, head at 8.


@pytest.fixture
def trail(database: Database) -> Database:
    audit.install(database.sessions, SIGNER, checkpoint_every=3, clock=FixedClock(T0))
    append(database, 8)
    return database


def _hash_of(s: Session, seq: int) -> str:
    return str(s.execute(text("SELECT hash FROM audit_entries WHERE seq = :s"), {"s": seq}).scalar_one())


def update_field(s: Session) -> None:
    s.execute(text("UPDATE audit_entries SET username = 'someone-else' WHERE seq = 4"))


def delete_row(s: Session) -> None:
    s.execute(text("DELETE FROM audit_entries WHERE seq = 5"))


def swap_rows(s: Session) -> None:
    s.execute(text("UPDATE audit_entries SET seq = -1 WHERE seq = 7"))
    s.execute(text("UPDATE audit_entries SET seq = 7 WHERE seq = 8"))
    s.execute(text("UPDATE audit_entries SET seq = 8 WHERE seq = -1"))


def truncate_unsigned_tail(s: Session) -> None:
    s.execute(text("DELETE FROM audit_entries WHERE seq > 6"))


def truncate_into_signed_part(s: Session) -> None:
    s.execute(text("DELETE FROM audit_entries WHERE seq > 4"))
    s.execute(text("UPDATE audit_head SET seq = 4, hash = :h"), {"h": _hash_of(s, 4)})


def forge_signature(s: Session) -> None:
    s.execute(text("UPDATE audit_checkpoints SET signature = :sig WHERE seq = 3"),
              {"sig": base64.b64encode(b"\x01" * 64).decode()})


def garble_signature(s: Session) -> None:
    s.execute(text("UPDATE audit_checkpoints SET signature = 'not base64!' WHERE seq = 6"))


def rewind_head(s: Session) -> None:
    s.execute(text("UPDATE audit_head SET seq = 6, hash = :h"), {"h": _hash_of(s, 6)})


def rewrite_head_hash(s: Session) -> None:
    s.execute(text("UPDATE audit_head SET hash = :h"), {"h": "f" * 64})


def delete_head(s: Session) -> None:
    s.execute(text("DELETE FROM audit_head"))


def recompute_from(seq: int, *, delete_checkpoints_after: int | None = None) -> Callable[[Session], None]:
    """The careful attacker: change an entry, recompute every later hash and move the head along."""
    def tamper(s: Session) -> None:
        s.execute(text("UPDATE audit_entries SET purpose = 'research' WHERE seq = :s"), {"s": seq})
        rows = [dict(r._mapping) for r in s.execute(select(AuditEntry.__table__).order_by(AuditEntry.seq))]
        prev = GENESIS_HASH
        for row in rows:
            row["prev_hash"] = prev
            row["hash"] = link_hash(prev, row)
            s.execute(text("UPDATE audit_entries SET prev_hash = :p, hash = :h WHERE seq = :s"),
                      {"p": row["prev_hash"], "h": row["hash"], "s": row["seq"]})
            prev = row["hash"]
        s.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})
        if delete_checkpoints_after is not None:
            s.execute(text("DELETE FROM audit_checkpoints WHERE seq > :s"), {"s": delete_checkpoints_after})
    return tamper


CASES: list[tuple[str, Callable[[Session], None], int, str]] = [
    ("update a field", update_field, 4, "altered"),
    ("delete a row", delete_row, 5, "missing"),
    ("swap two rows' seq", swap_rows, 7, "does not link"),
    ("truncate the tail past the last checkpoint", truncate_unsigned_tail, 7, "head records entry 8"),
    ("truncate into the signed part and rewind the head", truncate_into_signed_part, 5, "signed checkpoint covers"),
    ("forge a checkpoint signature", forge_signature, 3, "invalid signature"),
    ("garble a checkpoint signature", garble_signature, 6, "invalid signature"),
    ("rewind the head", rewind_head, 7, "not covered by the head"),
    ("rewrite the head's hash", rewrite_head_hash, 8, "head's hash"),
    ("delete the head", delete_head, 1, "not covered by the head"),
    ("recompute the chain after an edit", recompute_from(2), 3, "differs from its signed checkpoint"),
]


@pytest.mark.parametrize(("name", "tamper", "first_broken", "problem"), CASES, ids=[c[0] for c in CASES])
def test_verify_catches_tampering_at_the_first_broken_entry(
    trail: Database, name: str, tamper: Callable[[Session], None], first_broken: int, problem: str
) -> None:
    assert audit.verify(trail.transaction, [KEY.public_key()]).ok
    with trail.unit_of_work() as s:
        drop_guards(s)
        tamper(s)
    with trail.unit_of_work() as one_session:
        whole = audit.verify(one_session, [KEY.public_key()])
    for report in (audit.verify(trail.transaction, [KEY.public_key()], batch=3), whole):
        assert not report.ok
        assert report.first_broken_seq == first_broken, report
        assert problem in (report.problem or ""), report.problem


def test_the_documented_limit_an_unsigned_tail_recomputed_with_the_head_passes(trail: Database) -> None:
    """Entries after the last checkpoint are protected by the chain and head only: sign often."""
    with trail.unit_of_work() as s:
        drop_guards(s)
        recompute_from(7)(s)
    assert audit.verify(trail.transaction, [KEY.public_key()]).ok


def test_deleting_checkpoints_before_a_rewrite_is_caught_only_by_an_external_anchor(trail: Database) -> None:
    with trail.unit_of_work() as s:
        anchor = {6: _hash_of(s, 6)}  # e.g. from the "audit checkpoint signed" log line
        drop_guards(s)
        recompute_from(5, delete_checkpoints_after=3)(s)
    assert audit.verify(trail.transaction, [KEY.public_key()]).ok
    report = audit.verify(trail.transaction, [KEY.public_key()], anchors=anchor)
    assert (report.ok, report.first_broken_seq) == (False, 6)
    assert "external anchor" in (report.problem or "")


def test_an_anchor_past_the_end_reveals_a_truncation_with_the_head_rewound(trail: Database) -> None:
    with trail.unit_of_work() as s:
        anchor = {8: _hash_of(s, 8)}
        drop_guards(s)
        s.execute(text("DELETE FROM audit_entries WHERE seq > 6"))
        s.execute(text("UPDATE audit_head SET seq = 6, hash = :h"), {"h": _hash_of(s, 6)})
    assert audit.verify(trail.transaction, [KEY.public_key()]).ok
    report = audit.verify(trail.transaction, [KEY.public_key()], anchors=anchor)
    assert (report.ok, report.first_broken_seq) == (False, 7)


def test_a_checkpoint_by_a_retired_key_verifies_when_that_key_is_trusted(trail: Database) -> None:
    new_key = Ed25519PrivateKey.from_private_bytes(bytes(range(100, 132)))
    with trail.unit_of_work() as s:
        audit.checkpoint_now(s, audit.AuditSigner(new_key))
    assert not audit.verify(trail.transaction, [new_key.public_key()]).ok
    assert audit.verify(trail.transaction, [new_key.public_key(), KEY.public_key()]).ok
