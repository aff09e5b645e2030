"""iCalendar (RFC 5545) feeds of a practitioner's or a patient's appointments behind a revocable secret URL.

Calendar apps cannot sign in, so the URL itself is the credential: 32 random bytes, of which the server
keeps only the SHA-256. Revoking a feed kills its URL at once. Events carry no patient names and no
reasons (a calendar is often synced to third-party services): the time, the kind, the place's id and,
for teleconsultations, the meeting link.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

import icalendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts import audit
from carebridge.contexts.scheduling.models import Appointment, CalendarFeed
from carebridge.contexts.scheduling.permissions import PATIENT_FACING, bad, patient_for
from carebridge.contexts.scheduling.schemas import AppointmentStatus, CalendarFeedRead
from carebridge.kernel.errors import Forbidden, NotFound
from carebridge.kernel.ids import new_id
from carebridge.security import Permission, Principal, Role, require

FEED_PATH = "/api/v1/calendar-feeds/{token}.ics"
PRODID = "-//CareBridge//Scheduling//EN"
HORIZON_DAYS = 366
KIND_TITLES = {"in_person": "Clinic appointment", "teleconsultation": "Teleconsultation",
               "home_visit": "Home visit"}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_feed(session: Session, principal: Principal, *, owner_kind: str, owner_id: uuid.UUID | None,
                now: datetime) -> CalendarFeedRead:
    if owner_kind == "patient":
        patient = patient_for(session, principal, owner_id, Permission.appointment_read, now=now, action="export")
        assert patient is not None  # noqa: S101 - patient_for raises rather than return None here
        owner = patient.id
        org = None
    elif owner_kind == "practitioner":
        require(principal, Permission.appointment_read)
        if principal.role in PATIENT_FACING or owner_id is None:
            raise Forbidden("practitioner feeds are for clinic staff")
        owner, org = owner_id, principal.organization_id
    else:
        raise bad("owner_kind", "patient or practitioner")
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed(id=new_id(), owner_kind=owner_kind, owner_id=owner, organization_id=org,
                        token_hash=_hash(token), created_by=principal.user_id, created_at=now)
    session.add(feed)
    session.flush()
    audit.record(session, principal, action="create", resource_type="CalendarFeed", resource_id=feed.id,
                 patient_id=owner if owner_kind == "patient" else None, at=now)
    return CalendarFeedRead(id=feed.id, owner_kind=owner_kind, owner_id=owner, url=FEED_PATH.format(token=token),
                            created_at=now)


def revoke_feed(session: Session, principal: Principal, *, feed_id: uuid.UUID, now: datetime) -> None:
    feed = session.get(CalendarFeed, feed_id)
    if feed is None or (feed.created_by != principal.user_id and principal.role is not Role.admin):
        raise NotFound("no such calendar feed")  # only its maker (or an admin) may revoke it
    feed.revoked_at = feed.revoked_at or now
    audit.record(session, principal, action="update", resource_type="CalendarFeed", resource_id=feed.id,
                 detail={"revoked": True}, at=now)


def feed_ics(session: Session, *, token: str, now: datetime) -> bytes:
    """The feed's calendar; 404 for an unknown or revoked token (the same answer, so tokens cannot be probed)."""
    if not token or len(token) > 100:
        raise NotFound("no such calendar feed")
    feed = session.scalar(select(CalendarFeed).where(CalendarFeed.token_hash == _hash(token)))
    if feed is None or feed.revoked_at is not None:
        raise NotFound("no such calendar feed")
    stmt = select(Appointment).where(Appointment.start_at >= now - timedelta(days=30),
                                     Appointment.start_at < now + timedelta(days=HORIZON_DAYS))
    if feed.owner_kind == "patient":
        stmt = stmt.where(Appointment.patient_id == feed.owner_id)
    else:
        stmt = stmt.where(Appointment.practitioner_id == feed.owner_id)
        if feed.organization_id is not None:
            stmt = stmt.where(Appointment.organization_id == feed.organization_id)
    rows = list(session.scalars(stmt.order_by(Appointment.start_at, Appointment.id).limit(2000)))
    audit.record(session, None, action="export", resource_type="CalendarFeed", resource_id=feed.id,
                 patient_id=feed.owner_id if feed.owner_kind == "patient" else None, purpose="operations", at=now)
    return render(rows, now=now, name="CareBridge appointments")


def render(rows: list[Appointment], *, now: datetime, name: str) -> bytes:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    for a in rows:
        ev = icalendar.Event()
        ev.add("uid", f"{a.id}@carebridge")
        ev.add("dtstamp", now)
        ev.add("dtstart", a.start_at)
        ev.add("dtend", a.end_at)
        ev.add("summary", KIND_TITLES.get(a.kind, "Appointment"))
        ev.add("status", "CANCELLED" if a.status == AppointmentStatus.cancelled.value else "CONFIRMED")
        ev.add("sequence", 1 if a.status == AppointmentStatus.cancelled.value else 0)
        if a.meeting_link:
            ev.add("url", a.meeting_link)
            ev.add("location", a.meeting_link)
        ev.add("description", f"Appointment {a.id}")
        cal.add_component(ev)
    return bytes(cal.to_ical())
