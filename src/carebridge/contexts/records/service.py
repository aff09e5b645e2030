"""Encounters (open, note, close) and amendments: the lifecycle that makes a record read-only.

While an encounter is in progress its note and the records made during it can be edited. Closing it freezes
them; from then on the only change is `amend`, which needs `record:amend`, a reason, and leaves the original
values in the amendment row (and the audit entry), so the record as first written stays visible.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carebridge.contexts.records import entries
from carebridge.contexts.records.guard import authorize, bad, index, locked_conflict, not_found, reindex, trail
from carebridge.contexts.records.models import (
    Allergy,
    Amendment,
    CarePlan,
    Condition,
    DischargeSummary,
    Encounter,
    Immunization,
    Observation,
)
from carebridge.contexts.records.schemas import (
    AllergyUpdate,
    AmendmentCreate,
    AmendmentRead,
    CarePlanUpdate,
    ConditionUpdate,
    DischargeSummaryCreate,
    DischargeSummaryRead,
    EncounterClose,
    EncounterCreate,
    EncounterPage,
    EncounterRead,
    EncounterUpdate,
)
from carebridge.contexts.records.vocab import EncounterClass, EncounterStatus, RecordKind
from carebridge.kernel.errors import Conflict, NotFound, ValidationProblem
from carebridge.kernel.events import emit
from carebridge.kernel.ids import new_id
from carebridge.kernel.pagination import decode_cursor, encode_cursor
from carebridge.security import Permission, Principal

CLASS_LABEL = {EncounterClass.AMB: "Visit", EncounterClass.VR: "Teleconsultation", EncounterClass.IMP: "Admission",
               EncounterClass.HH: "Home visit"}


def _summary(enc: Encounter) -> str:
    label = CLASS_LABEL.get(EncounterClass(enc.encounter_class), enc.encounter_class)
    return f"{label}: {enc.reason}" if enc.reason else label


def encounter_read(session: Session, enc: Encounter) -> EncounterRead:
    diagnoses = session.scalars(select(Condition).where(Condition.encounter_id == enc.id)
                                .order_by(Condition.recorded_at, Condition.id)).all()
    amendments = session.scalar(select(func.count()).select_from(Amendment).where(
        Amendment.record_kind == RecordKind.encounter.value, Amendment.record_id == enc.id)) or 0
    read = EncounterRead.model_validate(enc)
    return read.model_copy(update={"diagnoses": [entries.condition_read(c) for c in diagnoses],
                                   "amendments": amendments})


def _encounter(session: Session, patient_id: uuid.UUID, encounter_id: uuid.UUID) -> Encounter:
    enc = session.get(Encounter, encounter_id)
    if enc is None or enc.patient_id != patient_id:
        raise not_found(RecordKind.encounter)
    return enc


def open_encounter(session: Session, principal: Principal, *, patient_id: uuid.UUID, data: EncounterCreate,
                   now: datetime) -> EncounterRead:
    authorize(session, principal, patient_id, Permission.record_write, now=now)
    enc = _new_encounter(session, principal, patient_id, data, now)
    trail(session, principal, action="create", kind=RecordKind.encounter, record_id=enc.id, patient_id=patient_id,
          now=now)
    emit(session, "records.encounter.opened", {"encounter_id": str(enc.id), "patient_id": str(patient_id)})
    return _new_encounter_read(enc)


def record_finished_encounter(session: Session, principal: Principal, *, patient_id: uuid.UUID,
                              data: EncounterCreate, end_at: datetime, now: datetime) -> EncounterRead:
    """An encounter that already happened (an import, a paper record), opened and closed in one step: one
    policy check, one audit entry and no read-back, where opening then closing it cost two of each."""
    authorize(session, principal, patient_id, Permission.record_write, now=now)
    if end_at < data.start_at:
        raise bad("end_at", "must not be before the encounter's start")
    enc = _new_encounter(session, principal, patient_id, data, now)
    enc.status, enc.end_at, enc.closed_at = EncounterStatus.finished.value, end_at, now
    trail(session, principal, action="create", kind=RecordKind.encounter, record_id=enc.id, patient_id=patient_id,
          now=now, detail={"closed": True})
    ids = {"encounter_id": str(enc.id), "patient_id": str(patient_id)}
    emit(session, "records.encounter.opened", ids)
    emit(session, "records.encounter.closed", ids)
    return _new_encounter_read(enc)


def _new_encounter(session: Session, principal: Principal, patient_id: uuid.UUID, data: EncounterCreate,
                   now: datetime) -> Encounter:
    """Its id is assigned here, so the row and its timeline entry join the next flush (no flush per encounter)."""
    enc = Encounter(id=new_id(), patient_id=patient_id, organization_id=principal.organization_id,
                    practitioner_id=data.practitioner_id, facility_id=data.facility_id,
                    appointment_id=data.appointment_id, encounter_class=data.encounter_class.value,
                    status=EncounterStatus.in_progress.value, reason=data.reason, start_at=data.start_at,
                    end_at=None, closed_at=None, subjective=data.subjective, objective=data.objective,
                    assessment=data.assessment, plan=data.plan, recorded_by=principal.user_id, created_at=now,
                    updated_at=now)
    session.add(enc)
    index(session, patient_id=patient_id, kind=RecordKind.encounter, ref_id=enc.id, occurred_at=enc.start_at,
          summary=_summary(enc), encounter_id=enc.id)
    return enc


def _new_encounter_read(enc: Encounter) -> EncounterRead:
    """A new encounter has no diagnoses and no amendments yet: nothing to read back."""
    return EncounterRead.model_validate(enc)


def get_encounter(session: Session, principal: Principal, *, patient_id: uuid.UUID, encounter_id: uuid.UUID,
                  now: datetime) -> EncounterRead:
    authorize(session, principal, patient_id, Permission.record_read, now=now)
    enc = _encounter(session, patient_id, encounter_id)
    trail(session, principal, action="read", kind=RecordKind.encounter, record_id=enc.id, patient_id=patient_id,
          now=now)
    return encounter_read(session, enc)


def list_encounters(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime, limit: int,
                    cursor: str | None) -> EncounterPage:
    authorize(session, principal, patient_id, Permission.record_read, now=now)
    q = select(Encounter).where(Encounter.patient_id == patient_id)
    keys = decode_cursor(cursor, arity=2)
    if keys is not None:
        at, rid = entries.cursor_keys(keys)
        q = q.where((Encounter.start_at < at) | ((Encounter.start_at == at) & (Encounter.id < rid)))
    rows = session.scalars(q.order_by(Encounter.start_at.desc(), Encounter.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    trail(session, principal, action="search", kind=RecordKind.encounter, record_id=None, patient_id=patient_id,
          now=now, detail={"count": len(rows)})
    nxt = encode_cursor([rows[-1].start_at.isoformat(), str(rows[-1].id)]) if more else None
    return EncounterPage(items=[encounter_read(session, e) for e in rows], next_cursor=nxt, limit=limit)


def update_encounter(session: Session, principal: Principal, *, patient_id: uuid.UUID, encounter_id: uuid.UUID,
                     data: EncounterUpdate, now: datetime) -> EncounterRead:
    authorize(session, principal, patient_id, Permission.record_write, now=now)
    enc = _encounter(session, patient_id, encounter_id)
    if enc.status == EncounterStatus.finished.value:
        raise locked_conflict()
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    for name, value in changes.items():
        setattr(enc, name, value)
    enc.updated_at = now
    reindex(session, ref_id=enc.id, summary=_summary(enc))
    trail(session, principal, action="update", kind=RecordKind.encounter, record_id=enc.id, patient_id=patient_id,
          now=now, detail={"fields": sorted(changes)})
    return encounter_read(session, enc)


def close_encounter(session: Session, principal: Principal, *, patient_id: uuid.UUID, encounter_id: uuid.UUID,
                    data: EncounterClose, now: datetime) -> EncounterRead:
    authorize(session, principal, patient_id, Permission.record_write, now=now)
    enc = _encounter(session, patient_id, encounter_id)
    if enc.status == EncounterStatus.finished.value:
        raise Conflict("the encounter is already closed", slug="encounter-closed", title="Encounter closed")
    end = data.end_at or now
    if end < enc.start_at:
        raise bad("end_at", "must not be before the encounter's start")
    enc.status, enc.end_at, enc.closed_at, enc.updated_at = EncounterStatus.finished.value, end, now, now
    for summary in session.scalars(select(DischargeSummary).where(DischargeSummary.encounter_id == enc.id)):
        summary.discharged_at = end  # written before discharge, it takes the real discharge time now
        reindex(session, ref_id=summary.id, occurred_at=end)
    trail(session, principal, action="update", kind=RecordKind.encounter, record_id=enc.id, patient_id=patient_id,
          now=now, detail={"closed": True})
    emit(session, "records.encounter.closed", {"encounter_id": str(enc.id), "patient_id": str(patient_id)})
    return encounter_read(session, enc)


def add_discharge_summary(session: Session, principal: Principal, *, patient_id: uuid.UUID,
                          encounter_id: uuid.UUID, data: DischargeSummaryCreate,
                          now: datetime) -> DischargeSummaryRead:
    """An admission's summary, written while it is still open (closing it afterwards freezes both)."""
    authorize(session, principal, patient_id, Permission.record_write, now=now)
    enc = _encounter(session, patient_id, encounter_id)
    if enc.encounter_class != EncounterClass.IMP.value:
        raise bad("encounter_id", "discharge summaries belong to admissions (class IMP)", "path")
    if enc.status == EncounterStatus.finished.value:
        raise locked_conflict()
    row = DischargeSummary(patient_id=patient_id, encounter_id=enc.id, recorded_by=principal.user_id,
                           admitted_at=enc.start_at, discharged_at=enc.end_at or now, created_at=now,
                           updated_at=now, **data.model_dump())
    session.add(row)
    session.flush()
    index(session, patient_id=patient_id, kind=RecordKind.discharge_summary, ref_id=row.id,
          occurred_at=row.discharged_at, summary=f"Discharge summary: {data.diagnoses}", encounter_id=enc.id)
    trail(session, principal, action="create", kind=RecordKind.discharge_summary, record_id=row.id,
          patient_id=patient_id, now=now)
    return DischargeSummaryRead.model_validate(row)


