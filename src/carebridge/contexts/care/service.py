"""Care requests: triage the complaint, find facilities the urgency calls for, say what to do next.

Who may do what: anyone may ask (anonymous callers are rate-limited per client address); a request
made by a signed-in patient (or by a caregiver or staff member for a patient, through the policy) is
linked to that patient, and only such a request can be read back or saved to the record. Every read
and write of a linked request passes the policy and is audited. Unsaved requests are deleted once
they expire (`purge_expired`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from carebridge.contexts import audit, integrations, patients
from carebridge.contexts.care.config import CareConfig
from carebridge.contexts.care.models import CareRequest
from carebridge.contexts.care.plan import SearchPlan, next_steps, plan_for, summarize
from carebridge.contexts.care.schemas import (
    CareRequestCreate,
    CareRequestRead,
    FacilityMatch,
    NextStep,
    SearchPlanRead,
    TriageSummary,
)
from carebridge.engines.triage import Level, Sex, TriageInput, triage
from carebridge.kernel.errors import Conflict, NotFound, Unauthorized
from carebridge.kernel.ids import new_id
from carebridge.security import DataCategory, Permission, Principal, Role

RESOURCE = "CareRequest"


def run_triage(symptoms: str, *, age: float | None = None, sex: Sex | None = None) -> TriageSummary:
    return summarize(triage(TriageInput(text=symptoms, age=age, sex=sex or Sex.UNKNOWN)))


def find_facilities(session: Session, config: CareConfig, *, level: Level, specialty: str, lat: float, lng: float,
                    limit: int) -> tuple[SearchPlanRead, SearchPlan, list[FacilityMatch]]:
    """The search the urgency calls for; when no facility with the specialty is in reach, the nearest of any."""
    plan = plan_for(level, specialty)
    found = config.provider.find(session, plan=plan, lat=lat, lng=lng, limit=limit, travel=config.travel)
    matched = True
    if not found and plan.specialty is not None:
        plan = SearchPlan(emergency_only=False, radius_km=plan.radius_km, specialty=None)
        found = config.provider.find(session, plan=plan, lat=lat, lng=lng, limit=limit, travel=config.travel)
        matched = False
    read = SearchPlanRead(emergency_only=plan.emergency_only, radius_km=plan.radius_km, specialty=plan.specialty,
                          specialty_matched=matched, provider=config.provider.name)
    return read, plan, found


def _purpose(principal: Principal) -> str:
    return {Role.patient: "patient_request", Role.caregiver: "family_request"}.get(principal.role, "treatment")


def _patient_for(session: Session, principal: Principal | None, asked: uuid.UUID | None,
                 now: datetime) -> uuid.UUID | None:
    if asked is not None:
        if principal is None:
            raise Unauthorized("sign in to make a care request for a patient")
        patients.load_patient_for(session, principal, asked, Permission.patient_read, purpose=_purpose(principal),
                                  now=now, audit_success=False, action="create", category=DataCategory.clinical)
        return asked
    if principal is not None and principal.role is Role.patient:
        return principal.patient_id
    return None


def _to_read(row: CareRequest) -> CareRequestRead:
    answer = row.answer or {}
    return CareRequestRead(
        id=row.id, patient_id=row.patient_id, created_at=row.created_at, expires_at=row.expires_at, saved=row.saved,
        symptoms=row.symptoms, triage=TriageSummary.model_validate(row.triage),
        search=SearchPlanRead.model_validate(answer["search"]),
        facilities=[FacilityMatch.model_validate(f) for f in answer.get("facilities", [])],
        next_steps=[NextStep.model_validate(s) for s in answer.get("next_steps", [])],
    )


def create_care_request(session: Session, principal: Principal | None, *, data: CareRequestCreate,
                        client_address: str | None, config: CareConfig, now: datetime) -> CareRequestRead:
    if principal is None:
        integrations.hit(session, bucket=integrations.address_bucket("care", client_address),
                         limit=config.anonymous_limit, window_seconds=config.anonymous_window_seconds, now=now,
                         what="care requests without signing in from this address")
    patient_id = _patient_for(session, principal, data.patient_id, now)
    summary = run_triage(data.symptoms, age=data.age, sex=data.sex)
    lat, lng = data.location.lat, data.location.lng
    search, plan, found = find_facilities(session, config, level=summary.level, specialty=summary.specialty,
                                          lat=lat, lng=lng, limit=data.limit)
    steps = next_steps(summary, plan, found, lat=lat, lng=lng)
    row = CareRequest(
        id=new_id(), patient_id=patient_id, created_by=principal.user_id if principal else None,
        symptoms=data.symptoms, age=data.age, sex=data.sex.value if data.sex else None, level=summary.level.value,
        specialty=summary.specialty, triage=summary.model_dump(mode="json"), lat=lat, lng=lng,
        answer={"search": search.model_dump(mode="json"), "facilities": [f.model_dump(mode="json") for f in found],
                "next_steps": [s.model_dump(mode="json") for s in steps]},
        created_at=now, expires_at=now + config.ttl,
    )
    session.add(row)
    session.flush()
    if patient_id is not None and principal is not None:
        audit.record(session, principal, action="create", resource_type=RESOURCE, resource_id=row.id,
                     patient_id=patient_id, purpose=_purpose(principal), detail={"level": row.level}, at=now)
    return _to_read(row)


def _live(session: Session, request_id: uuid.UUID, now: datetime) -> CareRequest:
    row = session.get(CareRequest, request_id)
    if row is None or (row.expires_at is not None and row.expires_at <= now) or row.api_key_id is not None:
        raise NotFound("no such care request (it may have expired)")
    return row


def get_care_request(session: Session, principal: Principal, *, request_id: uuid.UUID,
                     now: datetime) -> CareRequestRead:
    row = _live(session, request_id, now)
    if row.patient_id is None:
        if row.created_by != principal.user_id:
            raise NotFound("no such care request (it may have expired)")
        return _to_read(row)
    patients.load_patient_for(session, principal, row.patient_id, Permission.patient_read,
                              purpose=_purpose(principal), now=now, audit_success=False,
                              category=DataCategory.clinical)
    audit.record(session, principal, action="read", resource_type=RESOURCE, resource_id=row.id,
                 patient_id=row.patient_id, purpose=_purpose(principal), at=now)
    return _to_read(row)


def save_care_request(session: Session, principal: Principal, *, request_id: uuid.UUID,
                      now: datetime) -> CareRequestRead:
    """Keep the request in the patient's record: it is no longer purged. Saving twice changes nothing."""
    row = _live(session, request_id, now)
    if row.patient_id is None:
        if row.created_by != principal.user_id:
            raise NotFound("no such care request (it may have expired)")
        raise Conflict("this care request is not linked to a patient, so there is no record to save it to",
                       slug="care-request-unlinked")
    patients.load_patient_for(session, principal, row.patient_id, Permission.patient_update,
                              purpose=_purpose(principal), now=now, audit_success=False, action="update",
                              category=DataCategory.clinical)
    if not row.saved:
        row.saved, row.saved_at, row.expires_at = True, now, None
        session.flush()
        audit.record(session, principal, action="update", resource_type=RESOURCE, resource_id=row.id,
                     patient_id=row.patient_id, purpose=_purpose(principal), detail={"saved": True}, at=now)
    return _to_read(row)


def purge_expired(session: Session, *, now: datetime) -> int:
    """Delete every unsaved care request past its expiry; saved ones have no expiry and stay."""
    result = session.execute(
        delete(CareRequest).where(CareRequest.saved.is_(False), CareRequest.expires_at.is_not(None),
                                  CareRequest.expires_at <= now).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)
