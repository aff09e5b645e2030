"""Merging a duplicate patient into the surviving record, in one audited transaction.

The merged record is never deleted: it turns inactive with `merged_into_id`, so old links and
the audit trail still resolve and clients can follow it. Identifiers and emergency contacts move
to the survivor; organization links are copied (the merged record keeps its own, so the staff who
knew it can still open it and follow the pointer). Other contexts that hold rows keyed by patient
(identity's caregiver links and patient accounts, later records and appointments) register a
handler with `on_patient_merged`; the handlers run inside the same transaction, so the merge
happens everywhere or nowhere, and patients never imports them (imports point one way).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carebridge.contexts import audit
from carebridge.contexts.patients import names
from carebridge.contexts.patients.access import RESOURCE, load_patient_for
from carebridge.contexts.patients.models import EmergencyContact, PatientIdentifier, PatientOrganization
from carebridge.contexts.patients.schemas import PatientRead
from carebridge.contexts.patients.service import flush_or_conflict, invalid, to_read, touch
from carebridge.kernel.errors import Conflict
from carebridge.kernel.events import emit
from carebridge.kernel.ids import new_id
from carebridge.security import Permission, Principal


class MergeHandler(Protocol):
    def __call__(self, session: Session, *, source_id: uuid.UUID, target_id: uuid.UUID,
                 now: datetime) -> dict[str, int]: ...


_HANDLERS: dict[str, MergeHandler] = {}


def on_patient_merged(name: str) -> Callable[[MergeHandler], MergeHandler]:
    """Register a handler (by a stable name, so re-imports do not run it twice) that moves a context's rows.

    It returns counts of what it moved; they go into the survivor's audit entry.
    """

    def register(handler: MergeHandler) -> MergeHandler:
        _HANDLERS[name] = handler
        return handler

    return register


def merge_handlers() -> dict[str, MergeHandler]:
    return dict(_HANDLERS)


def _unmerged_active(p_id: uuid.UUID, merged_into: uuid.UUID | None, active: bool, role: str) -> None:
    if merged_into is not None:
        raise Conflict(f"the {role} patient {p_id} was already merged into {merged_into}", slug="patient-merged",
                       title="Patient merged", extra={"merged_into_id": str(merged_into)})
    if not active:
        raise Conflict(f"the {role} patient {p_id} is inactive", slug="patient-inactive", title="Patient inactive")


def merge_patients(session: Session, principal: Principal, *, source_id: uuid.UUID, target_id: uuid.UUID,
                   now: datetime, purpose: str = "treatment") -> PatientRead:
    """Fold `source_id` into `target_id`; both must be cared for by the caller's organization."""
    if source_id == target_id:
        raise invalid("into", "a patient cannot be merged into itself")
    source = load_patient_for(session, principal, source_id, Permission.patient_merge, purpose=purpose, now=now,
                              audit_success=False)
    target = load_patient_for(session, principal, target_id, Permission.patient_merge, purpose=purpose, now=now,
                              audit_success=False)
    _unmerged_active(source.id, source.merged_into_id, source.active, "merged")
    _unmerged_active(target.id, target.merged_into_id, target.active, "surviving")
    moved: dict[str, int] = {}

    moving = list(session.scalars(select(PatientIdentifier.id).where(PatientIdentifier.patient_id == source.id)))
    session.execute(update(PatientIdentifier).where(PatientIdentifier.id.in_(moving))
                    .values(patient_id=target.id).execution_options(synchronize_session=False))
    moved["identifiers"] = len(moving)

    known = {(names.fold(c.name), names.phone_key(c.phone)) for c in target.emergency_contacts}
    contacts = 0
    for contact in list(source.emergency_contacts):
        source.emergency_contacts.remove(contact)
        key = (names.fold(contact.name), names.phone_key(contact.phone))
        if key not in known:
            known.add(key)
            target.emergency_contacts.append(EmergencyContact(
                id=new_id(), name=contact.name, relationship_=contact.relationship_, phone=contact.phone,
                email=contact.email))
            contacts += 1
    moved["emergency_contacts"] = contacts

    source_orgs = set(session.scalars(select(PatientOrganization.organization_id)
                                      .where(PatientOrganization.patient_id == source.id)))
    target_orgs = set(session.scalars(select(PatientOrganization.organization_id)
                                      .where(PatientOrganization.patient_id == target.id)))
    for org in sorted(source_orgs - target_orgs, key=str):
        session.add(PatientOrganization(id=new_id(), patient_id=target.id, organization_id=org, since=now))
    moved["organizations"] = len(source_orgs - target_orgs)

    for handler_name, handler in sorted(_HANDLERS.items()):
        for what, count in handler(session, source_id=source.id, target_id=target.id, now=now).items():
            moved[f"{handler_name}.{what}"] = count

    source.active, source.merged_into_id = False, target.id
    source.deactivated_at, source.deactivation_reason = now, f"merged into {target.id}"
    touch(source, now)
    touch(target, now)
    flush_or_conflict(session)
    session.expire(source, ["identifiers"])
    session.expire(target, ["identifiers"])
    audit.record(session, principal, action="merge", resource_type=RESOURCE, resource_id=source.id,
                 patient_id=source.id, purpose=purpose, detail={"into": str(target.id)}, at=now)
    audit.record(session, principal, action="merge", resource_type=RESOURCE, resource_id=target.id,
                 patient_id=target.id, purpose=purpose, detail={"from": str(source.id), "moved": moved}, at=now)
    emit(session, "patient.merged", {"source_id": str(source.id), "target_id": str(target.id)})
    return to_read(target)
