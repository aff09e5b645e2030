"""The audit context: a tamper-evident, append-only record of every access to patient data.

Other contexts call `record(session, principal, action=..., resource_type=..., patient_id=...)`
inside their unit of work; the entry is chained and committed with their change.
"""

from carebridge.contexts.audit.ledger import AuditSigner, record
from carebridge.contexts.audit.schemas import (
    AccessLogEntryRead,
    AccessLogPage,
    AuditEntryFilter,
    AuditEntryRead,
    AuditVerifyRead,
)
from carebridge.contexts.audit.service import access_log, list_entries
from carebridge.contexts.audit.vocab import PURPOSE_V3_CODES, AuditAction, AuditOutcome, PurposeOfUse

__all__ = [
    "PURPOSE_V3_CODES",
    "AccessLogEntryRead",
    "AccessLogPage",
    "AuditAction",
    "AuditEntryFilter",
    "AuditEntryRead",
    "AuditOutcome",
    "AuditSigner",
    "AuditVerifyRead",
    "PurposeOfUse",
    "access_log",
    "list_entries",
    "record",
]
