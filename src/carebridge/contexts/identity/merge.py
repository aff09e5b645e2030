"""When two patient records are merged, the accounts and caregiver links follow the survivor.

Registered with the patients context's merge hook (patients cannot import identity: identity
already imports patients), and run inside the merge's own transaction, so a merge never leaves a
caregiver or a patient's login pointing at a retired record.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts.identity.models import CaregiverLink, User
from carebridge.contexts.patients import on_patient_merged


@on_patient_merged("identity")
def move_accounts_and_caregivers(session: Session, *, source_id: uuid.UUID, target_id: uuid.UUID,
                                 now: datetime) -> dict[str, int]:
    """Repoint patient logins and caregiver links; a caregiver linked to both keeps the union of scopes."""
    accounts = 0
    for user in session.scalars(select(User).where(User.patient_id == source_id)).all():
        user.patient_id, user.updated_at = target_id, now
        accounts += 1
    moved = combined = 0
    survivors = {
        link.caregiver_user_id: link
        for link in session.scalars(select(CaregiverLink).where(CaregiverLink.patient_id == target_id))
    }
    for link in session.scalars(select(CaregiverLink).where(CaregiverLink.patient_id == source_id)).all():
        kept = survivors.get(link.caregiver_user_id)
        if kept is None:
            link.patient_id = target_id
            moved += 1
            continue
        if link.revoked_at is None:
            if kept.revoked_at is not None:
                kept.revoked_at, kept.scopes = None, sorted(set(link.scopes))
            else:
                kept.scopes = sorted(set(kept.scopes) | set(link.scopes))
        link.revoked_at = link.revoked_at or now
        combined += 1
    session.flush()
    return {"patient_accounts": accounts, "caregiver_links_moved": moved,
            "caregiver_links_combined": combined}
