"""Rebuilding the patient search columns and name tokens for rows written without the ORM.

The mapper events in models.py keep them right for every ORM write; a bulk load through Core
`insert(Patient)` (an import, a benchmark seed, a restore) bypasses those events, so its patients
would not be found by name or phone until this runs. It is idempotent and works in batches.
"""

from __future__ import annotations

import uuid
from typing import cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from carebridge.contexts.patients.models import Patient, PatientNameToken, derived_columns, token_rows

BATCH = 2000


def rebuild_search_index(session: Session, *, patient_ids: list[uuid.UUID] | None = None,
                         batch_size: int = BATCH) -> int:
    """Recompute `*_norm`, `name_search`, `phone_norm` and the tokens; returns how many patients were done."""
    table = cast(Table, Patient.__table__)
    set_derived = (update(table).where(table.c.id == bindparam("b_id"))
                   .values({c: bindparam(f"b_{c}") for c in ("given_name_norm", "family_name_norm", "name_search",
                                                             "phone_norm")}))
    done = 0
    last: uuid.UUID | None = None
    while True:
        stmt = select(table.c.id, table.c.given_name, table.c.family_name, table.c.preferred_name,
                      table.c.phone).order_by(table.c.id).limit(batch_size)
        if last is not None:
            stmt = stmt.where(table.c.id > last)
        if patient_ids is not None:
            stmt = stmt.where(table.c.id.in_(patient_ids))
        rows = session.execute(stmt).all()
        if not rows:
            return done
        updates, tokens = [], []
        for pid, given, family, preferred, phone in rows:
            derived = derived_columns(given, family, preferred, phone)
            updates.append({"b_id": pid, **{f"b_{k}": v for k, v in derived.items()}})
            tokens.extend(token_rows(pid, given, family, preferred))
        ids = [r[0] for r in rows]
        session.execute(set_derived, updates)
        session.execute(delete(PatientNameToken).where(PatientNameToken.patient_id.in_(ids)))
        if tokens:
            session.execute(insert(PatientNameToken), tokens)
        done += len(rows)
        last = ids[-1]
