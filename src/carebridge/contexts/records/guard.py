"""What every record use case does first and last: ask the policy, write the audit entry, keep the timeline index.

All record data is DataCategory.clinical, so consent narrows it in one place. The audit entry names the record
(resource type and id), not only the patient, so the patient's access log says which note was read or changed.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carebridge.contexts import audit, patients
from carebridge.contexts.records.models import Encounter, TimelineEntry
from carebridge.contexts.records.vocab import EncounterStatus, Interpretation, RecordKind
from carebridge.kernel import deferred_rows
from carebridge.kernel.db import get_row
from carebridge.kernel.errors import Conflict, NotFound, ValidationProblem
from carebridge.kernel.ids import new_id
from carebridge.security import DataCategory, Permission, Principal

RESOURCE: dict[RecordKind, str] = {
    RecordKind.encounter: "Encounter",
    RecordKind.condition: "Condition",
    RecordKind.allergy: "AllergyIntolerance",
    RecordKind.observation: "Observation",
    RecordKind.immunization: "Immunization",
    RecordKind.care_plan: "CarePlan",
    RecordKind.discharge_summary: "DischargeSummary",
}


def bad(field: str, message: str, where: str = "body") -> ValidationProblem:
    return ValidationProblem(f"{field}: {message}", errors=[{"field": field, "in": where, "message": message}])


def authorize(session: Session, principal: Principal, patient_id: uuid.UUID, permission: Permission, *,
              now: datetime) -> None:
    """The policy decision for this patient's clinical record; a refusal is audited by the patients context."""
    patients.load_patient_for(session, principal, patient_id, permission, now=now, audit_success=False,
                              action="read" if permission is Permission.record_read else "update",
                              category=DataCategory.clinical)


def trail(session: Session, principal: Principal, *, action: str, kind: RecordKind, record_id: uuid.UUID | None,
          patient_id: uuid.UUID, now: datetime, detail: dict[str, Any] | None = None) -> None:
    audit.record(session, principal, action=action, resource_type=RESOURCE[kind], resource_id=record_id,
                 patient_id=patient_id, detail=detail or {}, at=now)


def index(session: Session, *, patient_id: uuid.UUID, kind: RecordKind, ref_id: uuid.UUID, occurred_at: datetime,
          summary: str, encounter_id: uuid.UUID | None = None, flag: str | None = None) -> None:
    """The timeline row for a new record, in the same transaction as the record."""
    deferred_rows.add(session, TimelineEntry, {
        "id": new_id(), "patient_id": patient_id, "kind": kind.value, "ref_id": ref_id, "occurred_at": occurred_at,
        "summary": summary[:300], "encounter_id": encounter_id, "flag": flag, "amended": False})


def reindex(session: Session, *, ref_id: uuid.UUID, summary: str | None = None, flag: str | None = None,
            amended: bool = False, occurred_at: datetime | None = None) -> None:
    values: dict[str, Any] = {}
    if summary is not None:
        values["summary"] = summary[:300]
    if flag is not None:
        values["flag"] = flag
    if amended:
        values["amended"] = True
    if occurred_at is not None:
        values["occurred_at"] = occurred_at
    if values:
        session.execute(update(TimelineEntry).where(TimelineEntry.ref_id == ref_id).values(**values))


def at_noon(day: date) -> datetime:
    """A date-only record sits at midday UTC on the timeline, so it falls on that day in every Indian time zone."""
    return datetime.combine(day, time(12, 0), tzinfo=UTC)


def encounter_for(session: Session, patient_id: uuid.UUID, encounter_id: uuid.UUID | None) -> Encounter | None:
    """The encounter a new record belongs to; it must be this patient's and still open."""
    if encounter_id is None:
        return None
    enc = get_row(session, Encounter, encounter_id)
    if enc is None or enc.patient_id != patient_id:
        raise bad("encounter_id", "no such encounter for this patient")
    if enc.status == EncounterStatus.finished.value:
        raise Conflict("that encounter is closed: add the record without it, or amend the encounter",
                       slug="encounter-closed", title="Encounter closed")
    return enc


def is_locked(session: Session, encounter_id: uuid.UUID | None) -> bool:
    """A record made during an encounter is read-only once that encounter is finished."""
    if encounter_id is None:
        return False
    status = session.scalar(select(Encounter.status).where(Encounter.id == encounter_id))
    return status == EncounterStatus.finished.value


def locked_conflict() -> Conflict:
    return Conflict("the encounter this record belongs to is closed: send an amendment with a reason instead",
                    slug="record-locked", title="Record is read-only")


def interpret(value: float | None, low: float | None, high: float | None, critical_low: float | None = None,
              critical_high: float | None = None) -> Interpretation | None:
    """The abnormal flag (HL7 v3 ObservationInterpretation) of a value against its reference and critical range."""
    if value is None or (low is None and high is None and critical_low is None and critical_high is None):
        return None
    if critical_low is not None and value < critical_low:
        return Interpretation.LL
    if critical_high is not None and value > critical_high:
        return Interpretation.HH
    if low is not None and value < low:
        return Interpretation.L
    if high is not None and value > high:
        return Interpretation.H
    return Interpretation.N


def not_found(kind: RecordKind) -> NotFound:
    return NotFound(f"no such {kind.value.replace('_', ' ')} for this patient")
