"""When two patient records are merged, the duplicate's consent directives move to the survivor: a grant or a
restriction the patient made on either record keeps holding for the one record left."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from carebridge.contexts import patients
from carebridge.contexts.consent.models import ConsentDirective


@patients.on_patient_merged("consent")
def move_consents(session: Session, *, source_id: uuid.UUID, target_id: uuid.UUID,
                  now: datetime) -> dict[str, int]:
    result = session.execute(update(ConsentDirective).where(ConsentDirective.patient_id == source_id)
                             .values(patient_id=target_id))
    count = int(getattr(result, "rowcount", 0) or 0)
    return {"consent_directives": count} if count else {}
