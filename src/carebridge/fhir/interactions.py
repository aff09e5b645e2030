"""The FHIR interactions over the registry, shared by the REST routes, Bundle entries and the importer.

Each function does one interaction for one caller inside the caller's transaction: it asks the
mapper (which applies the policy and writes the audit entry), records the version it served in the
history, and returns what the HTTP answer needs. Conditional create and update search first with the
mapper's own search, so "exists" means "exists and the caller may see it".

`SERVED` is the registry the facade serves: the mapped types, and for any other valid R4 type the
generic JSON store.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from carebridge.fhir import generic, history, results, search, smart
from carebridge.fhir.mappers import REGISTRY
from carebridge.fhir.outcome import FhirError, not_found
from carebridge.fhir.registry import Context, Mapper, Registry, Stored
from carebridge.kernel.errors import NotFound, Problem

REGISTRY.set_fallback(generic.mapper_for)
smart.install(REGISTRY)  # SMART scopes narrow every mapper call (a token without scopes is not narrowed)
SERVED: Registry = REGISTRY
_VERSION_ID = re.compile(r"^[A-Za-z0-9.\-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Result:
    """What a write answered: the HTTP status and the resource as stored (None after a delete)."""

    status: int
    resource_type: str
    stored: Stored | None = None

    @property
    def id(self) -> str | None:
        return str(self.stored.body.get("id")) if self.stored else None

    @property
    def location(self) -> str | None:
        """`Type/id/_history/version`, relative to the base."""
        if self.stored is None:
            return None
        return f"{self.resource_type}/{self.id}/_history/{self.stored.version}"


def mapper(resource_type: str) -> Mapper:
    return SERVED.get(resource_type)


def resource_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise not_found(f"no resource with id {value[:64]!r}") from None


def _is_not_found(exc: Exception) -> bool:
    return isinstance(exc, NotFound) or (isinstance(exc, FhirError) and exc.status == 404)


def read(ctx: Context, resource_type: str, rid: str) -> Stored:
    """The current version; 410 Gone when the facade deleted it (the generic store decides after its policy)."""
    m = mapper(resource_type)
    if m.read is None:
        raise FhirError(405, f"{resource_type} has no read by id here; search it", code="not-supported")
    uid = resource_id(rid)
    try:
        return m.read(ctx, uid)
    except (FhirError, Problem) as exc:
        if _is_not_found(exc) and history.is_deleted(ctx.session, resource_type, str(uid)):
            raise FhirError(410, f"{resource_type}/{rid} was deleted", code="deleted") from exc
        raise


def authorize_history(ctx: Context, resource_type: str, rid: str) -> Stored | None:
    """The mapper's read, which decides and audits; None when it says the resource is deleted (after its check).

    A mapper that answers 404 for a deleted resource cannot vouch for the caller, so its history stays hidden.
    """
    m = mapper(resource_type)
    if m.read is None:
        raise FhirError(405, f"{resource_type} has no read by id here, so no history", code="not-supported")
    uid = resource_id(rid)
    try:
        return m.read(ctx, uid)
    except FhirError as exc:
        if exc.status == 410:
            return None
        if exc.status == 404 and history.is_deleted(ctx.session, resource_type, str(uid)):
            raise FhirError(410, f"{resource_type}/{rid} was deleted", code="deleted") from exc
        raise
    except NotFound as exc:
        if history.is_deleted(ctx.session, resource_type, str(uid)):
            raise FhirError(410, f"{resource_type}/{rid} was deleted", code="deleted") from exc
        raise


def vread(ctx: Context, resource_type: str, rid: str, vid: str) -> Stored:
    current = authorize_history(ctx, resource_type, rid)
    rid = str(resource_id(rid))  # the canonical form the history is keyed by
    if not _VERSION_ID.match(vid):  # FHIR id syntax; anything else (a NUL byte, say) never reaches the database
        raise not_found(f"{resource_type}/{rid} has no version {vid[:20]!r}")
    try:
        return history.as_stored(history.version(ctx.session, resource_type, rid, vid))
    except FhirError as exc:
        if exc.status == 404 and current is not None and current.version == vid:
            return current  # written outside the facade: the current version is the only one known here
        raise


def history_instance(ctx: Context, base: str, resource_type: str, rid: str, params: dict[str, str],
                     self_url: str) -> dict[str, Any]:
    current = authorize_history(ctx, resource_type, rid)
    rid = str(resource_id(rid))
    rows, nxt = history.page(ctx.session, resource_type, rid, params)
    entries = [history.entry(base, r) for r in rows]
    first_page = "_cursor" not in params and "_since" not in params
    if first_page and current is not None and (not rows or rows[0].version_id != current.version):
        # changed outside the facade since the last version recorded here: the current version leads
        entries.insert(0, {"fullUrl": f"{base}/{resource_type}/{rid}", "resource": current.body,
                           "request": {"method": "PUT", "url": f"{resource_type}/{rid}"},
                           "response": {"status": "200 OK", "etag": f'W/"{current.version}"',
                                        "lastModified": history.iso(current.last_updated)}})
    return history.bundle(base, self_url, entries, _next(self_url, nxt))


def history_type(ctx: Context, base: str, resource_type: str, params: dict[str, str],
                 self_url: str) -> dict[str, Any]:
    """Versions of every resource of the type the caller may read (each one's read decides, once per id)."""
    mapper(resource_type)
    rows, nxt = history.page(ctx.session, resource_type, None, params)
    allowed: dict[str, bool] = {}
    entries = []
    for row in rows:
        if row.resource_id not in allowed:
            try:
                authorize_history(ctx, resource_type, row.resource_id)
                allowed[row.resource_id] = True
            except (FhirError, Problem):
                allowed[row.resource_id] = False
        if allowed[row.resource_id]:
            entries.append(history.entry(base, row))
    return history.bundle(base, self_url, entries, _next(self_url, nxt))


def _next(self_url: str, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    kept = self_url.split("?", 1)
    pairs = [(k, v) for k, v in parse_qsl(kept[1] if len(kept) > 1 else "") if k != "_cursor"]
    pairs.append(("_cursor", cursor))
    return f"{kept[0]}?{urlencode(pairs)}"


def matches(ctx: Context, resource_type: str, query: str, *, expression: str) -> list[Stored]:
    """At most two matches of a conditional's search (two already means "more than one")."""
    pairs = parse_qsl(query.lstrip("?"), keep_blank_values=True)
    if not pairs:
        raise FhirError(400, "a conditional interaction needs search parameters", code="invalid",
                        expression=[expression])
    m = mapper(resource_type)
    req = search.parse(m, pairs)
    return list(results.find(ctx, m, req, count=2, cursor=None).items)


def _record(ctx: Context, resource_type: str, method: str, stored: Stored, *, new: bool = False) -> None:
    history.record(ctx.session, resource_type, str(stored.body["id"]), method=method, stored=stored, now=ctx.now,
                   new=new)


def create(ctx: Context, resource_type: str, body: dict[str, Any], *, if_none_exist: str | None = None) -> Result:
    """201 with the new resource; with If-None-Exist, 200 and the one existing match, or 412 for several."""
    m = mapper(resource_type)
    if m.create is None:
        raise FhirError(405, f"{resource_type} cannot be created through FHIR yet", code="not-supported")
    if if_none_exist is not None:
        found = matches(ctx, resource_type, if_none_exist, expression="If-None-Exist")
        if len(found) > 1:
            raise FhirError(412, "If-None-Exist matches more than one resource", code="duplicate",
                            expression=["If-None-Exist"])
        if found:
            return Result(200, resource_type, found[0])
    stored = m.create(ctx, body, None, None)
    _record(ctx, resource_type, "POST", stored, new=True)
    return Result(201, resource_type, stored)


def update(ctx: Context, resource_type: str, rid: str, body: dict[str, Any], *, if_match: str | None = None
           ) -> Result:
    m = mapper(resource_type)
    if m.update is None:
        raise FhirError(405, f"{resource_type} cannot be updated through FHIR yet", code="not-supported")
    stored = m.update(ctx, body, resource_id(rid), if_match)
    created = m.generic and stored.version == "1"
    _record(ctx, resource_type, "POST" if created else "PUT", stored)
    return Result(201 if created else 200, resource_type, stored)


def conditional_update(ctx: Context, resource_type: str, query: str, body: dict[str, Any], *,
                       if_match: str | None = None) -> Result:
    """`PUT /Type?search`: no match creates, one match is updated, several are a 412."""
    found = matches(ctx, resource_type, query, expression=resource_type)
    if len(found) > 1:
        raise FhirError(412, "the search matches more than one resource", code="multiple-matches")
    if not found:
        if isinstance(body.get("id"), str) and mapper(resource_type).generic:
            return update(ctx, resource_type, body["id"], body, if_match=if_match)
        return create(ctx, resource_type, {k: v for k, v in body.items() if k != "id"})
    rid = str(found[0].body["id"])
    if body.get("id") not in (None, rid):
        raise FhirError(400, f"the body's id is not the id of the match ({rid})", code="invalid",
                        expression=[f"{resource_type}.id"])
    return update(ctx, resource_type, rid, {**body, "id": rid}, if_match=if_match)


def delete(ctx: Context, resource_type: str, rid: str) -> Result:
    """204; deleting what is already deleted is a 204 too (delete is idempotent)."""
    m = mapper(resource_type)
    if m.delete is None:
        raise FhirError(405, f"{resource_type} cannot be deleted here: the record keeps it", code="not-supported")
    uid = resource_id(rid)
    already = history.is_deleted(ctx.session, resource_type, str(uid))
    try:
        m.delete(ctx, uid)
    except (FhirError, Problem) as exc:
        if already and _is_not_found(exc):
            return Result(204, resource_type)
        raise
    if not already:
        history.record(ctx.session, resource_type, str(uid), method="DELETE", stored=None, now=ctx.now)
    return Result(204, resource_type)


def conditional_delete(ctx: Context, resource_type: str, query: str) -> Result:
    found = matches(ctx, resource_type, query, expression=resource_type)
    if len(found) > 1:
        raise FhirError(412, "the search matches more than one resource", code="multiple-matches")
    if not found:
        return Result(204, resource_type)
    return delete(ctx, resource_type, str(found[0].body["id"]))


def search_bundle(ctx: Context, base: str, resource_type: str, raw: list[tuple[str, str]]) -> dict[str, Any]:
    """A searchset Bundle: matches (shaped by `_summary`/`_elements`), then `_include`/`_revinclude` entries."""
    m = mapper(resource_type)
    req = search.parse(m, raw)
    total = results.total(ctx, m, req) if req.total else None
    found = None if req.summary_count else results.find(ctx, m, req)
    if total is None and found is not None and req.cursor is None and found.next_cursor is None \
            and not req.summary_count:
        total = len(found.items)  # everything fits on the first page: the count is free
    bundle = search.searchset(base, m.type, raw, req, found, total)
    if found is not None:
        for e in bundle["entry"]:
            e["resource"] = results.shape(e["resource"], req)
        for rtype, stored in results.included(ctx, SERVED, m, req, list(found.items)):
            bundle["entry"].append({"fullUrl": f"{base}/{rtype}/{stored.body['id']}",
                                    "resource": results.shape(stored.body, req), "search": {"mode": "include"}})
    return bundle


__all__ = ["SERVED", "Result", "authorize_history", "conditional_delete", "conditional_update", "create",
           "delete", "history_instance", "history_type", "matches", "read", "search_bundle", "update", "vread"]
