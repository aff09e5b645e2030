"""SOS: raise an emergency, find the nearest emergency care, follow it from raised to closed.

Who may do what (the access policy decides each one through `patients.load_patient_for`, audited with
purpose "emergency"):
* raise - the patient for themself, or any caregiver the patient linked (no scope needed: an emergency is
  not the moment to ask which);
* read an event and its trail - the patient, a linked caregiver, staff of an organization caring for them;
* acknowledge and close - staff of the patient's organization (`sos:manage`), with a note;
* cancel (a false alarm) - the patient or their caregiver, while it is still open.
The event, its trail, its audit entry, its domain event and its alerts commit together or not at all.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carebridge.contexts import audit, facilities, patients
from carebridge.contexts.emergency import alerts
from carebridge.contexts.emergency.models import SosEvent, SosOrganization, SosTransition
from carebridge.contexts.emergency.schemas import (
    MAX_FACILITIES,
    Location,
    LocationSource,
    SosAction,
    SosCreate,
    SosFacility,
    SosRead,
    SosStatus,
    SosTransitionCreate,
    SosTransitionRead,
)
from carebridge.kernel.errors import Conflict, Forbidden, NotFound, TooManyRequests, ValidationProblem
from carebridge.kernel.events import emit
from carebridge.kernel.ids import new_id
from carebridge.security import DataCategory, Permission, Principal, Role, decide_patient_access, require

PURPOSE: Final = "emergency"
RESOURCE: Final = "SosEvent"
SEARCH_RADIUS_KM: Final = 500.0
FACILITIES_SHOWN: Final = 5
RAISE_LIMIT: Final = 5
RAISE_WINDOW: Final = timedelta(minutes=10)
"""At most 5 SOS per account in 10 minutes: enough for a real emergency and its retries, not for a flood."""
PATIENT_SIDE: Final = frozenset({Role.patient, Role.caregiver})
OPEN: Final = frozenset({SosStatus.raised, SosStatus.acknowledged})

# action -> (statuses it may start from, the status it leads to)
TRANSITIONS: Final[dict[SosAction, tuple[frozenset[SosStatus], SosStatus]]] = {
    SosAction.acknowledge: (frozenset({SosStatus.raised}), SosStatus.acknowledged),
    SosAction.close: (OPEN, SosStatus.closed),
    SosAction.cancel: (OPEN, SosStatus.cancelled),
}


def _bad(field: str, message: str) -> ValidationProblem:
    return ValidationProblem(f"{field}: {message}", errors=[{"field": field, "in": "body", "message": message}])


def _whose(principal: Principal, patient_id: uuid.UUID | None) -> uuid.UUID:
    """The patient meant: a patient's own record; anyone else must name one."""
    if principal.role is Role.patient:
        if principal.patient_id is None:
            raise Forbidden("this patient account has no record yet")
        if patient_id is not None and patient_id != principal.patient_id:
            raise Forbidden("patients can raise an SOS only for themselves")
        return principal.patient_id
    if patient_id is None:
        raise _bad("patient_id", "required: say whose emergency it is")
    return patient_id


def display_name(patient: patients.PatientRead) -> str:
    return " ".join(p for p in (patient.preferred_name or patient.given_name, patient.family_name) if p)


def nearest_emergency(session: Session, *, lat: float, lng: float,
                      limit: int = FACILITIES_SHOWN) -> list[SosFacility]:
    """The nearest emergency-capable facilities, nearest first, within the widest radius search allows.

    Emergency departments receive around the clock, so opening hours are not asked: in an emergency the
    nearest door that takes emergencies is the answer.
    """
    query = facilities.FacilitySearch(lat=lat, lng=lng, radius_km=SEARCH_RADIUS_KM, limit=limit, emergency=True)
    out = []
    for hit in facilities.search_facilities(session, query=query).items:
        f = hit.facility
        address = ", ".join(p for p in (f.address.line, f.address.city) if p) or None
        out.append(SosFacility(id=f.id, name=f.name, phone=f.contact.phone, distance_km=round(hit.distance_km, 2),
                               travel_minutes=hit.travel_minutes, lat=f.location.lat, lng=f.location.lng,
                               address=address))
    return out


def _last_known(session: Session, patient: patients.PatientRead) -> Location | None:
    """The position of the patient's latest SOS, else their home address's position."""
    row = session.execute(select(SosEvent.lat, SosEvent.lng).where(SosEvent.patient_id == patient.id)
                          .order_by(SosEvent.raised_at.desc()).limit(1)).first()
    if row is not None:
        return Location(lat=row[0], lng=row[1])
    if patient.address is not None and patient.address.geo is not None:
        return Location(lat=patient.address.geo.lat, lng=patient.address.geo.lng)
    return None


