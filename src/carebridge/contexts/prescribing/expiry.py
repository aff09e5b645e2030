"""Expiring a signed prescription that was not dispensed in time: one transition, whoever notices first.

A read notices it lazily (service.get_prescription) and the hourly job (jobs.py) sweeps the rest, so an
expired prescription leaves the pharmacy queue and stops sending dose reminders even if nobody opens it. The
update is conditional on the row still being `signed`, so two processes racing on one prescription expire it
once: only the winner cancels the reminders, audits and emits `prescription.expired`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from carebridge.contexts.prescribing import notify
from carebridge.contexts.prescribing.access import trail
from carebridge.contexts.prescribing.models import Prescription
from carebridge.contexts.prescribing.schemas import RxStatus
from carebridge.kernel.events import emit


def due(rx: Prescription, now: datetime) -> bool:
    return rx.status == RxStatus.signed and rx.expires_at is not None and now >= rx.expires_at


def expire(session: Session, rx: Prescription, *, now: datetime, via: str) -> bool:
    """Expire `rx` if it is still signed and past its validity; whether this call did it."""
    if not due(rx, now):
        return False
    result = session.execute(
        update(Prescription).where(Prescription.id == rx.id, Prescription.status == RxStatus.signed.value)
        .values(status=RxStatus.expired.value, closed_at=now, updated_at=now, reminders_until=None)
        .execution_options(synchronize_session=False))
    session.refresh(rx)
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        return False
    notify.cancel_reminders(session, rx, now=now)
    trail(session, None, rx, "expire", now=now, detail={"via": via, "expires_at": rx.expires_at.isoformat()
                                                         if rx.expires_at else None})
    emit(session, "prescription.expired", {"prescription_id": str(rx.id), "patient_id": str(rx.patient_id)})
    return True
