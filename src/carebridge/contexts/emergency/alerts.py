"""Who an SOS must reach: the patient's emergency contacts and the caregivers they linked.

The alerts themselves go through the notifications outbox in the same transaction as the event, so an
SOS that committed has its alerts queued and one that rolled back alerted no one. Each alert carries a
dedupe key naming the event and the recipient, so no one is alerted twice for one SOS. The template is
urgent: it is delivered through the recipient's quiet hours.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from carebridge.contexts import identity, notifications, patients

SOS_ALERT = "emergency.sos_alert"
notifications.register_template(notifications.Template(
    key=SOS_ALERT,
    subject={"en": "SOS: {patient} needs help now", "hi": "SOS: {patient} को अभी मदद चाहिए"},
    body={"en": "{patient} raised an SOS at {when} UTC. Location: {map}. Nearest emergency care: {facility}. "
                "Call them, or 112.",
          "hi": "{patient} ने {when} UTC पर SOS भेजा। स्थान: {map}। सबसे नज़दीकी आपातकालीन इलाज: {facility}। "
                "उन्हें कॉल करें, या 112 पर।"},
    urgent=True))


@dataclass(frozen=True, slots=True)
class AlertTarget:
    key: str  # stable per recipient: contact:<id> or caregiver:<user id>
    name: str
    phone: str | None
    email: str | None
    user_id: uuid.UUID | None = None


def targets_for(session: Session, patient: patients.PatientRead, *,
                raised_by: uuid.UUID) -> Sequence[AlertTarget]:
    """Everyone to alert, emergency contacts first; the person who raised the SOS already knows."""
    out = [AlertTarget(key=f"contact:{c.id}", name=c.name, phone=c.phone, email=c.email)
           for c in patient.emergency_contacts]
    out += [AlertTarget(key=f"caregiver:{uid}", name="", phone=None, email=None, user_id=uid)
            for uid in identity.caregiver_user_ids(session, patient_id=patient.id) if uid != raised_by]
    return out


def map_link(lat: float, lng: float) -> str:
    return f"https://www.openstreetmap.org/?mlat={lat:.5f}&mlon={lng:.5f}#map=16/{lat:.5f}/{lng:.5f}"


def queue_alerts(session: Session, targets: Sequence[AlertTarget], *, sos_id: uuid.UUID, patient_name: str,
                 lat: float, lng: float, facility: str, now: datetime) -> int:
    """One urgent notification per target, in the SOS's transaction; the number queued."""
    params = {"patient": patient_name, "when": now.strftime("%Y-%m-%d %H:%M"), "map": map_link(lat, lng),
              "facility": facility or "-"}
    for target in targets:
        notifications.enqueue(session, recipient=notifications.Recipient(
            user_id=target.user_id, name=target.name, email=target.email, phone=target.phone),
            template=SOS_ALERT, params=params, now=now, dedupe_key=f"sos:{sos_id}:{target.key}")
    return len(targets)