def _check_rate(session: Session, principal: Principal, now: datetime) -> None:
    since = now - RAISE_WINDOW
    times = list(session.scalars(select(SosEvent.raised_at).where(
        SosEvent.raised_by_user_id == principal.user_id, SosEvent.raised_at > since)
        .order_by(SosEvent.raised_at).limit(RAISE_LIMIT)))
    if len(times) >= RAISE_LIMIT:
        wait = max(1, math.ceil((times[0] + RAISE_WINDOW - now).total_seconds()))
        raise TooManyRequests(f"at most {RAISE_LIMIT} SOS in {int(RAISE_WINDOW.total_seconds() // 60)} minutes "
                              f"from one account; the earlier ones are open - call 112 if you need more help",
                              retry_after=wait, slug="sos-rate-limited")


def _read(session: Session, event: SosEvent, patient_name: str) -> SosRead:
    trail = session.scalars(select(SosTransition).where(SosTransition.sos_id == event.id)
                            .order_by(SosTransition.at, SosTransition.id))
    return SosRead(
        id=event.id, patient_id=event.patient_id, patient_name=patient_name, status=SosStatus(event.status),
        location=Location(lat=event.lat, lng=event.lng, accuracy_m=event.accuracy_m),
        location_source=LocationSource(event.location_source), message=event.message, raised_at=event.raised_at,
        updated_at=event.updated_at, raised_by_user_id=event.raised_by_user_id,
        facilities=[SosFacility.model_validate(f) for f in event.facilities], alert_targets=event.alert_targets,
        notified=event.notified,
        trail=[SosTransitionRead(status=SosStatus(t.status), at=t.at, by_user_id=t.by_user_id, by_role=t.by_role,
                                 by_name=t.by_name, note=t.note) for t in trail])


def _trail(session: Session, event: SosEvent, principal: Principal, status: SosStatus, note: str | None,
           now: datetime) -> None:
    session.add(SosTransition(id=new_id(), sos_id=event.id, status=status.value, by_user_id=principal.user_id,
                              by_role=principal.role.value, by_name=principal.username[:200], note=note, at=now))


def raise_sos(session: Session, principal: Principal, *, body: SosCreate, now: datetime) -> SosRead:
    """Store the event, find the nearest emergency care and count (or alert) contacts and caregivers, at once."""
    require(principal, Permission.sos_raise)
    patient_id = _whose(principal, body.patient_id)
    row = patients.load_patient_for(session, principal, patient_id, Permission.sos_raise, purpose=PURPOSE, now=now,
                                    audit_success=False, action="sos_raise", category=DataCategory.clinical)
    _check_rate(session, principal, now)
    patient = patients.to_read(row)
    location, source = body.location, LocationSource.current
    if location is None:
        location, source = _last_known(session, patient), LocationSource.last_known
        if location is None:
            raise _bad("location", "no location given and none known for this patient: say where you are")
    found = nearest_emergency(session, lat=location.lat, lng=location.lng)
    targets = alerts.targets_for(session, patient, raised_by=principal.user_id)
    event = SosEvent(id=new_id(), patient_id=patient_id, raised_by_user_id=principal.user_id,
                     raised_by_role=principal.role.value, status=SosStatus.raised.value, lat=location.lat,
                     lng=location.lng, accuracy_m=location.accuracy_m, location_source=source.value,
                     message=body.message, facilities=[f.model_dump(mode="json") for f in found[:MAX_FACILITIES]],
                     alert_targets=len(targets), notified=0, raised_at=now, updated_at=now)
    session.add(event)
    session.flush()
    event.notified = alerts.queue_alerts(
        session, [t for t in targets if t.user_id or t.phone or t.email], sos_id=event.id,
        patient_name=display_name(patient), lat=location.lat, lng=location.lng,
        facility=f"{found[0].name} {found[0].phone or ''}".strip() if found else "", now=now)
    for org in patients.get_patient_facts(session, patient_id).organization_ids:
        session.add(SosOrganization(sos_id=event.id, organization_id=org))
    _trail(session, event, principal, SosStatus.raised, body.message, now)
    audit.record(session, principal, action="sos_raise", resource_type=RESOURCE, resource_id=event.id,
                 patient_id=patient_id, purpose=PURPOSE, at=now,
                 detail={"source": source.value, "facilities": len(found), "alert_targets": len(targets)})
    emit(session, "emergency.sos_raised", {"sos_id": str(event.id), "patient_id": str(patient_id),
                                           "status": SosStatus.raised.value, "at": now.isoformat()})
    return _read(session, event, display_name(patient))


def _load(session: Session, principal: Principal, sos_id: uuid.UUID, now: datetime, action: str,
          permission: Permission) -> tuple[SosEvent, str]:
    event = session.get(SosEvent, sos_id)
    if event is None:
        raise NotFound(f"no SOS event {sos_id}")
    row = patients.load_patient_for(session, principal, event.patient_id, permission, purpose=PURPOSE, now=now,
                                    audit_success=False, action=action, category=DataCategory.clinical)
    return event, display_name(patients.to_read(row))


