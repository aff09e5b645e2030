"""The access-log page: who opened or changed a patient's record, when, and why.

A patient sees their own record's log; a caregiver the log of a patient who let them read the
record (linked from their dashboard). Viewing the log is itself recorded by the service, so by
default the page hides the reader's own activity, with a link to include it.

The audit trail's words (actions, purposes, outcomes, resource types) are codes; here they become
phrases a patient understands, in their language. An unknown code is shown as it is, not hidden.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Final
from urllib.parse import urlencode

from fastapi import Query
from fastapi.responses import Response

from carebridge.contexts.audit.schemas import AccessLogEntryRead
from carebridge.contexts.audit.service import access_log
from carebridge.kernel.errors import Forbidden
from carebridge.security import Role
from carebridge.web.i18n import N_
from carebridge.web.render import ROLE_NAMES, SignedInPageDep, page_router, parse_uuid, signed_in

TEMPLATE_DIR: Final = Path(__file__).resolve().parent / "templates"
PAGE_SIZE: Final = 50

router = page_router()

ACTION_LABELS: Final = {
    "create": N_("Created"),
    "read": N_("Opened"),
    "search": N_("Found in a search"),
    "update": N_("Changed"),
    "delete": N_("Deleted"),
    "export": N_("Exported"),
    "merge": N_("Merged"),
    "verify": N_("Checked"),
}
PURPOSE_LABELS: Final = {
    "treatment": N_("Treatment"),
    "emergency": N_("Emergency access"),
    "operations": N_("Clinic operations"),
    "payment": N_("Payment"),
    "patient_request": N_("Your own request"),
    "family_request": N_("Request by your caregiver"),
    "caregiving": N_("Caregiving"),
    "public_health": N_("Public health"),
    "research": N_("Research"),
    "compliance": N_("Compliance review"),
    "system_admin": N_("System administration"),
}
OUTCOME_LABELS: Final = {
    "success": N_("Allowed"),
    "denied": N_("Refused"),
    "failure": N_("Failed"),
}
RESOURCE_LABELS: Final = {
    "Patient": N_("personal details"),
    "User": N_("account"),
    "CaregiverLink": N_("caregiver link"),
    "access_log": N_("access log"),
    "Encounter": N_("visit"),
    "Condition": N_("condition"),
    "Observation": N_("measurement"),
    "AllergyIntolerance": N_("allergy"),
    "MedicationRequest": N_("prescription"),
    "Immunization": N_("vaccination"),
    "DocumentReference": N_("document"),
    "Consent": N_("consent"),
    "CarePlan": N_("care plan"),
    "Appointment": N_("appointment"),
    "HealthSummary": N_("health summary"),
    "Timeline": N_("health record timeline"),
    "CareRequest": N_("symptom check"),
    "VitalReading": N_("vital signs"),
    "VitalStream": N_("live vital signs"),
    "Alert": N_("monitoring alert"),
    "Device": N_("monitoring device"),
    "WaitlistEntry": N_("waitlist place"),
}


@dataclass(frozen=True, slots=True)
class LogRow:
    at: datetime
    is_you: bool
    who: str
    role_label: str
    organization: str
    action: str
    action_label: str
    resource_type: str
    resource_label: str
    purpose: str
    purpose_label: str
    outcome: str
    outcome_label: str


def _role_label(role: str | None) -> str:
    if role and role in Role.__members__:
        return ROLE_NAMES[Role(role)]
    return ""


def log_row(entry: AccessLogEntryRead, *, me: str) -> LogRow:
    who = entry.who
    return LogRow(
        at=entry.at, is_you=who.username is not None and who.username == me, who=who.username or "CareBridge",
        role_label=_role_label(who.role), organization=who.organization_name or "",
        action=entry.action, action_label=ACTION_LABELS.get(entry.action, ""),
        resource_type=entry.resource_type, resource_label=RESOURCE_LABELS.get(entry.resource_type, ""),
        purpose=entry.purpose, purpose_label=PURPOSE_LABELS.get(entry.purpose, ""),
        outcome=entry.outcome, outcome_label=OUTCOME_LABELS.get(entry.outcome, ""),
    )


@router.get("/access-log", summary="Who looked at my record (or, for a caregiver, at a linked patient's)")
def access_log_page(page: SignedInPageDep,
                    patient_id: Annotated[str | None, Query(max_length=64)] = None,
                    mine: Annotated[str | None, Query(max_length=1)] = None,
                    cursor: Annotated[str | None, Query(max_length=512)] = None) -> Response:
    principal, _me = signed_in(page)
    target = parse_uuid(patient_id)
    if principal.role is Role.caregiver and target is None:
        return page.redirect("/dashboard")
    if principal.role not in (Role.patient, Role.caregiver):
        raise Forbidden("the access log page is for patients and their caregivers")
    include_self = mine == "1"
    result = access_log(page.session, principal, patient_id=target if principal.role is Role.caregiver else None,
                        include_self=include_self, cursor=cursor, limit=PAGE_SIZE, now=page.clock.now())
    rows = [log_row(entry, me=principal.username) for entry in result.items]
    base = "/access-log?" + (urlencode({"patient_id": str(target)}) + "&" if principal.role is Role.caregiver else "")
    return page.render("audit/access_log.html", entries=rows, next_cursor=result.next_cursor,
                       own_record=principal.role is Role.patient, include_self=include_self, base_url=base)
