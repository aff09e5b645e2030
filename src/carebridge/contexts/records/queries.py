"""Record reads by id and filtered, keyset-paged searches: what the FHIR facade (and $export) asks of the record.

A FHIR read names only the resource id, so `get_entry` finds the row first and then asks the policy about
its patient; searches are per patient (the policy decides once) and filter in SQL, newest first on the same
(time, id) keyset as the REST lists, so a page stays stable while rows are inserted. Observation search by
patient and code is one range scan on ix_observations_patient_code_at.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from carebridge.contexts.records.entries import _page, _plan_read, condition_read
from carebridge.contexts.records.guard import authorize, not_found, trail
from carebridge.contexts.records.models import Allergy, CarePlan, Condition, Encounter, Immunization, Observation
from carebridge.contexts.records.schemas import (
    AllergyPage,
    AllergyRead,
    CarePlanPage,
    ConditionPage,
    EncounterPage,
    ImmunizationPage,
    ImmunizationRead,
    ObservationPage,
    ObservationRead,
)
from carebridge.contexts.records.service import encounter_read
from carebridge.contexts.records.vocab import RecordKind
from carebridge.security import Permission, Principal

_MODELS: dict[RecordKind, type[Any]] = {
    RecordKind.observation: Observation, RecordKind.condition: Condition, RecordKind.allergy: Allergy,
    RecordKind.immunization: Immunization, RecordKind.care_plan: CarePlan, RecordKind.encounter: Encounter,
}


def _read(session: Session, kind: RecordKind, row: Any) -> BaseModel:
    if kind is RecordKind.observation:
        return ObservationRead.model_validate(row)
    if kind is RecordKind.condition:
        return condition_read(row)
    if kind is RecordKind.allergy:
        return AllergyRead.model_validate(row)
    if kind is RecordKind.immunization:
        return ImmunizationRead.model_validate(row)
    if kind is RecordKind.care_plan:
        return _plan_read(session, row)
    return encounter_read(session, row)


def get_entry(session: Session, principal: Principal, *, kind: RecordKind, record_id: uuid.UUID,
              now: datetime) -> BaseModel:
    """One record by its id alone; the policy is asked about the record's patient (a refusal is audited)."""
    model = _MODELS.get(kind)
    row = session.get(model, record_id) if model is not None else None
    if row is None:
        raise not_found(kind)
    authorize(session, principal, row.patient_id, Permission.record_read, now=now)
    trail(session, principal, action="read", kind=kind, record_id=row.id, patient_id=row.patient_id, now=now)
    return _read(session, kind, row)


def _range(column: Any, since: datetime | date | None, before: datetime | date | None) -> list[Any]:
    where = []
    if since is not None:
        where.append(column >= since)
    if before is not None:
        where.append(column < before)
    return where


def _search(session: Session, principal: Principal, kind: RecordKind, when: Any, *, patient_id: uuid.UUID,
            where: list[Any], limit: int, cursor: str | None, now: datetime) -> tuple[list[Any], str | None]:
    authorize(session, principal, patient_id, Permission.record_read, now=now)
    rows, nxt = _page(session, _MODELS[kind], when, patient_id, cursor, limit, where)
    trail(session, principal, action="search", kind=kind, record_id=None, patient_id=patient_id, now=now,
          detail={"count": len(rows), "filtered": len(where)})
    return rows, nxt


def find_observations(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime, limit: int,
                      cursor: str | None, code: str | None = None, category: str | None = None,
                      status: str | None = None, since: datetime | None = None,
                      before: datetime | None = None) -> ObservationPage:
    """`since` is inclusive, `before` exclusive, both on the effective time."""
    where = [*_range(Observation.effective_at, since, before)]
    if code is not None:
        where.append(Observation.code == code)
    if category is not None:
        where.append(Observation.category == category)
    if status is not None:
        where.append(Observation.status == status)
    rows, nxt = _search(session, principal, RecordKind.observation, Observation.effective_at, patient_id=patient_id,
                        where=where, limit=limit, cursor=cursor, now=now)
    return ObservationPage(items=[ObservationRead.model_validate(r) for r in rows], next_cursor=nxt, limit=limit)


