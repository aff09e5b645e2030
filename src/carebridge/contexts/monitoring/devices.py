"""Devices bound to a patient and their credentials: a random secret shown once, stored as a SHA-256 digest
(the secret has 192 bits of entropy, so a slow password hash would add nothing), revocable at once."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts import audit
from carebridge.contexts.monitoring.models import Device
from carebridge.contexts.monitoring.schemas import DeviceCreate, DeviceIssued, DeviceList, DeviceRead
from carebridge.contexts.patients import load_patient_for
from carebridge.kernel.errors import Conflict, NotFound, Unauthorized
from carebridge.kernel.ids import new_id
from carebridge.security import DataCategory, Permission, Principal

PREFIX = "cbd"
RESOURCE = "Device"
BAD_CREDENTIAL = "device credential is missing, malformed, unknown or revoked"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def to_read(row: Device) -> DeviceRead:
    return DeviceRead(id=row.id, patient_id=row.patient_id, type=row.type, serial=row.serial, label=row.label,
                      spo2_scale=row.spo2_scale, created_at=row.created_at, revoked_at=row.revoked_at,
                      last_seen_at=row.last_seen_at)


def register_device(session: Session, principal: Principal, *, patient_id: uuid.UUID, data: DeviceCreate,
                    now: datetime) -> DeviceIssued:
    load_patient_for(session, principal, patient_id, Permission.record_write, now=now, audit_success=False,
                     action="create", category=DataCategory.vitals)
    taken = session.scalar(select(Device.id).where(Device.type == data.type, Device.serial == data.serial))
    if taken is not None:
        raise Conflict("a device of this type with this serial is already registered")
    secret = secrets.token_urlsafe(24)
    row = Device(id=new_id(), patient_id=patient_id, type=data.type, serial=data.serial, label=data.label,
                 secret_hash=_digest(secret), spo2_scale=data.spo2_scale, created_at=now, created_by=principal.user_id)
    session.add(row)
    session.flush()
    audit.record(session, principal, action="create", resource_type=RESOURCE, resource_id=row.id,
                 patient_id=patient_id, detail={"type": data.type}, at=now)
    return DeviceIssued(**to_read(row).model_dump(), credential=f"{PREFIX}_{row.id.hex}_{secret}")


def list_devices(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime) -> DeviceList:
    load_patient_for(session, principal, patient_id, Permission.record_read, now=now, action="read",
                     category=DataCategory.vitals)
    rows = session.scalars(select(Device).where(Device.patient_id == patient_id).order_by(Device.created_at))
    return DeviceList(items=[to_read(r) for r in rows])


def revoke_device(session: Session, principal: Principal, *, device_id: uuid.UUID, now: datetime) -> DeviceRead:
    row = session.get(Device, device_id)
    if row is None:
        raise NotFound("no such device")
    load_patient_for(session, principal, row.patient_id, Permission.record_write, now=now, audit_success=False,
                     action="update", category=DataCategory.vitals)
    if row.revoked_at is None:
        row.revoked_at = now
    audit.record(session, principal, action="update", resource_type=RESOURCE, resource_id=row.id,
                 patient_id=row.patient_id, detail={"revoked": True}, at=now)
    return to_read(row)


def parse_credential(credential: str) -> tuple[uuid.UUID, str] | None:
    parts = credential.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or len(credential) > 200:
        return None
    try:
        return uuid.UUID(hex=parts[1]), parts[2]
    except ValueError:
        return None


def authenticate_device(session: Session, credential: str | None, *, device_id: uuid.UUID | None = None) -> Device:
    """The device this credential belongs to; 401 for anything else (a revoked device included). `device_id`
    (from an MQTT topic) must match the credential's own."""
    parsed = parse_credential(credential or "")
    if parsed is None or (device_id is not None and parsed[0] != device_id):
        raise Unauthorized(BAD_CREDENTIAL)
    row = session.get(Device, parsed[0])
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.secret_hash, _digest(parsed[1])):
        raise Unauthorized(BAD_CREDENTIAL)
    return row
