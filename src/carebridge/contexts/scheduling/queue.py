"""Walk-in queue tokens for outpatient departments.

Token numbers run from 1 each local day per (facility, department). The number is taken as
max + 1 and protected by the table's unique key: two desks issuing at once collide in the database
and the loser simply takes the next number. The public board shows numbers only, never names.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from carebridge.contexts import audit, facilities
from carebridge.contexts.scheduling.models import AvailabilityRule, QueueToken
from carebridge.contexts.scheduling.permissions import bad, patient_for, require_staff_at
from carebridge.contexts.scheduling.schemas import QueueRead, QueueStatus, QueueTokenCreate, QueueTokenRead
from carebridge.engines.slots import zone_of
from carebridge.kernel.errors import Conflict, NotFound
from carebridge.kernel.ids import new_id
from carebridge.security import Permission, Principal

MAX_TRIES = 8
BOARD_SIZE = 50


def facility_zone(session: Session, facility_id: uuid.UUID) -> str:
    """The facility's zone: from its opening hours, else from a schedule there, else UTC."""
    try:
        hours = facilities.get_facility(session, facility_id=facility_id).opening_hours
    except NotFound as exc:
        raise bad("facility_id", "no such facility") from exc
    if hours is not None:
        return hours.time_zone
    zone = session.scalar(select(AvailabilityRule.time_zone).where(AvailabilityRule.facility_id == facility_id)
                          .limit(1))
    return zone or "UTC"


def local_today(session: Session, facility_id: uuid.UUID, now: datetime) -> date:
    return now.astimezone(zone_of(facility_zone(session, facility_id))).date()


def token_read(t: QueueToken, *, public: bool = False) -> QueueTokenRead:
    return QueueTokenRead(id=t.id, facility_id=t.facility_id, department=t.department, service_date=t.service_date,
                          number=t.number, display_name="" if public else t.display_name,
                          status=QueueStatus(t.status), created_at=t.created_at, called_at=t.called_at)


def issue_token(session: Session, principal: Principal, *, data: QueueTokenCreate, now: datetime) -> QueueTokenRead:
    require_staff_at(session, principal, Permission.queue_manage, data.facility_id)
    name = data.display_name
    if data.patient_id is not None:
        patient = patient_for(session, principal, data.patient_id, Permission.appointment_book, now=now,
                              action="create")
        if patient is not None and not name:
            name = f"{patient.given_name} {patient.family_name[:1]}".strip()
    day = local_today(session, data.facility_id, now)
    for _ in range(MAX_TRIES):
        top = session.scalar(select(func.max(QueueToken.number)).where(
            QueueToken.facility_id == data.facility_id, QueueToken.department == data.department,
            QueueToken.service_date == day)) or 0
        token = QueueToken(id=new_id(), facility_id=data.facility_id, department=data.department, service_date=day,
                           number=top + 1, patient_id=data.patient_id, display_name=name,
                           status=QueueStatus.waiting.value, created_at=now)
        try:
            with session.begin_nested():
                session.add(token)
        except IntegrityError:
            continue
        audit.record(session, principal, action="create", resource_type="QueueToken", resource_id=token.id,
                     patient_id=data.patient_id, at=now)
        return token_read(token)
    raise Conflict("the queue is busy; try again", slug="queue-busy", title="Queue busy")


def call_next(session: Session, principal: Principal, *, facility_id: uuid.UUID, department: str,
              now: datetime) -> QueueTokenRead | None:
    """Finish whoever is being served and call the lowest waiting number."""
    require_staff_at(session, principal, Permission.queue_manage, facility_id)
    day = local_today(session, facility_id, now)
    base = select(QueueToken).where(QueueToken.facility_id == facility_id, QueueToken.department == department,
                                    QueueToken.service_date == day)
    for current in session.scalars(base.where(QueueToken.status == QueueStatus.called.value)):
        current.status = QueueStatus.done.value
    nxt = session.scalar(base.where(QueueToken.status == QueueStatus.waiting.value)
                         .order_by(QueueToken.number).limit(1))
    if nxt is None:
        return None
    nxt.status, nxt.called_at = QueueStatus.called.value, now
    audit.record(session, principal, action="update", resource_type="QueueToken", resource_id=nxt.id,
                 patient_id=nxt.patient_id, detail={"status": "called"}, at=now)
    return token_read(nxt)


def set_token_status(session: Session, principal: Principal, *, token_id: uuid.UUID, status: QueueStatus,
                     now: datetime) -> QueueTokenRead:
    token = session.get(QueueToken, token_id)
    if token is None:
        raise NotFound("no such queue token")
    require_staff_at(session, principal, Permission.queue_manage, token.facility_id)
    token.status = status.value
    if status is QueueStatus.called:
        token.called_at = now
    audit.record(session, principal, action="update", resource_type="QueueToken", resource_id=token.id,
                 patient_id=token.patient_id, detail={"status": status.value}, at=now)
    return token_read(token)


def board(session: Session, *, facility_id: uuid.UUID, department: str, now: datetime,
          public: bool = True) -> QueueRead:
    """Today's board: the number being served and who waits, in order (numbers only when public)."""
    day = local_today(session, facility_id, now)
    base = select(QueueToken).where(QueueToken.facility_id == facility_id, QueueToken.department == department,
                                    QueueToken.service_date == day)
    serving = session.scalar(base.where(QueueToken.status == QueueStatus.called.value)
                             .order_by(QueueToken.called_at.desc(), QueueToken.number.desc()).limit(1))
    waiting = session.scalars(base.where(QueueToken.status == QueueStatus.waiting.value)
                              .order_by(QueueToken.number).limit(BOARD_SIZE))
    return QueueRead(facility_id=facility_id, department=department, service_date=day,
                     now_serving=serving.number if serving else None,
                     waiting=[token_read(t, public=public) for t in waiting])


def staff_board(session: Session, principal: Principal, *, facility_id: uuid.UUID, department: str,
                now: datetime) -> QueueRead:
    require_staff_at(session, principal, Permission.queue_manage, facility_id)
    return board(session, facility_id=facility_id, department=department, now=now, public=False)
