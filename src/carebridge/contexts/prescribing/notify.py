"""Messages of prescribing through the notifications context: dose reminders (queued at signing, withdrawn
with the prescription), a refill-due alert before the dispensed supply runs out, and the prescriber's answer
to a refill request.

A reminder goes to the patient's own account when there is one (in-app inbox, and the account's channel
preferences and quiet hours), with the record's phone as a fallback contact. Each reminder carries a signed
link (`/medications/doses/<dose id>?t=<token>`, an HMAC of the dose id with the server secret) that marks
that one dose taken or skipped without signing in: it can touch nothing else, and only until a day after the
dose (see doses.mark_by_link). Only the first week of doses is queued at signing (a year-long course would be
hundreds of rows); the daily job (jobs.py) keeps a week queued ahead from `reminders_until` on. Dedupe keys
`rx:<id>:...` make a repeat harmless and let `cancel_pending` withdraw all of a prescription's messages at once.

The patient's account is found through a read-only projection of the users table (id, patient_id, is_active),
as the audit context reads organization names: a lookup, not a dependency on identity's internals.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta

from sqlalchemy import Boolean, Uuid, column, select, table
from sqlalchemy.orm import Session

from carebridge.contexts import notifications
from carebridge.contexts.patients.models import Patient
from carebridge.contexts.prescribing.doses import ZONE, dose_id_of, link_token, schedule
from carebridge.contexts.prescribing.models import Prescription, PrescriptionItem

DOSE_REMINDER = "prescription.dose_reminder"
REFILL_DUE = "prescription.refill_due"
REFILL_DECIDED = "prescription.refill_decided"
QUEUE_AHEAD = timedelta(days=7)
REFILL_WARNING = timedelta(days=3)  # the refill-due alert comes this long before the supply runs out

_users = table("users", column("id", Uuid()), column("patient_id", Uuid()), column("is_active", Boolean()))

notifications.register_template(notifications.Template(
    key=DOSE_REMINDER,
    subject={"en": "Time for {medication}", "hi": "{medication} लेने का समय"},
    body={"en": "Hello {name}, please take {medication} ({dose}) at {when}. "
                "Mark it taken or skipped: {link}",
          "hi": "नमस्ते {name}, कृपया {when} पर {medication} ({dose}) लें। "
                "लिया या छोड़ा दर्ज करें: {link}"},
))
notifications.register_template(notifications.Template(
    key=REFILL_DUE,
    subject={"en": "{medication} is running out", "hi": "{medication} खत्म होने वाली है"},
    body={"en": "Hello {name}, your {medication} will run out around {when}. Ask for a refill in CareBridge "
                "(My medicines).",
          "hi": "नमस्ते {name}, आपकी {medication} लगभग {when} तक खत्म हो जाएगी। CareBridge (मेरी दवाइयाँ) में "
                "रीफ़िल माँगें।"},
))
notifications.register_template(notifications.Template(
    key=REFILL_DECIDED,
    subject={"en": "Your refill request: {outcome}", "hi": "आपका रीफ़िल अनुरोध: {outcome_hi}"},
    body={"en": "Hello {name}, your prescriber {outcome} your refill of {medications}. {reason}",
          "hi": "नमस्ते {name}, आपके डॉक्टर ने {medications} का रीफ़िल {outcome_hi}। {reason}"},
))


def dose_link(secret: bytes, the_dose_id: str) -> str:
    return f"/medications/doses/{the_dose_id}?t={link_token(secret, the_dose_id)}"


def patient_account(session: Session, patient_id: uuid.UUID) -> uuid.UUID | None:
    """The patient's own active sign-in account, if they have one."""
    value = session.scalars(select(_users.c.id).where(_users.c.patient_id == patient_id,
                                                      _users.c.is_active.is_(True)).limit(1)).first()
    return value if isinstance(value, uuid.UUID) else None


