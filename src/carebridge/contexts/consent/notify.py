"""Telling a patient their record was opened by break-glass, through the notifications context.

The notice is urgent (it passes quiet hours): a patient who did not expect it should hear at once. It goes to
the patient's own accounts (in-app, and their channel preferences), else to the record's phone.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from carebridge.contexts import notifications
from carebridge.contexts.consent import lookups

BREAK_GLASS = "consent.break_glass"

notifications.register_template(notifications.Template(
    key=BREAK_GLASS,
    subject={"en": "Your health record was opened in an emergency",
             "hi": "आपका स्वास्थ्य रिकॉर्ड आपात स्थिति में खोला गया"},
    body={"en": "Hello {name}, {clinician} opened your health record without your consent at {at}, giving this "
                "reason: {reason}. The access ends at {until}. If this looks wrong, tell your clinic; you can see "
                "every access under \"Who looked at my record\".",
          "hi": "नमस्ते {name}, {clinician} ने {at} पर आपकी सहमति के बिना आपका स्वास्थ्य रिकॉर्ड खोला, कारण: "
                "{reason}। यह पहुँच {until} पर समाप्त होगी। अगर यह गलत लगे तो अपने क्लिनिक को बताएँ।"},
    urgent=True,
))


def break_glass_notice(session: Session, *, patient_id: uuid.UUID, directive_id: uuid.UUID, clinician: str,
                       reason: str, at: datetime, until: datetime) -> list[uuid.UUID]:
    """Queue the notice in the caller's transaction; returns the queued notification ids."""
    contact = lookups.patient_contact(session, patient_id)
    if contact is None:
        return []
    name, phone = contact
    params = {"name": name, "clinician": clinician, "reason": reason, "at": at.isoformat(timespec="minutes"),
              "until": until.isoformat(timespec="minutes")}
    accounts = lookups.patient_accounts(session, patient_id)
    recipients = ([notifications.Recipient(user_id=uid, name=name, phone=phone) for uid in accounts]
                  or ([notifications.Recipient(user_id=None, name=name, phone=phone)] if phone else []))
    return [notifications.enqueue(session, recipient=r, template=BREAK_GLASS, params=params, now=at,
                                  dedupe_key=f"consent:break-glass:{directive_id}:{r.user_id or 'phone'}")
            for r in recipients]
