"""When two patient records are merged, the duplicate's appointments, waitlist entries and queue tokens move
to the survivor (so their history and upcoming visits are not orphaned)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from carebridge.contexts import patients
from carebridge.contexts.scheduling.models import Appointment, QueueToken, WaitlistEntry


@patients.on_patient_merged("scheduling")
def move_scheduling(session: Session, *, source_id: uuid.UUID, target_id: uuid.UUID,
                    now: datetime) -> dict[str, int]:
    moved: dict[str, int] = {}
    for name, model in (("appointments", Appointment), ("waitlist_entries", WaitlistEntry),
                        ("queue_tokens", QueueToken)):
        result = session.execute(update(model).where(model.patient_id == source_id).values(patient_id=target_id))
        count = int(getattr(result, "rowcount", 0) or 0)
        if count:  # only what moved goes into the survivor's audit entry
            moved[name] = count
    return moved
