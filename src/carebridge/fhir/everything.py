"""`Patient/{id}/$everything`: the patient and everything the facade can find about them.

The patient is read through its mapper (policy and audit). Then every mapper that declares a
`patient_param` is searched with it, page by page, so each type's own policy and audit apply; a type
the caller may not see is left out with a warning issue rather than failing the whole operation.
Resources kept in the generic store are added when the caller may read the patient's clinical record.
The Bundle is not paged: it stops at MAX_ENTRIES and says so in an OperationOutcome entry.
"""

from __future__ import annotations

import uuid
from typing import Any

from carebridge.contexts import audit, patients
from carebridge.fhir import generic, interactions, outcome
from carebridge.fhir.outcome import bad_param
from carebridge.fhir.registry import Context, Query, Stored
from carebridge.fhir.search import MAX_COUNT, InstantTest, instant_param
from carebridge.kernel.errors import Problem
from carebridge.security import DataCategory, Permission

MAX_ENTRIES = 2_000
PARAMS = frozenset({"_since", "_type", "_format"})  # no _count: the Bundle is not paged, so it would be ignored


def _types(value: str | None) -> set[str] | None:
    if value is None:
        return None
    types = {t.strip() for t in value.split(",") if t.strip()}
    if not types or len(types) > 50:
        raise bad_param("_type", "resource types separated by commas")
    return types


def everything(ctx: Context, base: str, patient_id: str, params: dict[str, str]) -> dict[str, Any]:
    unknown = set(params) - PARAMS
    if unknown:
        raise bad_param(sorted(unknown)[0][:64], "not a $everything parameter; use _since, _type")
    since: InstantTest | None = None
    if params.get("_since"):
        since = instant_param("_since", "ge" + params["_since"].removeprefix("ge"))
    types = _types(params.get("_type"))
    patient = interactions.read(ctx, "Patient", patient_id)
    pid = uuid.UUID(str(patient.body["id"]))
    found: list[tuple[str, Stored]] = [("Patient", patient)] if types is None or "Patient" in types else []
    warnings: list[dict[str, Any]] = []
    reference = f"Patient/{pid}"
    for m in interactions.SERVED.all():
        if m.patient_param is None or m.type == "Patient" or (types is not None and m.type not in types):
            continue
        cursor: str | None = None
        try:
            while len(found) < MAX_ENTRIES:
                page = m.search(ctx, Query({m.patient_param: [reference]}), MAX_COUNT, cursor)
                found.extend((m.type, s) for s in page.items)
                cursor = page.next_cursor
                if cursor is None:
                    break
        except (outcome.FhirError, Problem) as exc:
            text = exc.issues[0]["diagnostics"] if isinstance(exc, outcome.FhirError) else exc.detail
            warnings.append(outcome.issue(f"{m.type} left out: {text}"[:500], code="suppressed",
                                          severity="warning"))
    found.extend(_generic(ctx, pid, types, warnings, room=MAX_ENTRIES - len(found)))
    if since is not None:
        found = [(t, s) for t, s in found if t == "Patient" or since.matches(s.last_updated)]
    if len(found) >= MAX_ENTRIES:
        found = found[:MAX_ENTRIES]
        warnings.append(outcome.issue(f"stopped at {MAX_ENTRIES} resources; ask again with _type or _since",
                                      code="too-costly", severity="warning"))
    entries: list[dict[str, Any]] = [{"fullUrl": f"{base}/{t}/{s.body['id']}", "resource": s.body,
                                      "search": {"mode": "match"}} for t, s in found]
    if warnings:
        entries.append({"resource": outcome.outcome(warnings), "search": {"mode": "outcome"}})
    return {"resourceType": "Bundle", "type": "searchset", "total": len(found),
            "link": [{"relation": "self", "url": f"{base}/Patient/{pid}/$everything"}], "entry": entries}


def _generic(ctx: Context, pid: uuid.UUID, types: set[str] | None, warnings: list[dict[str, Any]], *,
             room: int) -> list[tuple[str, Stored]]:
    """The generic store's resources about the patient, if the caller may read the patient's clinical record."""
    try:
        patients.load_patient_for(ctx.session, ctx.principal, pid, Permission.record_read, purpose=ctx.purpose,
                                  now=ctx.now, audit_success=False, action="read", category=DataCategory.clinical)
    except Problem as exc:
        warnings.append(outcome.issue(f"resources kept as JSON left out: {exc.detail}"[:500], code="suppressed",
                                      severity="warning"))
        return []
    rows = [s for s in generic.by_patient(ctx.session, pid, types=types, limit=max(room, 0))
            if interactions.SERVED.mapped(str(s.body.get("resourceType"))) is None]
    for rtype in sorted({str(s.body.get("resourceType")) for s in rows}):
        audit.record(ctx.session, ctx.principal, action="read", resource_type=rtype, patient_id=pid,
                     purpose=ctx.purpose, at=ctx.now, detail={"operation": "$everything"})
    return [(str(s.body.get("resourceType")), s) for s in rows]
