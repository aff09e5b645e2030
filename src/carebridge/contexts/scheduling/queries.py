"""Lookups the FHIR facade needs: a patient's appointments keyset-paged over (start, id) with status, practitioner
and time filters in SQL (ix_appointments_patient_start), and one availability rule (a FHIR Schedule) by id.
Policy and audit as for the patient's appointment list.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts import audit
from carebridge.contexts.scheduling.availability import rule_read
from carebridge.contexts.scheduling.booking import appointment_read
from carebridge.contexts.scheduling.models import Appointment, AvailabilityRule
from carebridge.contexts.scheduling.permissions import patient_for
from carebridge.contexts.scheduling.schemas import AppointmentRead, AvailabilityRuleRead
from carebridge.kernel.errors import NotFound, ValidationProblem
from carebridge.kernel.pagination import Page, decode_cursor, encode_cursor
from carebridge.security import Permission, Principal, require


def find_appointments(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime, limit: int,
                      cursor: str | None, status: str | None = None, practitioner_id: uuid.UUID | None = None,
                      since: datetime | None = None, before: datetime | None = None) -> Page[AppointmentRead]:
    """Oldest first; `since` inclusive and `before` exclusive on the start."""
    patient_for(session, principal, patient_id, Permission.appointment_read, now=now, action="search")
    stmt = select(Appointment).where(Appointment.patient_id == patient_id)
    if status is not None:
        stmt = stmt.where(Appointment.status == status)
    if practitioner_id is not None:
        stmt = stmt.where(Appointment.practitioner_id == practitioner_id)
    if since is not None:
        stmt = stmt.where(Appointment.start_at >= since)
    if before is not None:
        stmt = stmt.where(Appointment.start_at < before)
    keys = decode_cursor(cursor, arity=2)
    if keys:
        try:
            at, last = datetime.fromisoformat(str(keys[0])), uuid.UUID(str(keys[1]))
        except ValueError as exc:
            raise ValidationProblem("cursor is not one this server issued",
                                    errors=[{"field": "cursor", "message": "malformed"}]) from exc
        stmt = stmt.where((Appointment.start_at > at) | ((Appointment.start_at == at) & (Appointment.id > last)))
    rows = list(session.scalars(stmt.order_by(Appointment.start_at, Appointment.id).limit(limit + 1)))
    more, rows = len(rows) > limit, rows[:limit]
    audit.record(session, principal, action="search", resource_type="Appointment", patient_id=patient_id,
                 detail={"count": len(rows)}, at=now)
    nxt = encode_cursor([rows[-1].start_at.isoformat(), str(rows[-1].id)]) if more and rows else None
    return Page[AppointmentRead](items=[appointment_read(a) for a in rows], next_cursor=nxt, limit=limit)


def get_rule(session: Session, principal: Principal, *, rule_id: uuid.UUID) -> AvailabilityRuleRead:
    """Availability is directory data: anyone who may read practitioners may read it (as `list_rules`)."""
    require(principal, Permission.practitioner_read)
    row = session.get(AvailabilityRule, rule_id)
    if row is None:
        raise NotFound("no such availability rule")
    return rule_read(row)
