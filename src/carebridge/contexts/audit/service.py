"""Audit use cases: record an access, show a patient who reached their record, let admins search and verify.

Reading the audit trail is itself an access to patient data, so it is recorded too: a patient's or
caregiver's look at the access log, every patient an admin's search turns up (one entry per patient
on the page, so each patient sees that an administrator looked), and every verification run.

Admins see entries by their own organization's staff and entries about patients their organization
cares for, the same reach the policy gives staff over patients; an admin who belongs to no
organization sees none (fail closed: the whole trail is read on the server, with the CLI or SQL).
Verification reports only sequence numbers and counts, so any admin may run it. Organization names and
patient-organization links are read through two read-only column projections rather than by
importing the practitioners and patients contexts: they are display labels and a scope, and the
audit trail must not depend on the contexts it records.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import ColumnElement, Select, String, Uuid, column, or_, select, table
from sqlalchemy.orm import Session

from carebridge.contexts.audit.commands import open_audited_database
from carebridge.contexts.audit.ledger import (
    AuditSigner,
    checkpoint_now,
    count_entries,
    group_committer,
    install,
    read_head,
    record,
    take_read_entries,
    verify,
)
from carebridge.contexts.audit.models import AuditEntry
from carebridge.contexts.audit.schemas import (
    AccessActor,
    AccessLogEntryRead,
    AccessLogPage,
    AuditEntryFilter,
    AuditEntryPage,
    AuditEntryRead,
    AuditVerifyRead,
)
from carebridge.contexts.audit.vocab import AuditAction, AuditOutcome, PurposeOfUse
from carebridge.engines.audit_chain import VerifyReport
from carebridge.kernel.errors import Forbidden, ValidationProblem
from carebridge.kernel.pagination import decode_cursor, encode_cursor
from carebridge.security import PatientFacts, Permission, Principal, Role, decide_patient_access, require

__all__ = [
    "AuditSigner",
    "access_log",
    "checkpoint_now",
    "count_entries",
    "group_committer",
    "install",
    "list_entries",
    "open_audited_database",
    "read_head",
    "record",
    "report_read",
    "take_read_entries",
    "verify",
    "verify_report",
]

_organizations = table("organizations", column("id", Uuid()), column("name", String(200)))
_patient_organizations = table(
    "patient_organizations", column("patient_id", Uuid()), column("organization_id", Uuid())
)

_E = AuditEntry


def _cursor_seq(cursor: str | None) -> int | None:
    keys = decode_cursor(cursor, arity=1)
    if keys is None:
        return None
    seq = keys[0]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise ValidationProblem("cursor is not one this server issued",
                                errors=[{"field": "cursor", "in": "query", "message": "malformed"}])
    return seq


def _entries_query() -> Select[Any]:
    return select(_E, _organizations.c.name).outerjoin(_organizations, _organizations.c.id == _E.organization_id)


def _page(session: Session, stmt: Select[Any], *, cursor: str | None, limit: int) -> tuple[list[Any], str | None]:
    after = _cursor_seq(cursor)
    if after is not None:
        stmt = stmt.where(_E.seq < after)
    rows = list(session.execute(stmt.order_by(_E.seq.desc()).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor([rows[-1][0].seq]) if more and rows else None


# --- the patient's view


def access_log(
    session: Session,
    principal: Principal,
    *,
    patient_id: uuid.UUID | None,
    include_self: bool,
    cursor: str | None,
    limit: int,
    now: datetime,
) -> AccessLogPage:
    """Who reached a patient's record and when: for the patient, or a caregiver the patient let read it."""
    if principal.role is Role.patient:
        target = patient_id or principal.patient_id
        purpose = PurposeOfUse.patient_request
    elif principal.role is Role.caregiver:
        if patient_id is None:
            raise ValidationProblem(
                "patient_id: caregivers must say whose access log to read",
                errors=[{"field": "patient_id", "in": "query", "message": "required for caregivers"}],
            )
        target, purpose = patient_id, PurposeOfUse.family_request
    else:
        if patient_id is not None:
            record(session, principal, action=AuditAction.read, resource_type="access_log", patient_id=patient_id,
                   purpose=PurposeOfUse.treatment, outcome=AuditOutcome.denied, at=now,
                   detail={"reason": "staff-use-audit-entries"})
        raise Forbidden("the access log is for patients and their caregivers; staff use GET /api/v1/audit/entries")
    if target is None:
        raise Forbidden("this account is not linked to a patient record")
    decision = decide_patient_access(principal, Permission.patient_read, PatientFacts(patient_id=target))
    if not decision.allowed:
        record(session, principal, action=AuditAction.read, resource_type="access_log", patient_id=target,
               purpose=purpose, outcome=AuditOutcome.denied, at=now, detail={"reason": decision.basis})
        raise Forbidden(decision.reason)
    stmt = _entries_query().where(_E.patient_id == target)
    if not include_self:
        stmt = stmt.where(or_(_E.user_id.is_(None), _E.user_id != principal.user_id))
    rows, next_cursor = _page(session, stmt, cursor=cursor, limit=limit)
    items = [
        AccessLogEntryRead(
            id=e.id, seq=e.seq, at=e.at,
            who=AccessActor(username=e.username, role=e.role, organization_id=e.organization_id,
                            organization_name=org_name),
            action=e.action, resource_type=e.resource_type, resource_id=e.resource_id, purpose=e.purpose,
            outcome=e.outcome,
        )
        for e, org_name in rows
    ]
    record(session, principal, action=AuditAction.read, resource_type="access_log", patient_id=target,
           purpose=purpose, at=now, detail={"entries": len(items), "include_self": include_self})
    return AccessLogPage(items=items, next_cursor=next_cursor, limit=limit, patient_id=target)


