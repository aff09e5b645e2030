"""Per-patient threshold rules the care team sets, in the reading type's canonical unit."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts import audit
from carebridge.contexts.monitoring.models import ThresholdRule
from carebridge.contexts.monitoring.schemas import ThresholdRuleIn, ThresholdRuleList, ThresholdRuleRead
from carebridge.contexts.patients import load_patient_for
from carebridge.engines.vitals import catalog
from carebridge.kernel.errors import NotFound, ValidationProblem
from carebridge.security import DataCategory, Permission, Principal


def _read(row: ThresholdRule) -> ThresholdRuleRead:
    return ThresholdRuleRead(id=row.id, patient_id=row.patient_id, type=row.type, min=row.min, max=row.max,
                             note=row.note)


def set_rule(session: Session, principal: Principal, *, patient_id: uuid.UUID, reading_type: str,
             data: ThresholdRuleIn, now: datetime) -> ThresholdRuleRead:
    load_patient_for(session, principal, patient_id, Permission.record_write, now=now, audit_success=False,
                     action="update", category=DataCategory.vitals)
    if reading_type not in catalog() or catalog()[reading_type].codes:
        raise ValidationProblem("no threshold can be set on this reading type",
                                errors=[{"field": "type", "message": "unknown or not numeric"}])
    if data.min is None and data.max is None:
        raise ValidationProblem("give min, max or both", errors=[{"field": "min", "message": "required"}])
    if data.min is not None and data.max is not None and data.min >= data.max:
        raise ValidationProblem("min must be below max", errors=[{"field": "min", "message": "not below max"}])
    row = session.scalars(select(ThresholdRule).where(ThresholdRule.patient_id == patient_id,
                                                      ThresholdRule.type == reading_type)).first()
    if row is None:
        row = ThresholdRule(patient_id=patient_id, type=reading_type, created_by=principal.user_id, created_at=now,
                            updated_at=now)
        session.add(row)
    row.min, row.max, row.note, row.updated_at = data.min, data.max, data.note, now
    session.flush()
    audit.record(session, principal, action="update", resource_type="ThresholdRule", resource_id=row.id,
                 patient_id=patient_id, detail={"type": reading_type}, at=now)
    return _read(row)


def list_rules(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime) -> ThresholdRuleList:
    load_patient_for(session, principal, patient_id, Permission.record_read, now=now, action="read",
                     category=DataCategory.vitals)
    rows = session.scalars(select(ThresholdRule).where(ThresholdRule.patient_id == patient_id)
                           .order_by(ThresholdRule.type))
    return ThresholdRuleList(items=[_read(r) for r in rows])


def delete_rule(session: Session, principal: Principal, *, patient_id: uuid.UUID, reading_type: str,
                now: datetime) -> None:
    load_patient_for(session, principal, patient_id, Permission.record_write, now=now, audit_success=False,
                     action="delete", category=DataCategory.vitals)
    row = session.scalars(select(ThresholdRule).where(ThresholdRule.patient_id == patient_id,
                                                      ThresholdRule.type == reading_type)).first()
    if row is None:
        raise NotFound("no threshold rule for this reading type")
    session.delete(row)
    audit.record(session, principal, action="delete", resource_type="ThresholdRule", resource_id=row.id,
                 patient_id=patient_id, detail={"type": reading_type}, at=now)