def _read_permission(principal: Principal) -> Permission:
    return Permission.sos_raise if principal.role in PATIENT_SIDE else Permission.sos_manage


def get_sos(session: Session, principal: Principal, *, sos_id: uuid.UUID, now: datetime) -> SosRead:
    event, name = _load(session, principal, sos_id, now, "read", _read_permission(principal))
    audit.record(session, principal, action="read", resource_type=RESOURCE, resource_id=event.id,
                 patient_id=event.patient_id, purpose=PURPOSE, at=now)
    return _read(session, event, name)


def list_patient_sos(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime,
                     limit: int = 20) -> list[SosRead]:
    """One patient's recent events, newest first."""
    row = patients.load_patient_for(session, principal, patient_id, _read_permission(principal), purpose=PURPOSE,
                                    now=now, audit_success=False, action="search", category=DataCategory.clinical)
    rows = list(session.scalars(select(SosEvent).where(SosEvent.patient_id == patient_id)
                                .order_by(SosEvent.raised_at.desc(), SosEvent.id).limit(limit)))
    audit.record(session, principal, action="search", resource_type=RESOURCE, patient_id=patient_id,
                 purpose=PURPOSE, at=now, detail={"count": len(rows)})
    name = display_name(patients.to_read(row))
    return [_read(session, r, name) for r in rows]


def list_open_sos(session: Session, principal: Principal, *, now: datetime, limit: int = 50) -> list[SosRead]:
    """Open events of the patients the caller's organization cares for, oldest first (the longest waiting)."""
    require(principal, Permission.sos_manage)
    if principal.organization_id is None:
        return []
    rows = list(session.scalars(
        select(SosEvent).join(SosOrganization, SosOrganization.sos_id == SosEvent.id)
        .where(SosOrganization.organization_id == principal.organization_id,
               SosEvent.status.in_([s.value for s in OPEN]))
        .order_by(SosEvent.raised_at, SosEvent.id).limit(limit)))
    facts = patients.facts_for(session, [r.patient_id for r in rows])
    out = []
    for event in rows:
        fact = facts.get(event.patient_id)
        if fact is None or not decide_patient_access(principal, Permission.sos_manage, fact,
                                                     DataCategory.clinical).allowed:
            continue  # the patient left this organization after raising it
        patient = patients.to_read(patients.load_patient_for(
            session, principal, event.patient_id, Permission.sos_manage, purpose=PURPOSE, now=now,
            audit_success=False, action="read", category=DataCategory.clinical))
        audit.record(session, principal, action="read", resource_type=RESOURCE, resource_id=event.id,
                     patient_id=event.patient_id, purpose=PURPOSE, at=now, detail={"list": "open"})
        out.append(_read(session, event, display_name(patient)))
    return out


def open_count(session: Session, *, patient_id: uuid.UUID) -> int:
    """How many of a patient's SOS are still open (for their dashboard; the caller checked access)."""
    return int(session.scalar(select(func.count()).select_from(SosEvent).where(
        SosEvent.patient_id == patient_id, SosEvent.status.in_([s.value for s in OPEN]))) or 0)


def transition_sos(session: Session, principal: Principal, *, sos_id: uuid.UUID, body: SosTransitionCreate,
                   now: datetime) -> SosRead:
    """Acknowledge, close or cancel; a transition the status does not allow is a 409 naming the status."""
    if body.action is SosAction.cancel:
        if principal.role not in PATIENT_SIDE:
            raise Forbidden("only the patient or their caregiver can cancel an SOS; staff close it")
        needed = Permission.sos_raise
    else:
        needed = Permission.sos_manage
    require(principal, needed)
    event, name = _load(session, principal, sos_id, now, f"sos_{body.action.value}", needed)
    allowed_from, to = TRANSITIONS[body.action]
    if SosStatus(event.status) not in allowed_from:
        raise Conflict(f"this SOS is {event.status}: it cannot be {to.value}", slug="sos-wrong-status",
                       extra={"status": event.status})
    event.status = to.value
    event.updated_at = now
    _trail(session, event, principal, to, body.note, now)
    audit.record(session, principal, action=f"sos_{body.action.value}", resource_type=RESOURCE,
                 resource_id=event.id, patient_id=event.patient_id, purpose=PURPOSE, at=now,
                 detail={"status": to.value})
    emit(session, f"emergency.sos_{to.value}", {"sos_id": str(event.id), "patient_id": str(event.patient_id),
                                                "status": to.value, "by": str(principal.user_id),
                                                "at": now.isoformat()})
    session.flush()
    return _read(session, event, name)
