"""Telling the care team about a deteriorating patient, through the notifications context.

An alert raised, and again an alert escalated (nobody acknowledged it in time), queue one urgent message
(delivered through quiet hours) to each practitioner and nurse of the patient's treating organizations whom
the policy lets read the patient's vitals, in the same transaction as the alert, so a rolled-back alert
told no one. The dedupe key names the alert, the step and the person: nobody hears twice of one step.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from carebridge.contexts import notifications, patients
from carebridge.contexts.monitoring import lookups
from carebridge.contexts.monitoring.models import Alert
from carebridge.security import DataCategory, Permission, Principal, decide_patient_access

ALERT_RAISED = "monitoring.alert_raised"
ALERT_ESCALATED = "monitoring.alert_escalated"
CHART_PATH = "/monitoring/patients/{patient_id}/chart"

notifications.register_template(notifications.Template(
    key=ALERT_RAISED,
    subject={"en": "Alert: {patient} ({kind}, {severity})",
             "hi": "अलर्ट: {patient} ({kind}, {severity})"},
    body={"en": "{patient}'s readings raised a {severity} {kind} alert at {when} UTC (score {score}). "
                "See the vitals: {link}",
          "hi": "{patient} की रीडिंग से {when} UTC पर {severity} {kind} अलर्ट आया (स्कोर {score})। "
                "वाइटल्स देखें: {link}"},
    urgent=True))
notifications.register_template(notifications.Template(
    key=ALERT_ESCALATED,
    subject={"en": "Escalated: {patient}'s {kind} alert is not acknowledged",
             "hi": "एस्केलेट: {patient} का {kind} अलर्ट स्वीकार नहीं हुआ"},
    body={"en": "Nobody has acknowledged the {severity} {kind} alert raised for {patient} at {when} UTC. "
                "Please review now: {link}",
          "hi": "{patient} के लिए {when} UTC पर आए {severity} {kind} अलर्ट को किसी ने स्वीकार नहीं किया। "
                "कृपया अभी देखें: {link}"},
    urgent=True))


def notify_care_team(session: Session, alert: Alert, *, template: str, now: datetime) -> int:
    """Queue the message to each care-team member the policy allows; answers how many were queued."""
    members = lookups.care_team(session, alert.patient_id)
    if not members:
        return 0
    facts = patients.get_patient_facts(session, alert.patient_id, now=now)
    name = lookups.patient_name(session, alert.patient_id)
    params = {"patient": name, "kind": alert.kind, "severity": alert.severity.replace("_", "-"),
              "score": "-" if alert.score is None else str(alert.score),
              "when": alert.raised_at.strftime("%Y-%m-%d %H:%M"),
              "link": CHART_PATH.format(patient_id=alert.patient_id)}
    step = template.rsplit("_", 1)[-1]
    queued = 0
    for member in members:
        principal = Principal(user_id=member.user_id, role=member.role, organization_id=member.organization_id)
        if not decide_patient_access(principal, Permission.record_read, facts, DataCategory.vitals).allowed:
            continue
        notifications.enqueue(session, recipient=notifications.Recipient(user_id=member.user_id, name=member.name),
                              template=template, params=params, now=now,
                              dedupe_key=f"monitoring:{alert.id}:{step}:{member.user_id}")
        queued += 1
    return queued
