"""What a client sent, kept beside the domain row, so a mapped resource comes back as it went in.

A context holds the elements it has columns for; a FHIR resource carries more (extensions, narrative, a
second coding, `_field` primitive extensions, performers that are not users here). Dropping them would make
an import lossy, and refusing them would make it useless, so `keeping(mapper)` wraps a mapper that creates:
the domain row is written as before (its rules decide, its audit records), and the body as received is kept
in `fhir_received_resources` under the type and the id the domain gave it, with the domain row's version
at that moment.

Served, a resource is the domain's JSON and the received body laid together. **While the domain row is at the
version it was received at**, the received elements win (the domain accepted them; its own form of a value,
a time zone turned to UTC, a unit turned to UCUM, is the same fact) and elements only the domain has (a category
it derives, an interpretation from its reference ranges) are added. **Once the row changed elsewhere** (a REST
update, a status changed), the domain's values win and the received elements fill in only what the domain does
not serve, so a stale received value never hides a change. Objects merge key by key, lists of one length item
by item; a received key that is another variant of a choice element (`effectivePeriod` beside the domain's
`effectiveDateTime`) replaces it (fresh) or is left out (stale): an element has one type. Elements in `OWNED`
come from the domain alone: they are references the domain checks and drops when they name nothing here (an
encounter that is closed, a practitioner not registered), so the received value never comes back in their
place. The overlay is applied after the mapper's own read or search, so the policy and the audit trail have
already decided: nothing is served around them. An update through the facade replaces the received body, and
the domain wins over it at once (a context applies an update only in part).

A patient merge rewrites the received bodies' references to the survivor (like the generic store's).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from carebridge.contexts import patients
from carebridge.fhir.models import FhirReceivedResource
from carebridge.fhir.references import patient_reference, rewrite
from carebridge.fhir.registry import Context, Found, Mapper, Query, Stored
from carebridge.kernel import deferred_rows, json_codec

_R = FhirReceivedResource
SERVER_META = ("versionId", "lastUpdated", "source")


def _kept(body: dict[str, Any]) -> dict[str, Any]:
    """The body without what the server owns: id and the meta it stamps (profiles, tags, security stay)."""
    out: dict[str, Any] = json_codec.copy({k: v for k, v in body.items() if k not in ("id", "meta")})
    meta = {k: v for k, v in (body.get("meta") or {}).items() if k not in SERVER_META}
    if meta:
        out["meta"] = json_codec.copy(meta)
    return out


def _patient(body: dict[str, Any]) -> uuid.UUID | None:
    ref = patient_reference(body)
    try:
        return uuid.UUID(ref.rpartition("/")[2]) if ref else None
    except ValueError:
        return None


# Top-level elements served from the domain only (see the module docstring).
OWNED: dict[str, frozenset[str]] = {
    "Observation": frozenset({"encounter", "device"}),
    "Condition": frozenset({"encounter"}),
    "AllergyIntolerance": frozenset({"encounter"}),
    "Immunization": frozenset({"encounter"}),
    "CarePlan": frozenset({"encounter"}),
    "Encounter": frozenset({"participant", "location", "serviceProvider", "appointment", "partOf"}),
    "Consent": frozenset({"status"}),  # a revocation within the second of creation leaves the version as it was
}


def _served(s: Stored, row: _R | None) -> Stored:
    return s if row is None else _laid_over(s, row.body, row.version)


def _laid_over(s: Stored, kept: dict[str, Any], version: str) -> Stored:
    domain = s.body
    owned = OWNED.get(str(domain["resourceType"]), frozenset())
    received = {k: v for k, v in kept.items() if k not in owned}
    body = _over(domain, received) if version == s.version else _merge(domain, received)
    body["meta"] = {**(kept.get("meta") or {}), **(domain.get("meta") or {})}
    return dataclasses.replace(s, body=body)


# The data types a choice element `x[x]` is named with (`effectiveDateTime`, `valueQuantity`, `onsetAge`).
CHOICE_TYPES = ("Boolean", "Integer", "Decimal", "String", "Uri", "Url", "Canonical", "Base64Binary", "Instant",
                "DateTime", "Date", "Time", "Code", "Oid", "Id", "Markdown", "UnsignedInt", "PositiveInt", "Uuid",
                "Address", "Age", "Annotation", "Attachment", "CodeableConcept", "Coding", "ContactPoint", "Count",
                "Distance", "Duration", "HumanName", "Identifier", "Money", "Period", "Quantity", "Range", "Ratio",
                "Reference", "SampledData", "Signature", "Timing", "Expression", "Dosage", "Meta", "ContactDetail")


@functools.lru_cache(maxsize=4096)
def _choice(key: str) -> str | None:
    """`effective` for `effectiveDateTime`: the element a choice-typed key is one variant of."""
    for t in CHOICE_TYPES:
        if key.endswith(t) and len(key) > len(t) and key[-len(t) - 1].islower():
            return key[: -len(t)]
    return None


def _coding_key(c: Any) -> tuple[str, str] | None:
    return (str(c.get("system", "")), str(c.get("code", ""))) if isinstance(c, dict) else None


def _merge(domain: Any, received: Any) -> Any:
    """The domain's value with the received one filling in what it lacks (see the module docstring). A received
    key that is another variant of a choice element the domain has (`effectivePeriod` beside the domain's
    `effectiveDateTime`) is left out: an element has one type."""
    if isinstance(domain, dict) and isinstance(received, dict):
        chosen = {c for c in map(_choice, domain) if c is not None}
        out = dict(domain)
        for k, v in received.items():
            if k in domain:
                out[k] = _merge(domain[k], v) if k != "coding" else _codings(domain[k], v)
            elif _choice(k) not in chosen or _choice(k) is None:
                out[k] = v
        return out
    if isinstance(domain, list) and isinstance(received, list) and len(domain) == len(received):
        return [_merge(d, r) for d, r in zip(domain, received, strict=True)]
    return domain


def _over(domain: Any, received: Any) -> Any:
    """The received value laid over the domain's: received leaves win, keys only the domain has stay."""
    if isinstance(domain, dict) and isinstance(received, dict):
        chosen = {c for c in map(_choice, received) if c is not None}
        out = {k: v for k, v in domain.items() if k in received or _choice(k) is None or _choice(k) not in chosen}
        for k, v in received.items():
            out[k] = _over(out[k], v) if k in out else v
        return out
    if isinstance(domain, list) and isinstance(received, list) and len(domain) == len(received):
        return [_over(d, r) for d, r in zip(domain, received, strict=True)]
    return received


