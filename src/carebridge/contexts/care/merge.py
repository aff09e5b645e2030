"""When two patient records are merged, the duplicate's care requests (saved ones above all) move to the
survivor, so nothing kept in the record is orphaned."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from carebridge.contexts import patients
from carebridge.contexts.care.models import CareRequest


@patients.on_patient_merged("care")
def move_care_requests(session: Session, *, source_id: uuid.UUID, target_id: uuid.UUID,
                       now: datetime) -> dict[str, int]:
    result = session.execute(update(CareRequest).where(CareRequest.patient_id == source_id)
                             .values(patient_id=target_id).execution_options(synchronize_session=False))
    count = int(getattr(result, "rowcount", 0) or 0)
    return {"care_requests": count} if count else {}
