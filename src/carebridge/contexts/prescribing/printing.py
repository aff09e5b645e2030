"""The printed prescription: what a pharmacy elsewhere (or a patient) needs on paper, and the QR that proves it.

The QR code carries the signed statement (signing.py: prescription id, content hash, prescriber, time, Ed25519
signature), so anyone with the server's public key can check the paper offline, and `POST
/prescriptions/verify-text` checks it online. The prescriber's name comes from a read-only projection of the
users table (id, full_name), as notify.py finds the patient's account: a lookup, not a dependency on identity.
Reading the sheet is a prescription read (policy + audit); fetching its QR is audited as `print`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel
from sqlalchemy import String, Uuid, column, select, table
from sqlalchemy.orm import Session

from carebridge.contexts.prescribing import service
from carebridge.contexts.prescribing.access import patient_for
from carebridge.contexts.prescribing.schemas import PrescriptionRead
from carebridge.security import Permission, Principal

_users = table("users", column("id", Uuid()), column("full_name", String()))


class PrintedRx(BaseModel):
    rx: PrescriptionRead
    patient_name: str
    birth_date: date | None
    prescriber_name: str
    signed: bool
    printed_at: datetime


def printable(session: Session, principal: Principal, *, rx_id: uuid.UUID, now: datetime) -> PrintedRx:
    rx = service.get_prescription(session, principal, rx_id=rx_id, now=now)
    patient = patient_for(session, principal, rx.patient_id, Permission.prescription_read, now=now)
    name = session.scalar(select(_users.c.full_name).where(_users.c.id == rx.prescriber_id))
    return PrintedRx(rx=rx, patient_name=f"{patient.given_name} {patient.family_name}".strip(),
                     birth_date=patient.birth_date, prescriber_name=str(name or ""),
                     signed=rx.signed_at is not None and rx.content_hash is not None, printed_at=now)
