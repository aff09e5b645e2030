"""The words audit entries are written in: actions, outcomes and purposes of use.

One list so the access log a patient reads, the admin filters and the FHIR AuditEvent mapping agree.
`record` accepts any short lower-case word so a context can add an action without touching this
file, but the common ones live here. Purposes map to HL7 v3 PurposeOfUse (ActReason) codes.
"""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    create = "create"
    read = "read"
    search = "search"
    update = "update"
    delete = "delete"
    export = "export"
    merge = "merge"
    import_ = "import"
    login = "login"
    verify = "verify"
    checkpoint = "checkpoint"


class AuditOutcome(StrEnum):
    success = "success"
    denied = "denied"  # the policy refused; recorded even though the request rolls back
    failure = "failure"  # attempted but failed (a wrong password, a replayed token)


class PurposeOfUse(StrEnum):
    treatment = "treatment"  # TREAT
    emergency = "emergency"  # ETREAT: break-glass, always with a reason in `detail`
    operations = "operations"  # HOPERAT
    payment = "payment"  # HPAYMT
    patient_request = "patient_request"  # PATRQT: the patient acting on their own record
    family_request = "family_request"  # FAMRQT: a caregiver the patient linked
    public_health = "public_health"  # PUBHLTH
    research = "research"  # HRESCH
    compliance = "compliance"  # HCOMPL: reviewing the audit trail itself
    system_admin = "system_admin"  # HSYSADMIN


PURPOSE_V3_CODES: dict[PurposeOfUse, str] = {
    PurposeOfUse.treatment: "TREAT",
    PurposeOfUse.emergency: "ETREAT",
    PurposeOfUse.operations: "HOPERAT",
    PurposeOfUse.payment: "HPAYMT",
    PurposeOfUse.patient_request: "PATRQT",
    PurposeOfUse.family_request: "FAMRQT",
    PurposeOfUse.public_health: "PUBHLTH",
    PurposeOfUse.research: "HRESCH",
    PurposeOfUse.compliance: "HCOMPL",
    PurposeOfUse.system_admin: "HSYSADMIN",
}
