"""The one table of roles and permissions. Change access here, nowhere else."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    patient = "patient"
    caregiver = "caregiver"
    practitioner = "practitioner"
    nurse = "nurse"
    health_worker = "health_worker"
    pharmacist = "pharmacist"
    front_desk = "front_desk"
    admin = "admin"


STAFF_ROLES = frozenset(
    {Role.practitioner, Role.nurse, Role.health_worker, Role.pharmacist, Role.front_desk, Role.admin}
)


class Permission(StrEnum):
    patient_read = "patient:read"
    patient_search = "patient:search"
    patient_create = "patient:create"
    patient_update = "patient:update"
    patient_deactivate = "patient:deactivate"
    patient_merge = "patient:merge"
    practitioner_read = "practitioner:read"
    practitioner_write = "practitioner:write"
    organization_read = "organization:read"
    organization_write = "organization:write"
    user_manage = "user:manage"
    user_change_role = "user:change_role"
    caregiver_link = "caregiver:link"
    audit_read = "audit:read"
    audit_verify = "audit:verify"
    facility_write = "facility:write"
    facility_update_beds = "facility:update_beds"
    facility_update_hours = "facility:update_hours"
    appointment_read = "appointment:read"
    appointment_book = "appointment:book"
    appointment_manage = "appointment:manage"
    schedule_manage = "schedule:manage"
    queue_manage = "queue:manage"
    sos_raise = "sos:raise"
    sos_manage = "sos:manage"
    events_watch = "events:watch"  # the live tail of domain events (operations; admin only)
    api_key_manage = "api_key:manage"  # issue and revoke integration API keys (admin only)
    record_read = "record:read"  # the clinical record: encounters, problems, allergies, observations, ...
    record_write = "record:write"
    record_amend = "record:amend"  # change a record after its encounter closed (audited, with a reason)
    prescription_read = "prescription:read"
    prescription_write = "prescription:write"  # prescribe, check, acknowledge/override alerts, sign, cancel
    prescription_dispense = "prescription:dispense"
    prescription_refill = "prescription:refill"  # a patient (or caregiver) asks for a refill, marks doses
    consent_read = "consent:read"  # "who can see my record": the patient (or a caregiver with manage_consent)
    consent_manage = "consent:manage"  # grant, narrow and revoke access to the patient's record
    break_glass = "consent:break_glass"  # a clinician opens a record without consent in an emergency, with a reason
    document_read = "document:read"  # uploaded documents (lab reports, discharge summaries, scans): list, download
    document_write = "document:write"  # upload a document, register a signing key


class DataCategory(StrEnum):
    """Which part of a patient's record a read or write touches: the unit consent grants and restricts.

    Mental-health notes and the mood journal sit outside default (organization) access: only an explicit
    grant, the patient, or break-glass reaches them.
    """

    demographics = "demographics"  # the profile: names, contacts, identifiers
    clinical = "clinical"  # encounters, problems, allergies, observations, immunizations, care plans
    documents = "documents"
    prescriptions = "prescriptions"
    vitals = "vitals"
    appointments = "appointments"
    mental_health = "mental_health"


class CaregiverScope(StrEnum):
    """What a patient lets a linked caregiver do on their behalf."""

    read_record = "read_record"
    update_profile = "update_profile"
    manage_appointments = "manage_appointments"
    manage_medications = "manage_medications"
    manage_consent = "manage_consent"  # see and change who may see the patient's record


_P = Permission
_CLINICAL = {_P.patient_read, _P.patient_search, _P.patient_create, _P.patient_update,
             _P.practitioner_read, _P.organization_read}
# Staff keep their own organization's facilities current (the service checks the organization).
_FACILITY_STAFF = {_P.facility_update_beds, _P.facility_update_hours}

# Scheduling: patients and caregivers book; staff also run the day (check-in, queue); schedules are kept by
# practitioners (their own), front desk and admins (the service checks the facility's organization).
_APPT_SELF = {_P.appointment_read, _P.appointment_book}
_APPT_STAFF = {*_APPT_SELF, _P.appointment_manage, _P.queue_manage}
# SOS: a patient (or a linked caregiver) raises; clinical staff of the patient's organization acknowledge and close.
_SOS_STAFF = {_P.sos_manage}
# The clinical record: clinicians write it, only practitioners amend a closed one; patients and caregivers read.
_RECORD_WRITE = {_P.record_read, _P.record_write}
# Prescribing: practitioners prescribe and sign, pharmacists dispense, patients/caregivers read and ask for refills.
_RX_SELF = {_P.prescription_read, _P.prescription_refill}
# Consent is the patient's (the policy refuses staff these two); clinicians may break the glass in an emergency.
_CONSENT_SELF = {_P.consent_read, _P.consent_manage}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.patient: frozenset({_P.patient_read, _P.patient_update, _P.caregiver_link,
                             _P.practitioner_read, _P.organization_read, *_APPT_SELF, _P.sos_raise, _P.record_read,
                             *_RX_SELF, *_CONSENT_SELF}),
    Role.caregiver: frozenset({_P.patient_read, _P.patient_update, _P.practitioner_read, _P.organization_read,
                               *_APPT_SELF, _P.sos_raise, _P.record_read, *_RX_SELF, *_CONSENT_SELF}),
    Role.practitioner: frozenset(_CLINICAL | _FACILITY_STAFF | _APPT_STAFF | {_P.schedule_manage} | _SOS_STAFF
                                 | _RECORD_WRITE | {_P.record_amend, _P.prescription_read, _P.prescription_write}
                                 | {_P.break_glass}),
    Role.nurse: frozenset(_CLINICAL | _FACILITY_STAFF | _APPT_STAFF | _SOS_STAFF | _RECORD_WRITE
                          | {_P.prescription_read, _P.break_glass}),
    Role.health_worker: frozenset(_CLINICAL | _SOS_STAFF | _RECORD_WRITE),
    Role.pharmacist: frozenset({_P.patient_read, _P.patient_search, _P.practitioner_read, _P.organization_read,
                                *_FACILITY_STAFF, _P.record_read, _P.prescription_read,
                                _P.prescription_dispense}),
    Role.front_desk: frozenset(_CLINICAL | _FACILITY_STAFF | {_P.patient_deactivate, _P.patient_merge}
                               | _APPT_STAFF | {_P.schedule_manage} | _SOS_STAFF),
    Role.admin: frozenset(set(Permission)),
}

# Documents: patients and clinicians upload and read; caregivers (with read_record) and pharmacists read.
_DOCS = frozenset({_P.document_read, _P.document_write})
for _role, _docs in ((Role.patient, _DOCS), (Role.caregiver, frozenset({_P.document_read})),
                     (Role.practitioner, _DOCS), (Role.nurse, _DOCS), (Role.health_worker, _DOCS),
                     (Role.pharmacist, frozenset({_P.document_read}))):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _docs

# Permissions no role but admin holds: the ones withheld from an admin who has not enrolled TOTP.
ADMIN_ONLY_PERMISSIONS: frozenset[Permission] = frozenset(
    set(Permission) - {p for role, perms in ROLE_PERMISSIONS.items() if role is not Role.admin for p in perms}
)

# The caregiver scope a permission needs when a caregiver acts for a patient.
CAREGIVER_SCOPE_FOR: dict[Permission, CaregiverScope] = {
    _P.patient_read: CaregiverScope.read_record,
    _P.patient_update: CaregiverScope.update_profile,
    _P.appointment_read: CaregiverScope.manage_appointments,
    _P.appointment_book: CaregiverScope.manage_appointments,
    _P.record_read: CaregiverScope.read_record,
    _P.prescription_read: CaregiverScope.read_record,
    _P.prescription_refill: CaregiverScope.manage_medications,
    _P.document_read: CaregiverScope.read_record,
    _P.consent_read: CaregiverScope.manage_consent,
    _P.consent_manage: CaregiverScope.manage_consent,
}

# Permissions only the patient's side holds over a record: staff of a treating organization (admins included)
# never manage a patient's consent for them.
PATIENT_SIDE_PERMISSIONS: frozenset[Permission] = frozenset(_CONSENT_SELF)

# Categories a treating organization never reaches by default, whatever the deployment configures.
SENSITIVE_CATEGORIES: frozenset[DataCategory] = frozenset({DataCategory.mental_health})


def has_permission(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())
