"""AuditEvent <- the audit trail (search only: the trail is append-only and written by the contexts).

Two readers, the audit context's two doors: whoever holds `audit:read` searches their organization's trail
(`list_entries`, which itself records that they looked); a patient, or a caregiver they linked, reads the
entries about their own record (`access_log`). Everyone else is refused (403), and the refusal is audited.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from carebridge.contexts import audit
from carebridge.contexts.audit import PURPOSE_V3_CODES, AccessLogEntryRead, AuditEntryFilter, AuditEntryRead
from carebridge.fhir.mappers.common import NONE, instant, iso, patient_id, prune, stored, window
from carebridge.fhir.outcome import bad_param
from carebridge.fhir.registry import Context, Found, Mapper, Query, ReferenceParam, SearchParam, Stored
from carebridge.fhir.search import collect, uuid_param
from carebridge.security import Role

TYPE = "AuditEvent"
INTERACTION = "http://hl7.org/fhir/restful-interaction"
ACTION = {"create": "C", "read": "R", "update": "U", "delete": "D"}
SUBTYPE = {"create": "create", "read": "read", "update": "update", "delete": "delete", "search": "search-type"}
OUTCOME = {"success": "0", "denied": "4", "failure": "8"}


def _purpose(purpose: str) -> list[dict[str, Any]] | None:
    code = PURPOSE_V3_CODES.get(purpose)  # type: ignore[call-overload]
    if code is None:
        return None
    return [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": code}]}]


def _entity(resource_type: str, resource_id: str | None, pid: uuid.UUID | None) -> list[dict[str, Any]]:
    what: dict[str, Any] = {"display": resource_type}
    if resource_id and resource_type[:1].isupper():
        what = {"reference": f"{resource_type}/{resource_id}"}
    elif resource_id:
        what = {"display": f"{resource_type} {resource_id}"}
    out = [{"what": what, "type": {"system": "urn:carebridge:audit-resource-type", "code": resource_type}}]
    if pid is not None:
        out.append({"what": {"reference": f"Patient/{pid}"},
                    "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1"}})
    return out


def _body(*, eid: uuid.UUID, at: Any, action: str, outcome: str, purpose: str, agent: dict[str, Any],
          resource_type: str, resource_id: str | None, pid: uuid.UUID | None) -> dict[str, Any]:
    return prune({
        "resourceType": TYPE, "id": str(eid),
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
        "subtype": [{"system": INTERACTION, "code": SUBTYPE[action]} if action in SUBTYPE
                    else {"system": "urn:carebridge:audit-action", "code": action}],
        "action": ACTION.get(action, "E"), "recorded": iso(at), "outcome": OUTCOME.get(outcome, "8"),
        "outcomeDesc": outcome, "purposeOfEvent": _purpose(purpose), "agent": [agent],
        "source": {"observer": {"display": "CareBridge"}}, "entity": _entity(resource_type, resource_id, pid)})


def from_entry(e: AuditEntryRead) -> Stored:
    agent = prune({"who": prune({"identifier": {"system": "urn:carebridge:user", "value": str(e.user_id)}
                                 if e.user_id else None, "display": e.username or "system"}),
                   "type": {"text": e.role} if e.role else None, "requestor": True,
                   "network": {"address": e.client_address, "type": "2"} if e.client_address else None})
    body = _body(eid=e.id, at=e.at, action=e.action, outcome=e.outcome, purpose=e.purpose, agent=agent,
                 resource_type=e.resource_type, resource_id=e.resource_id, pid=e.patient_id)
    return stored(body, e.at, e.at)


def from_access(e: AccessLogEntryRead, pid: uuid.UUID) -> Stored:
    who = e.who
    agent = prune({"who": {"display": who.username or "system"}, "type": {"text": who.role} if who.role else None,
                   "requestor": True, "name": who.organization_name})
    body = _body(eid=e.id, at=e.at, action=e.action, outcome=e.outcome, purpose=e.purpose, agent=agent,
                 resource_type=e.resource_type, resource_id=e.resource_id, pid=pid)
    return stored(body, e.at, e.at)


def _code(query: Query, name: str) -> str | None:
    values = {v.rpartition("|")[2].strip() for v in query.params.get(name, [])}
    if len(values) > 1:
        raise bad_param(name, "give one value")
    return next(iter(values), None)


def search(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    when = window(query, "date")
    if when.empty:
        return NONE
    pid = patient_id(query, "patient") if query.params.get("patient") else None
    if query.params.get("patient") and pid is None:
        return NONE
    subtype = _code(query, "subtype")
    action = next((k for k, v in SUBTYPE.items() if v == subtype), subtype)
    outcome = _code(query, "outcome")
    outcome_word = next((k for k, v in OUTCOME.items() if v == outcome), outcome)
    entity_type = _code(query, "entity-type")
    agent_values = query.params.get("agent", [])
    agent = uuid_param("agent", agent_values[0].rpartition("|")[2]) if agent_values else None
    if agent_values and agent is None:
        return NONE
    tests: list[Callable[[Stored], bool]] = []
    if when.holes:
        tests.append(lambda s: when.keep(instant(s.body["recorded"], TYPE, "recorded")))
    if ctx.principal.role in (Role.patient, Role.caregiver):
        if action:
            tests.append(lambda s: s.body["subtype"][0]["code"] == subtype)
        if outcome_word:
            tests.append(lambda s: s.body.get("outcomeDesc") == outcome_word)
        if entity_type:
            tests.append(lambda s: s.body["entity"][0]["type"]["code"] == entity_type)
        if when.since or when.before:
            tests.append(lambda s: _within(s, when.since, when.before))
        if agent:
            return NONE  # the access log names people by name and role, not by account

        def fetch_log(cur: str | None, limit: int) -> tuple[list[Any], str | None]:
            page = audit.access_log(ctx.session, ctx.principal, patient_id=pid, include_self=True, cursor=cur,
                                    limit=limit, now=ctx.now)
            return [from_access(e, page.patient_id) for e in page.items], page.next_cursor

        return collect(fetch_log, lambda s: all(t(s) for t in tests), lambda s: s, count, cursor,
                       filtered=bool(tests))
    try:
        filters = AuditEntryFilter(patient_id=pid, user_id=agent, action=action, resource_type=entity_type,
                                   outcome=outcome_word, since=when.since, until=when.before)
    except ValidationError as exc:
        raise bad_param("subtype", str(exc.errors()[0].get("msg"))) from exc

    def fetch(cur: str | None, limit: int) -> tuple[list[Any], str | None]:
        page = audit.list_entries(ctx.session, ctx.principal, filters=filters, cursor=cur, limit=limit, now=ctx.now)
        return [from_entry(e) for e in page.items], page.next_cursor

    return collect(fetch, lambda s: all(t(s) for t in tests), lambda s: s, count, cursor, filtered=bool(tests))


def _within(s: Stored, since: Any, before: Any) -> bool:
    at = instant(s.body["recorded"], TYPE, "recorded")
    return at is not None and (since is None or at >= since) and (before is None or at < before)


MAPPER = Mapper(
    type=TYPE, documentation="The audit trail: an auditor's organization-wide search, or a patient's (or their "
    "caregiver's) entries about their own record. Search only.",
    search_params=(SearchParam("patient", "reference", "Patient/<id>: entries about this patient's record."),
                   SearchParam("date", "date", "When recorded; eq, ne, gt, lt, ge, le, sa, eb."),
                   SearchParam("agent", "reference", "The user's id (auditors only)."),
                   SearchParam("subtype", "token", "read | search-type | create | update | delete, or a CareBridge "
                                                   "action (login, export, merge, …)."),
                   SearchParam("outcome", "token", "0 success | 4 denied | 8 failure."),
                   SearchParam("entity-type", "token", "The audited resource type (Patient, Observation, …).")),
    search=search,
    references=(ReferenceParam("patient", ("Patient",), "entity.what"),),
    not_kept=("(read only) the chain links prev_hash/hash and detail are not shown; verify the chain with "
              "GET /api/v1/audit/verify",))
