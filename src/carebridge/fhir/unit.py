"""A SAVEPOINT around the work of one FHIR interaction, so a failure undoes exactly that work.

The request's unit of work commits whatever the endpoint leaves, and the FHIR routes answer errors
themselves (as OperationOutcome) instead of letting them escape the endpoint, so without this a
failed Bundle transaction would commit its first entries. Rolling back the savepoint also takes back
the success audit entries queued since it began (they describe work that did not happen); refusals
stay queued and commit with the request, as the audit trail requires.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, SessionTransaction

AUDIT_PENDING = "audit_pending"
"""The session.info key under which the audit context queues entries until commit (audit/ledger.py)."""


@dataclass(slots=True)
class Unit:
    session: Session
    savepoint: SessionTransaction
    mark: int

    def rollback(self) -> None:
        if self.savepoint.is_active:
            self.savepoint.rollback()
        pending: list[dict[str, Any]] = self.session.info.get(AUDIT_PENDING, [])
        pending[self.mark:] = [e for e in pending[self.mark:] if e.get("outcome") != "success"]

    def commit(self) -> None:
        if self.savepoint.is_active:
            self.savepoint.commit()


def begin(session: Session) -> Unit:
    mark = len(session.info.setdefault(AUDIT_PENDING, []))
    return Unit(session=session, savepoint=session.begin_nested(), mark=mark)
