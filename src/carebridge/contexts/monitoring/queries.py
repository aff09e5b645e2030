"""Readings and devices by id, and keyset-paged reading searches: what the FHIR facade asks of monitoring.

`find_readings` filters in SQL on (patient, type, observed time), newest first, so a search by patient and
reading type is one range scan on ix_vital_readings_patient_type_time; the cursor is the last (time, id),
so pages stay stable while a device keeps sending readings. Every call asks the policy (vitals category)
and leaves an audit entry.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts import audit
from carebridge.contexts.monitoring.devices import to_read
from carebridge.contexts.monitoring.models import Device, VitalReading
from carebridge.contexts.monitoring.schemas import DeviceRead
from carebridge.contexts.patients import load_patient_for
from carebridge.kernel.errors import NotFound, ValidationProblem
from carebridge.kernel.pagination import Page, decode_cursor, encode_cursor
from carebridge.security import DataCategory, Permission, Principal


class StoredReading(BaseModel):
    """One stored reading with its row id (the REST history answers without ids)."""

    id: int
    patient_id: uuid.UUID
    device_id: uuid.UUID
    type: str
    value: float
    unit: str
    observed_at: datetime
    received_at: datetime


StoredReadingPage = Page[StoredReading]


def _stored(r: VitalReading) -> StoredReading:
    return StoredReading(id=r.id, patient_id=r.patient_id, device_id=r.device_id, type=r.type, value=r.value,
                         unit=r.unit, observed_at=r.observed_at, received_at=r.received_at)


def _allow(session: Session, principal: Principal, patient_id: uuid.UUID, now: datetime) -> None:
    load_patient_for(session, principal, patient_id, Permission.record_read, now=now, audit_success=False,
                     action="read", category=DataCategory.vitals)


def get_reading(session: Session, principal: Principal, *, reading_id: int, now: datetime) -> StoredReading:
    row = session.get(VitalReading, reading_id)
    if row is None:
        raise NotFound("no such reading")
    _allow(session, principal, row.patient_id, now)
    audit.record(session, principal, action="read", resource_type="VitalReading", resource_id=None,
                 patient_id=row.patient_id, detail={"reading_id": row.id}, at=now)
    return _stored(row)


def find_readings(session: Session, principal: Principal, *, patient_id: uuid.UUID, types: list[str] | None,
                  since: datetime | None, before: datetime | None, limit: int, cursor: str | None,
                  now: datetime) -> StoredReadingPage:
    """Newest first; `types` None means every type, [] means none; `since` inclusive, `before` exclusive."""
    _allow(session, principal, patient_id, now)
    rows: list[VitalReading] = []
    more = False
    if types is None or types:
        q = select(VitalReading).where(VitalReading.patient_id == patient_id)
        if types is not None:
            q = q.where(VitalReading.type.in_(types))
        if since is not None:
            q = q.where(VitalReading.observed_at >= since)
        if before is not None:
            q = q.where(VitalReading.observed_at < before)
        keys = decode_cursor(cursor, arity=2)
        if keys is not None:
            try:
                at, rid = datetime.fromisoformat(str(keys[0])), int(str(keys[1]))
            except ValueError as exc:
                raise ValidationProblem("cursor is not one this server issued",
                                        errors=[{"field": "cursor", "message": "malformed"}]) from exc
            q = q.where((VitalReading.observed_at < at) | ((VitalReading.observed_at == at) & (VitalReading.id < rid)))
        rows = list(session.scalars(q.order_by(VitalReading.observed_at.desc(), VitalReading.id.desc())
                                    .limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
    audit.record(session, principal, action="search", resource_type="VitalReading", patient_id=patient_id,
                 detail={"count": len(rows)}, at=now)
    nxt = encode_cursor([rows[-1].observed_at.isoformat(), rows[-1].id]) if more else None
    return StoredReadingPage(items=[_stored(r) for r in rows], next_cursor=nxt, limit=limit)


def get_device(session: Session, principal: Principal, *, device_id: uuid.UUID, now: datetime) -> DeviceRead:
    row = session.get(Device, device_id)
    if row is None:
        raise NotFound("no such device")
    _allow(session, principal, row.patient_id, now)
    audit.record(session, principal, action="read", resource_type="Device", resource_id=row.id,
                 patient_id=row.patient_id, at=now)
    return to_read(row)


def find_devices(session: Session, principal: Principal, *, patient_id: uuid.UUID, type_: str | None,
                 limit: int, cursor: str | None, now: datetime) -> Page[DeviceRead]:
    """A patient's devices, oldest first, keyset on (created_at, id)."""
    _allow(session, principal, patient_id, now)
    q = select(Device).where(Device.patient_id == patient_id)
    if type_ is not None:
        q = q.where(Device.type == type_)
    keys = decode_cursor(cursor, arity=2)
    if keys is not None:
        try:
            at, rid = datetime.fromisoformat(str(keys[0])), uuid.UUID(str(keys[1]))
        except ValueError as exc:
            raise ValidationProblem("cursor is not one this server issued",
                                    errors=[{"field": "cursor", "message": "malformed"}]) from exc
        q = q.where((Device.created_at > at) | ((Device.created_at == at) & (Device.id > rid)))
    rows = list(session.scalars(q.order_by(Device.created_at, Device.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    audit.record(session, principal, action="search", resource_type="Device", patient_id=patient_id,
                 detail={"count": len(rows)}, at=now)
    nxt = encode_cursor([rows[-1].created_at.isoformat(), str(rows[-1].id)]) if more else None
    return Page[DeviceRead](items=[to_read(r) for r in rows], next_cursor=nxt, limit=limit)
