"""Reaching a prescription: the patients policy (category `prescriptions`) and one audit entry per access."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, lazyload

from carebridge.contexts import audit, patients
from carebridge.contexts.patients.models import Patient
from carebridge.contexts.prescribing.models import Prescription, PrescriptionItem
from carebridge.kernel.errors import NotFound
from carebridge.security import DataCategory, Permission, Principal

RESOURCE = "Prescription"

# Built once: the on-demand check is on the prescriber's hot path, and building a statement costs as much as
# running it. The patient comes in the same row as the prescription (without its identifiers and contacts,
# which prescribing never reads), so the policy's own look-up finds it in the session instead of querying.
_RX_WITH_PATIENT = (select(Prescription, Patient).join(Patient, Patient.id == Prescription.patient_id)
                    .where(Prescription.id == bindparam("rx_id"))
                    .options(lazyload(Patient.identifiers), lazyload(Patient.emergency_contacts)))
_ITEMS = (select(PrescriptionItem).where(PrescriptionItem.prescription_id == bindparam("rx_id"))
          .order_by(PrescriptionItem.position))


def patient_for(session: Session, principal: Principal, patient_id: uuid.UUID, permission: Permission, *,
                now: datetime) -> Patient:
    return patients.load_patient_for(session, principal, patient_id, permission, now=now, audit_success=False,
                                     category=DataCategory.prescriptions, purpose=_purpose(principal))


def load(session: Session, principal: Principal, rx_id: uuid.UUID, permission: Permission, *,
         now: datetime) -> tuple[Prescription, list[PrescriptionItem], Patient]:
    """The prescription, its items and its patient if the policy allows; 404 for an unknown id."""
    row = session.execute(_RX_WITH_PATIENT, {"rx_id": rx_id}).first()
    if row is None:
        raise NotFound("no such prescription")
    rx = row[0]
    patient = patient_for(session, principal, rx.patient_id, permission, now=now)
    return rx, items_of(session, rx.id), patient


def items_of(session: Session, rx_id: uuid.UUID) -> list[PrescriptionItem]:
    return list(session.scalars(_ITEMS, {"rx_id": rx_id}))


def trail(session: Session, principal: Principal | None, rx: Prescription, action: str, *, now: datetime,
          detail: dict[str, Any] | None = None) -> None:
    audit.record(session, principal, action=action, resource_type=RESOURCE, resource_id=rx.id,
                 patient_id=rx.patient_id, purpose=_purpose(principal), detail=detail or {}, at=now)


def age_years(birth: date | None, now: datetime) -> float | None:
    if birth is None:
        return None
    today = now.date()
    return float(today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day)))


def _purpose(principal: Principal | None) -> str:
    """None is the system (a re-check after a record change), acting for the patient's treatment."""
    return "treatment" if principal is None or principal.is_staff else "patient_request"
