"""Who may do what in scheduling.

* A patient's appointments and waitlist entries are patient data (category `appointments`): every
  access for a patient or caregiver goes through `patients.load_patient_for`, which asks the policy
  (caregivers need the `manage_appointments` scope) and writes the audit entry.
* Staff run the schedule of their own organization's facilities: rules, exceptions, the day's list,
  check-in and the queue. An appointment at a facility of the staff member's organization is the
  relationship that lets them see it (the patient chose that clinic); each such read is audited with
  the patient's id. Network admins (no organization) reach every facility.
* Booking *for* a patient as staff also needs the patient to be cared for by the staff member's
  organization (the policy's organization rule), so a front desk cannot book strangers.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from carebridge.contexts import facilities, patients
from carebridge.kernel.errors import Forbidden, NotFound, ValidationProblem
from carebridge.security import DataCategory, Permission, Principal, Role, require

PATIENT_FACING = frozenset({Role.patient, Role.caregiver})


def bad(field: str, message: str, where: str = "body") -> ValidationProblem:
    return ValidationProblem(f"{field}: {message}", errors=[{"field": field, "in": where, "message": message}])


def facility_org(session: Session, facility_id: uuid.UUID) -> uuid.UUID | None:
    try:
        return facilities.get_facility(session, facility_id=facility_id).organization_id
    except NotFound as exc:
        raise bad("facility_id", "no such facility") from exc


def require_staff_at(session: Session, principal: Principal, permission: Permission,
                     facility_id: uuid.UUID) -> None:
    """Staff act only at their own organization's facilities; a network admin anywhere."""
    require(principal, permission)
    if principal.role in PATIENT_FACING:
        raise Forbidden(f"role {principal.role.value} may not {permission.value}")
    org = facility_org(session, facility_id)
    if principal.organization_id is not None and principal.organization_id != org:
        raise Forbidden("this facility belongs to another organization")


def may_see_facility(principal: Principal, facility_org_id: uuid.UUID | None) -> bool:
    return principal.organization_id is None or principal.organization_id == facility_org_id


def patient_for(session: Session, principal: Principal, patient_id: uuid.UUID | None, permission: Permission, *,
                now: datetime, action: str) -> patients.PatientRead | None:
    """Resolve and authorize the patient an appointment action is for (policy + audit via load_patient_for)."""
    target = patient_id or principal.patient_id
    if target is None:
        raise bad("patient_id", "say which patient this is for")
    row = patients.load_patient_for(session, principal, target, permission, now=now, action=action,
                                    category=DataCategory.appointments)
    return patients.to_read(row)


def patient_name(read: patients.PatientRead | None) -> str:
    if read is None:
        return ""
    return f"{read.given_name} {read.family_name}".strip()[:200]
