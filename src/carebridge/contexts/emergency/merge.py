"""When two patient records are merged, the duplicate's SOS history moves to the survivor; its emergency
profile moves too unless the survivor already keeps one (the survivor's own words win)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from carebridge.contexts import patients
from carebridge.contexts.emergency.models import EmergencyProfile, SosEvent


@patients.on_patient_merged("emergency")
def move_emergency(session: Session, *, source_id: uuid.UUID, target_id: uuid.UUID,
                   now: datetime) -> dict[str, int]:
    moved: dict[str, int] = {}
    result = session.execute(update(SosEvent).where(SosEvent.patient_id == source_id).values(patient_id=target_id))
    if count := int(getattr(result, "rowcount", 0) or 0):
        moved["sos_events"] = count
    source = session.get(EmergencyProfile, source_id)
    if source is not None:
        if session.get(EmergencyProfile, target_id) is None:
            session.add(EmergencyProfile(patient_id=target_id, blood_group=source.blood_group,
                                         allergies=list(source.allergies), conditions=list(source.conditions),
                                         medications=list(source.medications), notes=source.notes,
                                         updated_at=now, version=1))
            moved["emergency_profiles"] = 1
        session.delete(source)
        session.flush()
    return moved