def recipient_for(session: Session, patient: Patient) -> notifications.Recipient | None:
    account = patient_account(session, patient.id)
    if account is None and not patient.phone:
        return None
    return notifications.Recipient(user_id=account, name=patient.given_name, email=None, phone=patient.phone)


def queue_reminders(session: Session, rx: Prescription, items: list[PrescriptionItem], patient: Patient, *,
                    secret: bytes, now: datetime) -> int:
    """Queue reminders for the doses due from `rx.reminders_until` (signing, the first time) to a week from now,
    and move the mark; a patient with no account and no phone gets none. The number queued."""
    if rx.signed_at is None:
        return 0
    after, horizon = rx.reminders_until, now + QUEUE_AHEAD
    plans: list[tuple[PrescriptionItem, list[datetime]]] = []
    more = False  # does any item have a dose beyond the horizon?
    for item in items:
        times = schedule(item, rx.signed_at)
        more = more or bool(times and times[-1] > horizon)
        plans.append((item, [d for d in times if (after is None or d > after) and now <= d <= horizon]))
    rx.reminders_until = horizon if more else None  # None: nothing left for the daily job to queue
    recipient = recipient_for(session, patient)
    if recipient is None:
        return 0
    count = 0
    for item, due_times in plans:
        for due in due_times:
            the_id = dose_id_of(item.id, due)
            notifications.enqueue(
                session, recipient=recipient, template=DOSE_REMINDER, now=now, not_before=due,
                params={"name": patient.given_name, "medication": item.medication,
                        "dose": f"{item.dose:g} {item.unit}", "when": due.astimezone(ZONE).strftime("%H:%M"),
                        "link": dose_link(secret, the_id)},
                dedupe_key=f"rx:{rx.id}:{item.id}:{int(due.timestamp())}")
            count += 1
    return count


def run_out(rx: Prescription, item: PrescriptionItem) -> datetime | None:
    """When the dispensed supply of an item is used up, taking doses as scheduled from signing."""
    if rx.signed_at is None or item.times_per_day <= 0 or item.quantity <= 0:
        return None
    per_dose = item.quantity / max(1, item.times_per_day * item.duration_days)
    days = item.dispensed_quantity / per_dose / item.times_per_day
    return rx.signed_at + timedelta(days=math.floor(days))


def queue_refill_due(session: Session, rx: Prescription, items: list[PrescriptionItem], patient: Patient, *,
                     now: datetime) -> int:
    """After a dispense: warn before the supply runs out, for items that still have refills."""
    recipient = recipient_for(session, patient)
    if recipient is None:
        return 0
    count = 0
    for item in items:
        end = run_out(rx, item)
        if end is None or item.refills_used >= item.refills:
            continue
        notifications.enqueue(
            session, recipient=recipient, template=REFILL_DUE, now=now, not_before=max(now, end - REFILL_WARNING),
            params={"name": patient.given_name, "medication": item.medication,
                    "when": end.astimezone(ZONE).strftime("%Y-%m-%d")},
            dedupe_key=f"rx:{rx.id}:refill:{item.id}:{item.dispensed_quantity}")
        count += 1
    return count


def refill_decided(session: Session, rx: Prescription, patient: Patient, *, approved: bool, reason: str,
                   now: datetime) -> None:
    recipient = recipient_for(session, patient)
    if recipient is None:
        return
    names = ", ".join(sorted({i.medication for i in session.scalars(
        select(PrescriptionItem).where(PrescriptionItem.prescription_id == rx.id))}))[:300]
    notifications.enqueue(session, recipient=recipient, template=REFILL_DECIDED, now=now,
                          params={"name": patient.given_name, "outcome": "approved" if approved else "refused",
                                  "outcome_hi": "स्वीकार किया" if approved else "अस्वीकार किया",
                                  "medications": names, "reason": reason},
                          dedupe_key=f"rxrefill:{rx.id}:{now.isoformat()}")


def cancel_reminders(session: Session, rx: Prescription, *, now: datetime) -> int:
    return notifications.cancel_pending(session, dedupe_prefix=f"rx:{rx.id}:", now=now)
