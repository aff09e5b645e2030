"""When two patient records are merged, the duplicate's clinical record (every entry, its amendments and its
timeline rows) moves to the survivor, so no visit, result or vaccine is orphaned."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from carebridge.contexts import patients
from carebridge.contexts.records.models import (
    Allergy,
    Amendment,
    CarePlan,
    Condition,
    DischargeSummary,
    Encounter,
    Immunization,
    Observation,
    TimelineEntry,
)

_TABLES = (("encounters", Encounter), ("conditions", Condition), ("allergies", Allergy),
           ("observations", Observation), ("immunizations", Immunization), ("care_plans", CarePlan),
           ("discharge_summaries", DischargeSummary), ("record_amendments", Amendment),
           ("timeline_entries", TimelineEntry))


@patients.on_patient_merged("records")
def move_records(session: Session, *, source_id: uuid.UUID, target_id: uuid.UUID, now: datetime) -> dict[str, int]:
    moved: dict[str, int] = {}
    for name, model in _TABLES:
        result = session.execute(update(model).where(model.patient_id == source_id).values(patient_id=target_id))
        count = int(getattr(result, "rowcount", 0) or 0)
        if count:
            moved[name] = count
    return moved