def _codings(domain: Any, received: Any) -> Any:
    """The domain's codings, then the received ones it does not have (the same concept in other code systems)."""
    if not (isinstance(domain, list) and isinstance(received, list)):
        return domain
    have = {_coding_key(c) for c in domain}
    merged = [_merge(d, next((r for r in received if _coding_key(r) == _coding_key(d)), d)) for d in domain]
    return merged + [r for r in received if _coding_key(r) not in have]


def _rows(session: Session, resource_type: str, ids: Iterable[str]) -> dict[str, _R]:
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    stmt = select(_R).where(_R.resource_type == resource_type, _R.resource_id.in_(wanted))
    return {r.resource_id: r for r in session.scalars(stmt)}


def keep(session: Session, stored: Stored, received: dict[str, Any], now: datetime, *, fresh: bool = True,
         created: bool = False) -> Stored:
    """Keep (or replace) the received body of a resource the domain just wrote; the resource as served.

    `fresh=False` for an update: a context applies an update only in part (a Patient's identifiers, a
    Condition's code do not change), so the domain's values win over the update's from the start.
    `created`: the domain just drew the id, so there is nothing to replace and the row joins the session's next
    flush (an import's batch writes them in one multi-row INSERT)."""
    rtype, rid = str(stored.body["resourceType"]), str(stored.body["id"])
    body = _kept(received)
    version = stored.version if fresh else ""
    if created:
        deferred_rows.add(session, _R, {"resource_type": rtype, "resource_id": rid, "version": version,
                                        "received_at": now, "body": body, "patient_id": _patient(body)})
        return _laid_over(stored, body, version)
    row = session.get(_R, (rtype, rid))
    if row is None:
        row = _R(resource_type=rtype, resource_id=rid, version=version, received_at=now, body=body,
                 patient_id=_patient(body))
        session.add(row)
    else:
        row.version, row.received_at, row.body, row.patient_id = version, now, body, _patient(body)
    session.flush()
    return _served(stored, row)


def served(session: Session, stored: Stored) -> Stored:
    rtype, rid = str(stored.body["resourceType"]), str(stored.body["id"])
    return _served(stored, session.get(_R, (rtype, rid)))


def keeping(m: Mapper) -> Mapper:
    """The mapper with the received body kept on create/update and laid over every read and search result."""
    inner_read, inner_search, inner_create, inner_update, inner_delete = m.read, m.search, m.create, m.update, \
        m.delete

    def read(ctx: Context, rid: uuid.UUID) -> Stored:
        assert inner_read is not None  # noqa: S101 - only set when the mapper reads
        return served(ctx.session, inner_read(ctx, rid))

    def search(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
        found = inner_search(ctx, query, count, cursor)
        rows = _rows(ctx.session, m.type, (str(s.body["id"]) for s in found.items))
        if not rows:
            return found
        return dataclasses.replace(found, items=[_served(s, rows.get(str(s.body["id"]))) for s in found.items])

    def create(ctx: Context, body: dict[str, Any], rid: uuid.UUID | None, if_match: str | None) -> Stored:
        assert inner_create is not None  # noqa: S101
        return keep(ctx.session, inner_create(ctx, body, rid, if_match), body, ctx.now, created=rid is None)

    def update(ctx: Context, body: dict[str, Any], rid: uuid.UUID | None, if_match: str | None) -> Stored:
        assert inner_update is not None  # noqa: S101
        return keep(ctx.session, inner_update(ctx, body, rid, if_match), body, ctx.now, fresh=False)

    def remove(ctx: Context, rid: uuid.UUID) -> None:
        assert inner_delete is not None  # noqa: S101
        inner_delete(ctx, rid)
        ctx.session.execute(delete(_R).where(_R.resource_type == m.type, _R.resource_id == str(rid)))

    return dataclasses.replace(
        m, read=read if inner_read else None, search=search, create=create if inner_create else None,
        update=update if inner_update else None, delete=remove if inner_delete else None,
        not_kept=(), documentation=f"{m.documentation} Elements the record has no place for are kept as "
        "received and served back.")


@patients.on_patient_merged("fhir_received")
def move_on_merge(session: Session, *, source_id: uuid.UUID, target_id: uuid.UUID, now: datetime) -> dict[str, int]:
    """The received bodies follow the patient to the survivor, as the domain rows do."""
    rows = list(session.scalars(select(_R).where(_R.patient_id == source_id).with_for_update()))
    mapping = {f"Patient/{source_id}": f"Patient/{target_id}"}
    for row in rows:
        body = copy.deepcopy(row.body)
        rewrite(body, mapping)
        row.body, row.patient_id = body, target_id
    session.flush()
    return {"fhir_received_resources": len(rows)}
