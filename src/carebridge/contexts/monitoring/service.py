"""Monitoring use cases the API and pages call: device ingestion entry, reading history, live-stream access.

Devices, ingestion, alerts and rules live in their own modules (devices.py, ingest.py, alerts.py, rules.py);
this module re-exports them so callers have one door.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts import audit
from carebridge.contexts.monitoring import alerts, devices, ingest, merge, rules
from carebridge.contexts.monitoring.models import VitalReading
from carebridge.contexts.monitoring.schemas import BatchReport, ReadingPage, ReadingRead
from carebridge.contexts.patients import load_patient_for
from carebridge.kernel.errors import ValidationProblem
from carebridge.security import DataCategory, Permission, Principal

MAX_READINGS = 5000
MAX_STREAM_PATIENTS = 100

register_device = devices.register_device
list_devices = devices.list_devices
revoke_device = devices.revoke_device
authenticate_device = devices.authenticate_device
current_news2 = alerts.current_news2
list_alerts = alerts.list_alerts
acknowledge_alert = alerts.acknowledge
resolve_alert = alerts.resolve
escalate_overdue = alerts.escalate_overdue
set_rule = rules.set_rule
move_monitoring = merge.move_monitoring  # registered as the monitoring merge handler on import
list_rules = rules.list_rules
delete_rule = rules.delete_rule


def ingest_from_device(session: Session, *, credential: str | None, items: list[Any], now: datetime,
                       channel: str = "http", device_id: uuid.UUID | None = None) -> BatchReport:
    device = devices.authenticate_device(session, credential, device_id=device_id)
    return ingest.ingest(session, device, items, now=now, channel=channel)


def list_readings(session: Session, principal: Principal, *, patient_id: uuid.UUID, reading_type: str | None,
                  since: datetime | None, until: datetime | None, limit: int, now: datetime) -> ReadingPage:
    load_patient_for(session, principal, patient_id, Permission.record_read, now=now, action="read",
                     category=DataCategory.vitals)
    until = until or now
    since = since or until - timedelta(days=1)
    if since >= until:
        raise ValidationProblem("since must be before until", errors=[{"field": "since", "message": "not before"}])
    stmt = (select(VitalReading).where(VitalReading.patient_id == patient_id, VitalReading.observed_at >= since,
                                       VitalReading.observed_at <= until)
            .order_by(VitalReading.observed_at.desc()).limit(min(limit, MAX_READINGS)))
    if reading_type:
        stmt = stmt.where(VitalReading.type == reading_type)
    rows = session.scalars(stmt)
    return ReadingPage(items=[ReadingRead(type=r.type, value=r.value, unit=r.unit, at=r.observed_at,
                                          device_id=r.device_id) for r in rows])


def authorize_stream(session: Session, principal: Principal, *, patient_ids: list[uuid.UUID],
                     now: datetime) -> frozenset[uuid.UUID]:
    """The patients whose live vitals and alerts this clinician may watch: each is checked (and audited) once,
    when the stream opens; the stream then only passes events about them."""
    if not patient_ids or len(patient_ids) > MAX_STREAM_PATIENTS:
        raise ValidationProblem(f"name 1 to {MAX_STREAM_PATIENTS} patients",
                                errors=[{"field": "patient", "message": "1 to 100 ids"}])
    for pid in dict.fromkeys(patient_ids):
        load_patient_for(session, principal, pid, Permission.record_read, now=now, audit_success=False,
                         category=DataCategory.vitals)
        audit.record(session, principal, action="read", resource_type="VitalStream", patient_id=pid, at=now)
    return frozenset(patient_ids)