def find_conditions(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime, limit: int,
                    cursor: str | None, code: str | None = None, category: str | None = None,
                    clinical_status: str | None = None, verification_status: str | None = None,
                    onset_since: date | None = None, onset_before: date | None = None) -> ConditionPage:
    where = [*_range(Condition.onset_date, onset_since, onset_before)]
    for column, value in ((Condition.code, code), (Condition.category, category),
                          (Condition.clinical_status, clinical_status),
                          (Condition.verification_status, verification_status)):
        if value is not None:
            where.append(column == value)
    rows, nxt = _search(session, principal, RecordKind.condition, Condition.recorded_at, patient_id=patient_id,
                        where=where, limit=limit, cursor=cursor, now=now)
    return ConditionPage(items=[condition_read(r) for r in rows], next_cursor=nxt, limit=limit)


def find_allergies(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime, limit: int,
                   cursor: str | None, category: str | None = None, clinical_status: str | None = None,
                   criticality: str | None = None, type_: str | None = None,
                   since: datetime | None = None, before: datetime | None = None) -> AllergyPage:
    """`since`/`before` on the time the allergy was recorded (AllergyIntolerance `date`)."""
    where = [*_range(Allergy.recorded_at, since, before)]
    for column, value in ((Allergy.category, category), (Allergy.clinical_status, clinical_status),
                          (Allergy.criticality, criticality), (Allergy.type, type_)):
        if value is not None:
            where.append(column == value)
    rows, nxt = _search(session, principal, RecordKind.allergy, Allergy.recorded_at, patient_id=patient_id,
                        where=where, limit=limit, cursor=cursor, now=now)
    return AllergyPage(items=[AllergyRead.model_validate(r) for r in rows], next_cursor=nxt, limit=limit)


def find_immunizations(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime,
                       limit: int, cursor: str | None, vaccine_code: str | None = None, status: str | None = None,
                       since: date | None = None, before: date | None = None) -> ImmunizationPage:
    """`since`/`before` on the occurrence date."""
    where = [*_range(Immunization.occurrence_date, since, before)]
    if vaccine_code is not None:
        where.append(Immunization.vaccine_code == vaccine_code)
    if status is not None:
        where.append(Immunization.status == status)
    rows, nxt = _search(session, principal, RecordKind.immunization, Immunization.created_at,
                        patient_id=patient_id, where=where, limit=limit, cursor=cursor, now=now)
    return ImmunizationPage(items=[ImmunizationRead.model_validate(r) for r in rows], next_cursor=nxt, limit=limit)


def find_encounters(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime, limit: int,
                    cursor: str | None, status: str | None = None, encounter_class: str | None = None,
                    practitioner_id: uuid.UUID | None = None, since: datetime | None = None,
                    before: datetime | None = None) -> EncounterPage:
    """`since`/`before` on the start time."""
    where = [*_range(Encounter.start_at, since, before)]
    for column, value in ((Encounter.status, status), (Encounter.encounter_class, encounter_class),
                          (Encounter.practitioner_id, practitioner_id)):
        if value is not None:
            where.append(column == value)
    rows, nxt = _search(session, principal, RecordKind.encounter, Encounter.start_at, patient_id=patient_id,
                        where=where, limit=limit, cursor=cursor, now=now)
    return EncounterPage(items=[encounter_read(session, e) for e in rows], next_cursor=nxt, limit=limit)


def find_care_plans(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime, limit: int,
                    cursor: str | None, status: str | None = None, intent: str | None = None,
                    since: date | None = None, before: date | None = None) -> CarePlanPage:
    """`since`/`before` on the period start."""
    where = [*_range(CarePlan.period_start, since, before)]
    if status is not None:
        where.append(CarePlan.status == status)
    if intent is not None:
        where.append(CarePlan.intent == intent)
    rows, nxt = _search(session, principal, RecordKind.care_plan, CarePlan.created_at, patient_id=patient_id,
                        where=where, limit=limit, cursor=cursor, now=now)
    return CarePlanPage(items=[_plan_read(session, r) for r in rows], next_cursor=nxt, limit=limit)
