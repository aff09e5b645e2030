"""Lookups the FHIR facade needs: a prescription by one of its items (FHIR MedicationRequest is one medicine),
and a patient's dispensings (MedicationDispense), keyset-paged newest first. Same policy and audit as the
prescription reads: the prescriptions data category, an audit entry per call.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts import audit
from carebridge.contexts.prescribing import service
from carebridge.contexts.prescribing.access import RESOURCE, patient_for
from carebridge.contexts.prescribing.models import DispenseRecord, Prescription, PrescriptionItem
from carebridge.contexts.prescribing.schemas import PrescriptionRead
from carebridge.kernel.errors import NotFound, ValidationProblem
from carebridge.kernel.pagination import Page, decode_cursor, encode_cursor
from carebridge.security import Permission, Principal


class DispenseEntry(BaseModel):
    """One dispensing of one prescribed medicine, with what FHIR MedicationDispense needs beside it."""

    id: uuid.UUID
    prescription_id: uuid.UUID
    item_id: uuid.UUID
    patient_id: uuid.UUID
    medication: str
    quantity: int
    unit: str
    pharmacist_id: uuid.UUID
    organization_id: uuid.UUID | None
    at: datetime


def prescription_of_item(session: Session, principal: Principal, *, item_id: uuid.UUID,
                         now: datetime) -> PrescriptionRead:
    rx_id = session.scalar(select(PrescriptionItem.prescription_id).where(PrescriptionItem.id == item_id))
    if rx_id is None:
        raise NotFound("no such prescribed medicine")
    return service.get_prescription(session, principal, rx_id=rx_id, now=now)


def _entry(d: DispenseRecord, item: PrescriptionItem, patient_id: uuid.UUID) -> DispenseEntry:
    return DispenseEntry(id=d.id, prescription_id=d.prescription_id, item_id=d.item_id, patient_id=patient_id,
                         medication=item.medication, quantity=d.quantity, unit=item.unit,
                         pharmacist_id=d.pharmacist_id, organization_id=d.organization_id, at=d.at)


def get_dispense(session: Session, principal: Principal, *, dispense_id: uuid.UUID, now: datetime) -> DispenseEntry:
    row = session.execute(select(DispenseRecord, PrescriptionItem, Prescription.patient_id)
                          .join(PrescriptionItem, PrescriptionItem.id == DispenseRecord.item_id)
                          .join(Prescription, Prescription.id == DispenseRecord.prescription_id)
                          .where(DispenseRecord.id == dispense_id)).first()
    if row is None:
        raise NotFound("no such dispensing")
    patient_for(session, principal, row[2], Permission.prescription_read, now=now)
    audit.record(session, principal, action="read", resource_type=RESOURCE, resource_id=row[0].prescription_id,
                 patient_id=row[2], detail={"dispense_id": str(dispense_id)}, at=now)
    return _entry(row[0], row[1], row[2])


def list_dispenses(session: Session, principal: Principal, *, patient_id: uuid.UUID, limit: int,
                   cursor: str | None, now: datetime) -> Page[DispenseEntry]:
    patient_for(session, principal, patient_id, Permission.prescription_read, now=now)
    stmt = (select(DispenseRecord, PrescriptionItem)
            .join(PrescriptionItem, PrescriptionItem.id == DispenseRecord.item_id)
            .join(Prescription, Prescription.id == DispenseRecord.prescription_id)
            .where(Prescription.patient_id == patient_id))
    keys = decode_cursor(cursor, arity=2)
    if keys:
        try:
            at, last = datetime.fromisoformat(str(keys[0])), uuid.UUID(str(keys[1]))
        except ValueError as exc:
            raise ValidationProblem("cursor is not one this server issued",
                                    errors=[{"field": "cursor", "message": "malformed"}]) from exc
        stmt = stmt.where((DispenseRecord.at < at) | ((DispenseRecord.at == at) & (DispenseRecord.id < last)))
    rows = list(session.execute(stmt.order_by(DispenseRecord.at.desc(), DispenseRecord.id.desc()).limit(limit + 1)))
    more, rows = len(rows) > limit, rows[:limit]
    audit.record(session, principal, action="search", resource_type="Dispense", patient_id=patient_id,
                 detail={"count": len(rows)}, at=now)
    nxt = encode_cursor([rows[-1][0].at.isoformat(), str(rows[-1][0].id)]) if more and rows else None
    return Page[DispenseEntry](items=[_entry(d, i, patient_id) for d, i in rows], next_cursor=nxt, limit=limit)
