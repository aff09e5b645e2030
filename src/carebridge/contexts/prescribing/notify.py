"""Dose reminders through the notifications context: queued when a prescription is signed, cancelled with it.

Only the first week of doses is queued at signing (a year-long course would be hundreds of rows); the rest
is left for a daily job (not built yet, see docs/prescribing.md). Dedupe keys `rx:<id>:<item>:<unix>` make a
repeat harmless and let `cancel_pending` withdraw them by prescription.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from carebridge.contexts import notifications
from carebridge.contexts.patients.models import Patient
from carebridge.contexts.prescribing.doses import ZONE, schedule
from carebridge.contexts.prescribing.models import Prescription, PrescriptionItem

DOSE_REMINDER = "prescription.dose_reminder"
QUEUE_AHEAD = timedelta(days=7)

notifications.register_template(notifications.Template(
    key=DOSE_REMINDER,
    subject={"en": "Time for {medication}", "hi": "{medication} लेने का समय"},
    body={"en": "Hello {name}, please take {medication} ({dose}) at {when}. Mark it taken in CareBridge.",
          "hi": "नमस्ते {name}, कृपया {when} पर {medication} ({dose}) लें। CareBridge में इसे लिया हुआ दर्ज करें।"},
))


def queue_reminders(session: Session, rx: Prescription, items: list[PrescriptionItem], patient: Patient, *,
                    now: datetime) -> int:
    """Queue reminders for the doses due in the coming week; a patient with no phone gets none (yet)."""
    if not patient.phone or rx.signed_at is None:
        return 0
    recipient = notifications.Recipient(user_id=None, name=patient.given_name, email=None, phone=patient.phone)
    count = 0
    for item in items:
        for due in schedule(item, rx.signed_at):
            if due > now + QUEUE_AHEAD:
                break
            notifications.enqueue(
                session, recipient=recipient, template=DOSE_REMINDER, now=now, not_before=due,
                params={"name": patient.given_name, "medication": item.medication,
                        "dose": f"{item.dose:g} {item.unit}", "when": due.astimezone(ZONE).strftime("%H:%M")},
                dedupe_key=f"rx:{rx.id}:{item.id}:{int(due.timestamp())}")
            count += 1
    return count


def cancel_reminders(session: Session, rx: Prescription, *, now: datetime) -> int:
    return notifications.cancel_pending(session, dedupe_prefix=f"rx:{rx.id}:", now=now)