# --- amendments ---------------------------------------------------------------------------------------------------

_AMENDABLE: dict[RecordKind, tuple[type[Any], type[BaseModel]]] = {
    RecordKind.encounter: (Encounter, EncounterUpdate),
    RecordKind.condition: (Condition, ConditionUpdate),
    RecordKind.allergy: (Allergy, AllergyUpdate),
    RecordKind.care_plan: (CarePlan, CarePlanUpdate),
    RecordKind.observation: (Observation, entries.ObservationAmend),
    RecordKind.immunization: (Immunization, entries.ImmunizationAmend),
}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def amend(session: Session, principal: Principal, *, patient_id: uuid.UUID, kind: RecordKind,
          record_id: uuid.UUID, data: AmendmentCreate, now: datetime) -> AmendmentRead:
    """Change a record (normally a closed one) with a reason; the before and after values are kept."""
    authorize(session, principal, patient_id, Permission.record_amend, now=now)
    if kind not in _AMENDABLE:
        raise bad("kind", f"{kind.value} records cannot be amended", "path")
    model, schema = _AMENDABLE[kind]
    row = session.get(model, record_id)
    if row is None or row.patient_id != patient_id:
        raise not_found(kind)
    try:
        parsed = schema.model_validate(data.changes)
    except PydanticValidationError as exc:
        errors = [{"field": "changes." + ".".join(str(p) for p in e["loc"]), "in": "body", "message": e["msg"]}
                  for e in exc.errors(include_url=False, include_input=False)]
        raise ValidationProblem("changes: not valid for this record", errors=errors) from exc
    changes = parsed.model_dump(exclude_unset=True, mode="json")
    if not changes:
        raise bad("changes", "name at least one field to change")
    before = {name: _plain(getattr(row, name)) for name in changes}
    for name in changes:
        setattr(row, name, getattr(parsed, name) if not isinstance(getattr(parsed, name), list)
                else changes[name])
    row.updated_at = now
    entries.after_amend(session, kind, row)
    if kind is RecordKind.encounter:
        reindex(session, ref_id=row.id, summary=_summary(row))
    amendment = Amendment(patient_id=patient_id, record_kind=kind.value, record_id=record_id,
                          author_id=principal.user_id, reason=data.reason, before=before, after=changes, at=now)
    session.add(amendment)
    session.flush()
    reindex(session, ref_id=record_id, amended=True)
    trail(session, principal, action="update", kind=kind, record_id=record_id, patient_id=patient_id, now=now,
          detail={"amendment_id": str(amendment.id), "reason": data.reason, "fields": sorted(changes)})
    emit(session, "records.amended", {"kind": kind.value, "record_id": str(record_id),
                                      "patient_id": str(patient_id)})
    return AmendmentRead.model_validate(amendment)


def list_amendments(session: Session, principal: Principal, *, patient_id: uuid.UUID, kind: RecordKind,
                    record_id: uuid.UUID, now: datetime) -> list[AmendmentRead]:
    authorize(session, principal, patient_id, Permission.record_read, now=now)
    rows = session.scalars(select(Amendment).where(
        Amendment.patient_id == patient_id, Amendment.record_kind == kind.value, Amendment.record_id == record_id,
    ).order_by(Amendment.at, Amendment.id).limit(500)).all()
    if not rows:
        model = _AMENDABLE.get(kind, (None, None))[0]
        row = session.get(model, record_id) if model is not None else None
        if row is None or row.patient_id != patient_id:
            raise NotFound(f"no such {kind.value} for this patient")
    trail(session, principal, action="read", kind=kind, record_id=record_id, patient_id=patient_id, now=now,
          detail={"amendments": len(rows)})
    return [AmendmentRead.model_validate(a) for a in rows]