# --- administrators


def _filters(f: AuditEntryFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if f.patient_id is not None:
        conds.append(_E.patient_id == f.patient_id)
    if f.user_id is not None:
        conds.append(_E.user_id == f.user_id)
    if f.action is not None:
        conds.append(_E.action == f.action)
    if f.resource_type is not None:
        conds.append(_E.resource_type == f.resource_type)
    if f.outcome is not None:
        conds.append(_E.outcome == f.outcome)
    if f.since is not None:
        conds.append(_E.at >= f.since)
    if f.until is not None:
        conds.append(_E.at < f.until)
    return conds


def _validate_filter(f: AuditEntryFilter) -> None:
    for name in ("since", "until"):
        value: datetime | None = getattr(f, name)
        if value is not None and value.tzinfo is None:
            raise ValidationProblem(f"{name}: give a time zone, e.g. 2026-03-10T09:30:00Z",
                                    errors=[{"field": name, "in": "query", "message": "time zone required"}])
    if f.since is not None and f.until is not None and f.since >= f.until:
        raise ValidationProblem("since must be before until",
                                errors=[{"field": "until", "in": "query", "message": "not after since"}])


def _org_scope(principal: Principal) -> ColumnElement[bool]:
    org = principal.organization_id
    if org is None:
        raise Forbidden("your account belongs to no organization, so no audit entries are yours to read",
                        slug="no-organization")
    cared_for = select(_patient_organizations.c.patient_id).where(_patient_organizations.c.organization_id == org)
    return or_(_E.organization_id == org, _E.patient_id.in_(cared_for))


def list_entries(
    session: Session,
    principal: Principal,
    *,
    filters: AuditEntryFilter,
    cursor: str | None,
    limit: int,
    now: datetime,
) -> AuditEntryPage:
    """Search the trail, newest first. Each patient on the page gets an entry saying an admin looked."""
    require(principal, Permission.audit_read)  # also refuses an admin without the required second factor
    _validate_filter(filters)
    stmt = _entries_query().where(*_filters(filters), _org_scope(principal))
    rows, next_cursor = _page(session, stmt, cursor=cursor, limit=limit)
    items = [
        AuditEntryRead(
            seq=e.seq, id=e.id, at=e.at, user_id=e.user_id, username=e.username, role=e.role,
            organization_id=e.organization_id, organization_name=org_name, action=e.action,
            resource_type=e.resource_type, resource_id=e.resource_id, patient_id=e.patient_id, purpose=e.purpose,
            outcome=e.outcome, client_address=e.client_address, request_id=e.request_id, detail=e.detail or {},
            prev_hash=e.prev_hash, hash=e.hash,
        )
        for e, org_name in rows
    ]
    _record_admin_read(session, principal, filters=filters, items=items, now=now)
    return AuditEntryPage(items=items, next_cursor=next_cursor, limit=limit)


def _record_admin_read(session: Session, principal: Principal, *, filters: AuditEntryFilter,
                       items: Sequence[AuditEntryRead], now: datetime) -> None:
    query = {k: str(v) for k, v in filters.model_dump(exclude_none=True).items()}
    per_patient: dict[uuid.UUID, int] = {}
    if filters.patient_id is not None:
        per_patient[filters.patient_id] = 0
    for item in items:
        if item.patient_id is not None:
            per_patient[item.patient_id] = per_patient.get(item.patient_id, 0) + 1
    if not per_patient:
        record(session, principal, action=AuditAction.search, resource_type="audit_entry",
               purpose=PurposeOfUse.compliance, at=now, detail={"query": query, "entries": len(items)})
    for patient_id, shown in per_patient.items():
        record(session, principal, action=AuditAction.search, resource_type="audit_entry", patient_id=patient_id,
               purpose=PurposeOfUse.compliance, at=now, detail={"query": query, "entries": shown})


def verify_report(
    session: Session,
    principal: Principal,
    *,
    public_key: Ed25519PublicKey,
    public_key_hex: str,
    now: datetime,
) -> AuditVerifyRead:
    """Walk the chain with the server's key; the run itself is recorded (who checked, and what they saw)."""
    require(principal, Permission.audit_verify)
    report = verify(session, [public_key])
    record(session, principal, action=AuditAction.verify, resource_type="audit_chain", purpose=PurposeOfUse.compliance,
           at=now, detail={"ok": report.ok, "first_broken_seq": report.first_broken_seq, "last_seq": report.last_seq})
    return report_read(report, public_key_hex=public_key_hex)


def report_read(report: VerifyReport, *, public_key_hex: str) -> AuditVerifyRead:
    return AuditVerifyRead(
        ok=report.ok, entries_checked=report.entries_checked, checkpoints_checked=report.checkpoints_checked,
        first_broken_seq=report.first_broken_seq, problem=report.problem, last_seq=report.last_seq,
        last_checkpoint_seq=report.last_checkpoint_seq, unsigned_entries=report.unsigned_tail,
        public_key=public_key_hex,
    )
