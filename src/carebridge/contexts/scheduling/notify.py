"""What scheduling tells people, through the notifications outbox (same transaction as the change).

Reminders are enqueued at booking with `not_before` = start - offset, one per configured offset, each
with a dedupe key naming the appointment, the offset and the start. Cancelling, rescheduling or a
no-show cancels the appointment's pending reminders, so a moved appointment never reminds about the
old time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from carebridge.contexts import notifications, patients
from carebridge.engines.slots import zone_of
from carebridge.security import Principal, Role
from carebridge.settings import Settings

REMINDER = "appointment.reminder"
OFFER = "appointment.waitlist_offer"
TEMPLATES: dict[str, dict[str, dict[str, str]]] = {
    REMINDER: {
        "subject": {"en": "Appointment reminder: {when}", "hi": "अपॉइंटमेंट की याद: {when}"},
        "body": {"en": "Hello {name}, you have an appointment with {practitioner} at {when} ({zone}).{link}",
                 "hi": "नमस्ते {name}, आपका {practitioner} के साथ {when} ({zone}) पर अपॉइंटमेंट है।{link}"},
    },
    OFFER: {
        "subject": {"en": "A slot has opened up: {when}", "hi": "एक स्लॉट खाली हुआ है: {when}"},
        "body": {"en": "Hello {name}, a slot at {when} ({zone}) is held for you until {until}. "
                       "Accept it on your appointments page, or it passes to the next patient.",
                 "hi": "नमस्ते {name}, {when} ({zone}) का स्लॉट {until} तक आपके लिए रोका गया है। "
                       "इसे अपने अपॉइंटमेंट पेज पर स्वीकार करें, नहीं तो यह अगले मरीज़ को मिल जाएगा।"},
    },
}


for _key, _parts in TEMPLATES.items():
    notifications.register_template(notifications.Template(key=_key, subject=_parts["subject"], body=_parts["body"]))


@dataclass(frozen=True, slots=True)
class Contact:
    user_id: uuid.UUID | None
    email: str | None
    phone: str | None


def contact_for(principal: Principal, patient: patients.PatientRead) -> Contact:
    """The booking patient's or caregiver's own account hears about it; staff bookings use the record's contacts."""
    if principal.role in (Role.patient, Role.caregiver):
        return Contact(user_id=principal.user_id, email=None, phone=None)
    return Contact(user_id=None, email=patient.email, phone=patient.phone)


class _Notified(Protocol):
    @property
    def notify_user_id(self) -> uuid.UUID | None: ...
    @property
    def contact_email(self) -> str | None: ...
    @property
    def contact_phone(self) -> str | None: ...
    @property
    def patient_name(self) -> str: ...


def _recipient(row: _Notified) -> notifications.Recipient:
    return notifications.Recipient(user_id=row.notify_user_id, name=row.patient_name, email=row.contact_email,
                                   phone=row.contact_phone)


def _local(at: datetime, zone: str) -> str:
    return at.astimezone(zone_of(zone)).strftime("%Y-%m-%d %H:%M")


class _Appointment(_Notified, Protocol):
    @property
    def id(self) -> object: ...
    @property
    def start_at(self) -> datetime: ...
    @property
    def time_zone(self) -> str: ...
    @property
    def meeting_link(self) -> str | None: ...


def reminder_key(appt: _Appointment, minutes: int) -> str:
    return f"appointment:{appt.id}:reminder:{minutes}:{appt.start_at.isoformat()}"


def schedule_reminders(session: Session, appt: _Appointment, *, now: datetime, settings: Settings,
                       practitioner: str = "") -> list[object]:
    """One reminder per configured offset still in the future."""
    if appt.notify_user_id is None and not appt.contact_email and not appt.contact_phone:
        return []
    ids: list[object] = []
    for minutes in sorted(set(settings.scheduling_reminder_minutes), reverse=True):
        due = appt.start_at - timedelta(minutes=minutes)
        if due <= now:
            continue
        link = f" {appt.meeting_link}" if appt.meeting_link else ""
        ids.append(notifications.enqueue(
            session, recipient=_recipient(appt), template=REMINDER,
            params={"name": appt.patient_name, "practitioner": practitioner or "your doctor",
                    "when": _local(appt.start_at, appt.time_zone), "zone": appt.time_zone, "link": link},
            now=now, not_before=due, dedupe_key=reminder_key(appt, minutes)))
    return ids


def cancel_reminders(session: Session, appt: _Appointment, *, now: datetime) -> int:
    return int(notifications.cancel_pending(session, dedupe_prefix=f"appointment:{appt.id}:reminder:", now=now))


class _Entry(_Notified, Protocol):
    @property
    def id(self) -> object: ...
    @property
    def offered_start_at(self) -> datetime | None: ...
    @property
    def offer_expires_at(self) -> datetime | None: ...


def waitlist_offer(session: Session, entry: _Entry, *, now: datetime, zone: str = "UTC") -> bool:
    """Tell the patient a seat is held for them; False when there is nobody to tell or nothing to send with."""
    if entry.offered_start_at is None or entry.offer_expires_at is None:
        return False
    if entry.notify_user_id is None and not entry.contact_email and not entry.contact_phone:
        return False
    notifications.enqueue(
        session, recipient=_recipient(entry), template=OFFER,
        params={"name": entry.patient_name, "when": _local(entry.offered_start_at, zone), "zone": zone,
                "until": _local(entry.offer_expires_at, zone)},
        now=now, dedupe_key=f"waitlist:{entry.id}:offer:{entry.offered_start_at.isoformat()}")
    return True
