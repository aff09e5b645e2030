"""The record's entries: problem list, allergies, observations, immunizations and care plans.

Each write checks the policy, fills coded fields from the shipped code lists (so a display name is never
client-supplied), writes its timeline row in the same transaction, and is audited. Edits of an entry whose
encounter is closed answer 409 `record-locked`; `service.amend` is the way round.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from carebridge.contexts.records.guard import (
    at_noon,
    authorize,
    bad,
    encounter_for,
    index,
    interpret,
    is_locked,
    locked_conflict,
    not_found,
    reindex,
    trail,
)
from carebridge.contexts.records.models import (
    Allergy,
    CarePlan,
    CarePlanNote,
    Condition,
    Immunization,
    Observation,
)
from carebridge.contexts.records.schemas import (
    AllergyCreate,
    AllergyPage,
    AllergyRead,
    AllergyUpdate,
    CarePlanCreate,
    CarePlanPage,
    CarePlanRead,
    CarePlanUpdate,
    ConditionCreate,
    ConditionPage,
    ConditionRead,
    ConditionUpdate,
    ImmunizationCreate,
    ImmunizationPage,
    ImmunizationRead,
    Note,
    ObservationCreate,
    ObservationPage,
    ObservationRead,
    ProgressNoteCreate,
    ProgressNoteRead,
)
from carebridge.contexts.records.terminology import CodeSystem, lab_definitions, lookup
from carebridge.contexts.records.vocab import ImmunizationStatus, ObservationCategory, ObservationStatus, RecordKind
from carebridge.kernel.events import emit
from carebridge.kernel.ids import new_id
from carebridge.kernel.pagination import decode_cursor, encode_cursor
from carebridge.security import Permission, Principal

M = TypeVar("M")


class ObservationAmend(BaseModel):
    """What an amendment may change on an observation (the code stays: a wrong test is entered-in-error)."""

    model_config = ConfigDict(extra="forbid")
    value: float | None = Field(None, allow_inf_nan=False, ge=-1e9, le=1e9)
    status: ObservationStatus | None = None
    note: Note | None = None


class ImmunizationAmend(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: ImmunizationStatus | None = None
    lot_number: str | None = Field(None, max_length=60)
    note: Note | None = None


def cursor_keys(keys: list[Any]) -> tuple[datetime, uuid.UUID]:
    try:
        at = datetime.fromisoformat(str(keys[0]))
        rid = uuid.UUID(str(keys[1]))
    except ValueError as exc:
        raise bad("cursor", "malformed", "query") from exc
    if at.tzinfo is None:
        raise bad("cursor", "malformed", "query")
    return at, rid


def _page(session: Session, model: type[M], when: InstrumentedAttribute[Any], patient_id: uuid.UUID,
          cursor: str | None, limit: int, where: Sequence[Any] = ()) -> tuple[list[M], str | None]:
    """Newest first, keyset-paged on (time, id)."""
    ident: InstrumentedAttribute[Any] = model.id  # type: ignore[attr-defined]
    q = select(model).where(model.patient_id == patient_id, *where)  # type: ignore[attr-defined]
    keys = decode_cursor(cursor, arity=2)
    if keys is not None:
        at, rid = cursor_keys(keys)
        q = q.where((when < at) | ((when == at) & (ident < rid)))
    rows = list(session.scalars(q.order_by(when.desc(), ident.desc()).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = None
    if more:
        last = rows[-1]
        value = getattr(last, when.key)
        nxt = encode_cursor([value.isoformat(), str(last.id)])  # type: ignore[attr-defined]
    return rows, nxt


# --- conditions ---------------------------------------------------------------------------------------------------


def condition_read(row: Condition) -> ConditionRead:
    return ConditionRead.model_validate(row)


def _icd_display(code: str) -> str:
    concept = lookup(CodeSystem.icd10, code) or lookup(CodeSystem.icd10, code.split(".")[0])
    if concept is None:
        raise bad("code", "not an ICD-10 code in the shipped list: pick one from /api/v1/codes/icd10")
    return concept.display


def add_condition(session: Session, principal: Principal, *, patient_id: uuid.UUID, data: ConditionCreate,
                  now: datetime) -> ConditionRead:
    authorize(session, principal, patient_id, Permission.record_write, now=now)
    encounter_for(session, patient_id, data.encounter_id)
    display = _icd_display(data.code)
    values = data.model_dump(mode="json")
    values.update(onset_date=data.onset_date, abatement_date=data.abatement_date, encounter_id=data.encounter_id)
    row = Condition(id=new_id(), patient_id=patient_id, recorded_by=principal.user_id, display=display,
                    recorded_at=now, created_at=now, updated_at=now, **values)
    session.add(row)  # written at the next flush (an import's rows go in one INSERT per table)
    when = at_noon(data.onset_date) if data.onset_date else now
    index(session, patient_id=patient_id, kind=RecordKind.condition, ref_id=row.id, occurred_at=when,
          summary=f"{row.code} {display} ({row.clinical_status})", encounter_id=row.encounter_id)
    trail(session, principal, action="create", kind=RecordKind.condition, record_id=row.id, patient_id=patient_id,
          now=now, detail={"code": row.code})
    emit(session, "records.condition.recorded", {"patient_id": str(patient_id), "condition_id": str(row.id),
                                                  "code": row.code})
    return condition_read(row)


def update_condition(session: Session, principal: Principal, *, patient_id: uuid.UUID, condition_id: uuid.UUID,
                     data: ConditionUpdate, now: datetime) -> ConditionRead:
    authorize(session, principal, patient_id, Permission.record_write, now=now)
    row = session.get(Condition, condition_id)
    if row is None or row.patient_id != patient_id:
        raise not_found(RecordKind.condition)
    if is_locked(session, row.encounter_id):
        raise locked_conflict()
    changes = data.model_dump(exclude_unset=True)
    for name, value in changes.items():
        setattr(row, name, value.value if hasattr(value, "value") else value)
    row.updated_at = now
    after_amend(session, RecordKind.condition, row)
    trail(session, principal, action="update", kind=RecordKind.condition, record_id=row.id, patient_id=patient_id,
          now=now, detail={"fields": sorted(changes)})
    emit(session, "records.condition.recorded", {"patient_id": str(patient_id), "condition_id": str(row.id),
                                                  "code": row.code})
    return condition_read(row)


def list_conditions(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime, limit: int,
                    cursor: str | None, clinical_status: str | None = None) -> ConditionPage:
    authorize(session, principal, patient_id, Permission.record_read, now=now)
    where = [Condition.clinical_status == clinical_status] if clinical_status else []
    rows, nxt = _page(session, Condition, Condition.recorded_at, patient_id, cursor, limit, where)
    trail(session, principal, action="search", kind=RecordKind.condition, record_id=None, patient_id=patient_id,
          now=now, detail={"count": len(rows)})
    return ConditionPage(items=[condition_read(r) for r in rows], next_cursor=nxt, limit=limit)


# --- allergies ----------------------------------------------------------------------------------------------------


def add_allergy(session: Session, principal: Principal, *, patient_id: uuid.UUID, data: AllergyCreate,
                now: datetime) -> AllergyRead:
    authorize(session, principal, patient_id, Permission.record_write, now=now)
    encounter_for(session, patient_id, data.encounter_id)
    values = data.model_dump(mode="json")
    values.update(onset_date=data.onset_date, encounter_id=data.encounter_id)
    row = Allergy(id=new_id(), patient_id=patient_id, recorded_by=principal.user_id, recorded_at=now,
                  created_at=now, updated_at=now, **values)
    session.add(row)
    flag = "HH" if row.criticality == "high" else None
    index(session, patient_id=patient_id, kind=RecordKind.allergy, ref_id=row.id, occurred_at=now,
          summary=f"{row.type.title()}: {row.substance}" + (f" ({row.reaction})" if row.reaction else ""),
          encounter_id=row.encounter_id, flag=flag)
    trail(session, principal, action="create", kind=RecordKind.allergy, record_id=row.id, patient_id=patient_id,
          now=now)
    emit(session, "records.allergy.recorded", {"patient_id": str(patient_id), "allergy_id": str(row.id)})
    return AllergyRead.model_validate(row)


def update_allergy(session: Session, principal: Principal, *, patient_id: uuid.UUID, allergy_id: uuid.UUID,
                   data: AllergyUpdate, now: datetime) -> AllergyRead:
    authorize(session, principal, patient_id, Permission.record_write, now=now)
    row = session.get(Allergy, allergy_id)
    if row is None or row.patient_id != patient_id:
        raise not_found(RecordKind.allergy)
    if is_locked(session, row.encounter_id):
        raise locked_conflict()
    changes = data.model_dump(exclude_unset=True, mode="json")
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = now
    trail(session, principal, action="update", kind=RecordKind.allergy, record_id=row.id, patient_id=patient_id,
          now=now, detail={"fields": sorted(changes)})
    emit(session, "records.allergy.recorded", {"patient_id": str(patient_id), "allergy_id": str(row.id)})
    return AllergyRead.model_validate(row)


def list_allergies(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime, limit: int,
                   cursor: str | None) -> AllergyPage:
    authorize(session, principal, patient_id, Permission.record_read, now=now)
    rows, nxt = _page(session, Allergy, Allergy.recorded_at, patient_id, cursor, limit)
    trail(session, principal, action="search", kind=RecordKind.allergy, record_id=None, patient_id=patient_id,
          now=now, detail={"count": len(rows)})
    return AllergyPage(items=[AllergyRead.model_validate(r) for r in rows], next_cursor=nxt, limit=limit)


# --- observations -------------------------------------------------------------------------------------------------


def _obs_summary(row: Observation) -> str:
    value = row.value_text if row.value is None else f"{row.value:g} {row.unit}".strip()
    return f"{row.display}: {value}"


def add_observation(session: Session, principal: Principal, *, patient_id: uuid.UUID, data: ObservationCreate,
                    now: datetime) -> ObservationRead:
    authorize(session, principal, patient_id, Permission.record_write, now=now)
    encounter_for(session, patient_id, data.encounter_id)
    definition = lab_definitions().get(data.code)
    if definition is None:
        raise bad("code", "not a LOINC code in the shipped list: pick one from /api/v1/codes/loinc")
    unit = data.unit or definition.unit
    same_unit = unit == definition.unit
    low = data.ref_low if data.ref_low is not None or data.ref_high is not None else (
        definition.ref_low if same_unit else None)
    high = data.ref_high if data.ref_low is not None or data.ref_high is not None else (
        definition.ref_high if same_unit else None)
    crit_low, crit_high = (definition.critical_low, definition.critical_high) if same_unit else (None, None)
    flag = interpret(data.value, low, high, crit_low, crit_high)
    row = Observation(id=new_id(), patient_id=patient_id, encounter_id=data.encounter_id,
                      recorded_by=principal.user_id,
                      category=ObservationCategory(definition.category).value, code=data.code,
                      display=definition.display, status=data.status.value, value=data.value,
                      value_text=data.value_text, unit=unit, ref_low=low, ref_high=high, critical_low=crit_low,
                      critical_high=crit_high, interpretation=flag.value if flag else None,
                      effective_at=data.effective_at, note=data.note, created_at=now, updated_at=now)
    session.add(row)  # written at the next flush: an import's observations go in one multi-row INSERT
    index(session, patient_id=patient_id, kind=RecordKind.observation, ref_id=row.id, occurred_at=row.effective_at,
          summary=_obs_summary(row), encounter_id=row.encounter_id,
          flag=row.interpretation if row.interpretation != "N" else None)
    trail(session, principal, action="create", kind=RecordKind.observation, record_id=row.id,
          patient_id=patient_id, now=now, detail={"code": row.code})
    emit(session, "records.observation.recorded", {"patient_id": str(patient_id), "observation_id": str(row.id),
                                                    "code": row.code})
    return ObservationRead.model_validate(row)


def list_observations(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime, limit: int,
                      cursor: str | None, code: str | None = None,
                      category: ObservationCategory | None = None) -> ObservationPage:
    authorize(session, principal, patient_id, Permission.record_read, now=now)
    where: list[Any] = []
    if code:
        where.append(Observation.code == code)
    if category:
        where.append(Observation.category == category.value)
    rows, nxt = _page(session, Observation, Observation.effective_at, patient_id, cursor, limit, where)
    trail(session, principal, action="search", kind=RecordKind.observation, record_id=None, patient_id=patient_id,
          now=now, detail={"count": len(rows)})
    return ObservationPage(items=[ObservationRead.model_validate(r) for r in rows], next_cursor=nxt, limit=limit)


# --- immunizations ------------------------------------------------------------------------------------------------


def add_immunization(session: Session, principal: Principal, *, patient_id: uuid.UUID, data: ImmunizationCreate,
                     now: datetime) -> ImmunizationRead:
    authorize(session, principal, patient_id, Permission.record_write, now=now)
    encounter_for(session, patient_id, data.encounter_id)
    vaccine = lookup(CodeSystem.vaccines, data.vaccine_code)
    if vaccine is None:
        raise bad("vaccine_code", "not a vaccine of the national schedule: pick one from /api/v1/codes/vaccines")
    if data.occurrence_date > now.date():
        raise bad("occurrence_date", "must not be in the future")
    dose = _dose_number(data.vaccine_code)
    row = Immunization(id=new_id(), patient_id=patient_id, encounter_id=data.encounter_id,
                       recorded_by=principal.user_id, vaccine_code=data.vaccine_code, display=vaccine.display,
                       status=data.status.value, dose_number=dose, occurrence_date=data.occurrence_date,
                       lot_number=data.lot_number, site=data.site, note=data.note, created_at=now, updated_at=now)
    session.add(row)
    index(session, patient_id=patient_id, kind=RecordKind.immunization, ref_id=row.id,
          occurred_at=at_noon(row.occurrence_date), summary=f"Vaccine: {vaccine.display}",
          encounter_id=row.encounter_id)
    trail(session, principal, action="create", kind=RecordKind.immunization, record_id=row.id,
          patient_id=patient_id, now=now, detail={"vaccine": row.vaccine_code})
    return ImmunizationRead.model_validate(row)


def _dose_number(code: str) -> int:
    digits = "".join(ch for ch in code if ch.isdigit())
    return int(digits) if digits and len(digits) <= 2 and int(digits) < 20 else 1


def list_immunizations(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime,
                       limit: int, cursor: str | None) -> ImmunizationPage:
    authorize(session, principal, patient_id, Permission.record_read, now=now)
    rows, nxt = _page(session, Immunization, Immunization.created_at, patient_id, cursor, limit)
    trail(session, principal, action="search", kind=RecordKind.immunization, record_id=None,
          patient_id=patient_id, now=now, detail={"count": len(rows)})
    return ImmunizationPage(items=[ImmunizationRead.model_validate(r) for r in rows], next_cursor=nxt, limit=limit)


# --- care plans ---------------------------------------------------------------------------------------------------


def _plan_read(session: Session, row: CarePlan) -> CarePlanRead:
    notes = session.scalars(select(CarePlanNote).where(CarePlanNote.care_plan_id == row.id)
                            .order_by(CarePlanNote.at, CarePlanNote.id).limit(200)).all()
    read = CarePlanRead.model_validate(row)
    return read.model_copy(update={"notes": [ProgressNoteRead.model_validate(n) for n in notes]})


def add_care_plan(session: Session, principal: Principal, *, patient_id: uuid.UUID, data: CarePlanCreate,
                  now: datetime) -> CarePlanRead:
    authorize(session, principal, patient_id, Permission.record_write, now=now)
    encounter_for(session, patient_id, data.encounter_id)
    if data.period_end is not None and data.period_end < data.period_start:
        raise bad("period_end", "must not be before period_start")
    row = CarePlan(id=new_id(), patient_id=patient_id, encounter_id=data.encounter_id,
                   recorded_by=principal.user_id, title=data.title, status=data.status.value,
                   intent=data.intent.value, description=data.description, period_start=data.period_start,
                   period_end=data.period_end, goals=[g.model_dump(mode="json") for g in data.goals],
                   activities=[a.model_dump(mode="json") for a in data.activities], created_at=now, updated_at=now)
    session.add(row)
    index(session, patient_id=patient_id, kind=RecordKind.care_plan, ref_id=row.id,
          occurred_at=at_noon(row.period_start), summary=f"Care plan: {row.title}", encounter_id=row.encounter_id)
    trail(session, principal, action="create", kind=RecordKind.care_plan, record_id=row.id, patient_id=patient_id,
          now=now)
    return CarePlanRead.model_validate(row)  # a new plan has no progress notes yet


def _plan(session: Session, patient_id: uuid.UUID, plan_id: uuid.UUID) -> CarePlan:
    row = session.get(CarePlan, plan_id)
    if row is None or row.patient_id != patient_id:
        raise not_found(RecordKind.care_plan)
    return row


def update_care_plan(session: Session, principal: Principal, *, patient_id: uuid.UUID, plan_id: uuid.UUID,
                     data: CarePlanUpdate, now: datetime) -> CarePlanRead:
    authorize(session, principal, patient_id, Permission.record_write, now=now)
    row = _plan(session, patient_id, plan_id)
    if is_locked(session, row.encounter_id):
        raise locked_conflict()
    changes = data.model_dump(exclude_unset=True, mode="json")
    for name, value in changes.items():
        setattr(row, name, value)
    if data.period_end is not None:
        row.period_end = data.period_end
    row.updated_at = now
    trail(session, principal, action="update", kind=RecordKind.care_plan, record_id=row.id, patient_id=patient_id,
          now=now, detail={"fields": sorted(changes)})
    return _plan_read(session, row)


def add_progress_note(session: Session, principal: Principal, *, patient_id: uuid.UUID, plan_id: uuid.UUID,
                      data: ProgressNoteCreate, now: datetime) -> CarePlanRead:
    """Notes are appended, never edited, so they are allowed on a plan whatever its encounter's state."""
    authorize(session, principal, patient_id, Permission.record_write, now=now)
    row = _plan(session, patient_id, plan_id)
    session.add(CarePlanNote(care_plan_id=row.id, author_id=principal.user_id, at=now, text=data.text))
    session.flush()
    trail(session, principal, action="update", kind=RecordKind.care_plan, record_id=row.id, patient_id=patient_id,
          now=now, detail={"progress_note": True})
    return _plan_read(session, row)


def list_care_plans(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime, limit: int,
                    cursor: str | None) -> CarePlanPage:
    authorize(session, principal, patient_id, Permission.record_read, now=now)
    rows, nxt = _page(session, CarePlan, CarePlan.created_at, patient_id, cursor, limit)
    trail(session, principal, action="search", kind=RecordKind.care_plan, record_id=None, patient_id=patient_id,
          now=now, detail={"count": len(rows)})
    return CarePlanPage(items=[_plan_read(session, r) for r in rows], next_cursor=nxt, limit=limit)


# --- after an amendment -------------------------------------------------------------------------------------------


def after_amend(session: Session, kind: RecordKind, row: Any) -> None:
    """Keep derived values (flag, timeline summary) true to the changed record."""
    if kind is RecordKind.observation:
        flag = interpret(row.value, row.ref_low, row.ref_high, row.critical_low, row.critical_high)
        row.interpretation = flag.value if flag else None
        reindex(session, ref_id=row.id, summary=_obs_summary(row), flag=row.interpretation or "")
    elif kind is RecordKind.condition:
        reindex(session, ref_id=row.id, summary=f"{row.code} {row.display} ({row.clinical_status})")
