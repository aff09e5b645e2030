"""JSON API of the clinical record: encounters, problems, allergies, observations, immunizations, care plans,
amendments, the timeline and the code pickers. Thin: every rule lives in the service modules."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from carebridge.contexts.identity import CurrentPrincipal
from carebridge.contexts.records import entries, service, timeline
from carebridge.contexts.records.guard import bad
from carebridge.contexts.records.schemas import (
    AllergyCreate,
    AllergyPage,
    AllergyRead,
    AllergyUpdate,
    AmendmentCreate,
    AmendmentRead,
    CarePlanCreate,
    CarePlanPage,
    CarePlanRead,
    CarePlanUpdate,
    CodeRead,
    CodeSearchRead,
    ConditionCreate,
    ConditionPage,
    ConditionRead,
    ConditionUpdate,
    DischargeSummaryCreate,
    DischargeSummaryRead,
    EncounterClose,
    EncounterCreate,
    EncounterPage,
    EncounterRead,
    EncounterUpdate,
    ImmunizationCreate,
    ImmunizationPage,
    ImmunizationRead,
    ObservationCreate,
    ObservationPage,
    ObservationRead,
    ProgressNoteCreate,
    TimelinePage,
)
from carebridge.contexts.records.terminology import CodeSystem, search
from carebridge.contexts.records.vocab import ConditionClinicalStatus, ObservationCategory, RecordKind
from carebridge.kernel.deps import ClockDep, SessionDep
from carebridge.kernel.text import NoControl

router = APIRouter(prefix="/api/v1", tags=["records"])


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {}}}


READ_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _problem("Not signed in."),
    403: _problem("Your role or relationship does not allow this (the refusal is audited)."),
    404: _problem("No such patient or record."),
    422: _problem("Invalid input; `errors` lists the fields."),
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    409: _problem("The encounter is closed: the record is read-only except through an amendment."),
}
Limit = Annotated[int, Query(ge=1, le=200, description="Page size.")]
Cursor = Annotated[str | None, Query(max_length=512, description="`next_cursor` of the previous page.")]
P = "/patients/{patient_id}"


def _aware(value: datetime | None, field: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise bad(field, "needs a UTC offset, e.g. 2026-03-10T09:30:00+05:30", "query")
    if value is not None and not 1900 <= value.year <= 2200:
        raise bad(field, "must be between the years 1900 and 2200", "query")
    return value


# --- encounters ---------------------------------------------------------------------------------------------------


@router.post(P + "/encounters", summary="Open an encounter (visit, teleconsultation, admission, home visit)",
             status_code=status.HTTP_201_CREATED, response_model=EncounterRead, responses=WRITE_ERRORS)
def open_encounter(patient_id: uuid.UUID, data: EncounterCreate, session: SessionDep, principal: CurrentPrincipal,
                   clock: ClockDep) -> EncounterRead:
    return service.open_encounter(session, principal, patient_id=patient_id, data=data, now=clock.now())


@router.get(P + "/encounters", summary="A patient's encounters, newest first", response_model=EncounterPage,
            responses=READ_ERRORS)
def list_encounters(patient_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                    limit: Limit = 50, cursor: Cursor = None) -> EncounterPage:
    return service.list_encounters(session, principal, patient_id=patient_id, now=clock.now(), limit=limit,
                                   cursor=cursor)


@router.get(P + "/encounters/{encounter_id}", summary="One encounter with its SOAP note and diagnoses",
            response_model=EncounterRead, responses=READ_ERRORS)
def get_encounter(patient_id: uuid.UUID, encounter_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                  clock: ClockDep) -> EncounterRead:
    return service.get_encounter(session, principal, patient_id=patient_id, encounter_id=encounter_id,
                                 now=clock.now())


@router.patch(P + "/encounters/{encounter_id}", summary="Edit an open encounter's note",
              response_model=EncounterRead, responses=WRITE_ERRORS)
def update_encounter(patient_id: uuid.UUID, encounter_id: uuid.UUID, data: EncounterUpdate, session: SessionDep,
                     principal: CurrentPrincipal, clock: ClockDep) -> EncounterRead:
    return service.update_encounter(session, principal, patient_id=patient_id, encounter_id=encounter_id,
                                    data=data, now=clock.now())


@router.post(P + "/encounters/{encounter_id}/close", summary="Close an encounter: its records become read-only",
             response_model=EncounterRead, responses=WRITE_ERRORS)
def close_encounter(patient_id: uuid.UUID, encounter_id: uuid.UUID, data: EncounterClose, session: SessionDep,
                    principal: CurrentPrincipal, clock: ClockDep) -> EncounterRead:
    return service.close_encounter(session, principal, patient_id=patient_id, encounter_id=encounter_id, data=data,
                                   now=clock.now())


@router.post(P + "/encounters/{encounter_id}/discharge-summary", summary="Write an admission's discharge summary",
             status_code=status.HTTP_201_CREATED, response_model=DischargeSummaryRead, responses=WRITE_ERRORS)
def add_discharge_summary(patient_id: uuid.UUID, encounter_id: uuid.UUID, data: DischargeSummaryCreate,
                          session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> DischargeSummaryRead:
    return service.add_discharge_summary(session, principal, patient_id=patient_id, encounter_id=encounter_id,
                                         data=data, now=clock.now())


# --- amendments ---------------------------------------------------------------------------------------------------


@router.post(P + "/amendments/{kind}/{record_id}", summary="Amend a record with a reason (audited; original kept)",
             status_code=status.HTTP_201_CREATED, response_model=AmendmentRead, responses=WRITE_ERRORS)
def amend(patient_id: uuid.UUID, kind: RecordKind, record_id: uuid.UUID, data: AmendmentCreate,
          session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> AmendmentRead:
    return service.amend(session, principal, patient_id=patient_id, kind=kind, record_id=record_id, data=data,
                         now=clock.now())


@router.get(P + "/amendments/{kind}/{record_id}", summary="A record's amendments with their reasons and old values",
            response_model=list[AmendmentRead], responses=READ_ERRORS)
def list_amendments(patient_id: uuid.UUID, kind: RecordKind, record_id: uuid.UUID, session: SessionDep,
                    principal: CurrentPrincipal, clock: ClockDep) -> list[AmendmentRead]:
    return service.list_amendments(session, principal, patient_id=patient_id, kind=kind, record_id=record_id,
                                   now=clock.now())


# --- conditions ---------------------------------------------------------------------------------------------------


@router.post(P + "/conditions", summary="Add a problem or diagnosis (ICD-10)", status_code=status.HTTP_201_CREATED,
             response_model=ConditionRead, responses=WRITE_ERRORS)
def add_condition(patient_id: uuid.UUID, data: ConditionCreate, session: SessionDep, principal: CurrentPrincipal,
                  clock: ClockDep) -> ConditionRead:
    return entries.add_condition(session, principal, patient_id=patient_id, data=data, now=clock.now())


@router.get(P + "/conditions", summary="The problem list and diagnoses", response_model=ConditionPage,
            responses=READ_ERRORS)
def list_conditions(patient_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                    limit: Limit = 50, cursor: Cursor = None,
                    clinical_status: ConditionClinicalStatus | None = None) -> ConditionPage:
    return entries.list_conditions(session, principal, patient_id=patient_id, now=clock.now(), limit=limit,
                                   cursor=cursor, clinical_status=clinical_status.value if clinical_status else None)


@router.patch(P + "/conditions/{condition_id}", summary="Change a condition's status or dates",
              response_model=ConditionRead, responses=WRITE_ERRORS)
def update_condition(patient_id: uuid.UUID, condition_id: uuid.UUID, data: ConditionUpdate, session: SessionDep,
                     principal: CurrentPrincipal, clock: ClockDep) -> ConditionRead:
    return entries.update_condition(session, principal, patient_id=patient_id, condition_id=condition_id, data=data,
                                    now=clock.now())


# --- allergies ----------------------------------------------------------------------------------------------------


@router.post(P + "/allergies", summary="Record an allergy or intolerance", status_code=status.HTTP_201_CREATED,
             response_model=AllergyRead, responses=WRITE_ERRORS)
def add_allergy(patient_id: uuid.UUID, data: AllergyCreate, session: SessionDep, principal: CurrentPrincipal,
                clock: ClockDep) -> AllergyRead:
    return entries.add_allergy(session, principal, patient_id=patient_id, data=data, now=clock.now())


@router.get(P + "/allergies", summary="Allergies and intolerances", response_model=AllergyPage,
            responses=READ_ERRORS)
def list_allergies(patient_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                   limit: Limit = 50, cursor: Cursor = None) -> AllergyPage:
    return entries.list_allergies(session, principal, patient_id=patient_id, now=clock.now(), limit=limit,
                                  cursor=cursor)


@router.patch(P + "/allergies/{allergy_id}", summary="Change an allergy's status, criticality or reaction",
              response_model=AllergyRead, responses=WRITE_ERRORS)
def update_allergy(patient_id: uuid.UUID, allergy_id: uuid.UUID, data: AllergyUpdate, session: SessionDep,
                   principal: CurrentPrincipal, clock: ClockDep) -> AllergyRead:
    return entries.update_allergy(session, principal, patient_id=patient_id, allergy_id=allergy_id, data=data,
                                  now=clock.now())


# --- observations -------------------------------------------------------------------------------------------------


@router.post(P + "/observations", summary="Record a vital sign or lab result (LOINC, UCUM; flag computed)",
             status_code=status.HTTP_201_CREATED, response_model=ObservationRead, responses=WRITE_ERRORS)
def add_observation(patient_id: uuid.UUID, data: ObservationCreate, session: SessionDep,
                    principal: CurrentPrincipal, clock: ClockDep) -> ObservationRead:
    return entries.add_observation(session, principal, patient_id=patient_id, data=data, now=clock.now())


@router.get(P + "/observations", summary="Vital signs and lab results, newest first", response_model=ObservationPage,
            responses=READ_ERRORS)
def list_observations(
    patient_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep, limit: Limit = 50,
    cursor: Cursor = None,
    code: Annotated[str | None, Query(max_length=10, pattern=r"^[0-9]{1,8}-[0-9]$")] = None,
    category: ObservationCategory | None = None,
) -> ObservationPage:
    return entries.list_observations(session, principal, patient_id=patient_id, now=clock.now(), limit=limit,
                                     cursor=cursor, code=code, category=category)


# --- immunizations ------------------------------------------------------------------------------------------------


@router.post(P + "/immunizations", summary="Record a vaccine dose of the national schedule",
             status_code=status.HTTP_201_CREATED, response_model=ImmunizationRead, responses=WRITE_ERRORS)
def add_immunization(patient_id: uuid.UUID, data: ImmunizationCreate, session: SessionDep,
                     principal: CurrentPrincipal, clock: ClockDep) -> ImmunizationRead:
    return entries.add_immunization(session, principal, patient_id=patient_id, data=data, now=clock.now())


@router.get(P + "/immunizations", summary="Vaccines given", response_model=ImmunizationPage, responses=READ_ERRORS)
def list_immunizations(patient_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                       limit: Limit = 50, cursor: Cursor = None) -> ImmunizationPage:
    return entries.list_immunizations(session, principal, patient_id=patient_id, now=clock.now(), limit=limit,
                                      cursor=cursor)


# --- care plans ---------------------------------------------------------------------------------------------------


@router.post(P + "/care-plans", summary="Start a treatment or care plan with goals and activities",
             status_code=status.HTTP_201_CREATED, response_model=CarePlanRead, responses=WRITE_ERRORS)
def add_care_plan(patient_id: uuid.UUID, data: CarePlanCreate, session: SessionDep, principal: CurrentPrincipal,
                  clock: ClockDep) -> CarePlanRead:
    return entries.add_care_plan(session, principal, patient_id=patient_id, data=data, now=clock.now())


@router.get(P + "/care-plans", summary="Treatment and care plans", response_model=CarePlanPage, responses=READ_ERRORS)
def list_care_plans(patient_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                    limit: Limit = 50, cursor: Cursor = None) -> CarePlanPage:
    return entries.list_care_plans(session, principal, patient_id=patient_id, now=clock.now(), limit=limit,
                                   cursor=cursor)


@router.patch(P + "/care-plans/{plan_id}", summary="Change a care plan's status, goals or activities",
              response_model=CarePlanRead, responses=WRITE_ERRORS)
def update_care_plan(patient_id: uuid.UUID, plan_id: uuid.UUID, data: CarePlanUpdate, session: SessionDep,
                     principal: CurrentPrincipal, clock: ClockDep) -> CarePlanRead:
    return entries.update_care_plan(session, principal, patient_id=patient_id, plan_id=plan_id, data=data,
                                    now=clock.now())


@router.post(P + "/care-plans/{plan_id}/notes", summary="Append a progress note to a care plan",
             status_code=status.HTTP_201_CREATED, response_model=CarePlanRead, responses=WRITE_ERRORS)
def add_progress_note(patient_id: uuid.UUID, plan_id: uuid.UUID, data: ProgressNoteCreate, session: SessionDep,
                      principal: CurrentPrincipal, clock: ClockDep) -> CarePlanRead:
    return entries.add_progress_note(session, principal, patient_id=patient_id, plan_id=plan_id, data=data,
                                     now=clock.now())


# --- timeline -----------------------------------------------------------------------------------------------------


@router.get(P + "/timeline", summary="Everything in the record in time order, filterable and paged",
            response_model=TimelinePage, responses=READ_ERRORS)
def get_timeline(
    patient_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep, limit: Limit = 50,
    cursor: Cursor = None,
    kind: Annotated[list[RecordKind] | None, Query(max_length=7, description="Repeat to select several.")] = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: Annotated[datetime | None, Query(description="Exclusive.")] = None,
) -> TimelinePage:
    return timeline.get_timeline(session, principal, patient_id=patient_id, now=clock.now(), limit=limit,
                                 cursor=cursor, kinds=kind or (), from_=_aware(from_, "from"), to=_aware(to, "to"))


# --- code pickers -------------------------------------------------------------------------------------------------


@router.get("/codes/{system}", summary="Search a shipped code list (ICD-10, LOINC, vaccines) for a picker",
            response_model=CodeSearchRead, responses={401: READ_ERRORS[401], 422: READ_ERRORS[422]})
async def search_codes(
    system: CodeSystem, principal: CurrentPrincipal,
    q: Annotated[str, Query(min_length=1, max_length=100, description="Code prefix, words, synonyms; typos ok"),
                 NoControl],
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> CodeSearchRead:
    found = search(system, q, limit=limit)
    return CodeSearchRead(items=[CodeRead(system=system.value, code=c.code, display=c.display,
                                          synonyms=list(c.synonyms), detail=c.detail) for c in found])
