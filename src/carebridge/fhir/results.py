"""Result parameters over any mapper's search: `_lastUpdated`, `_sort`, `_include`, `_revinclude`,
`_summary`, `_elements`.

A mapper answers its own search parameters from its context. What the mapper does not do itself is
done here, over its pages: `_lastUpdated` filters them (walking the mapper's keyset cursor, so paging
stays stable); `_sort` on keys the mapper does not order by reads every match (at most SORT_BUDGET)
and pages with a keyset cursor over the sort key and id, so an insert between pages lands before or
after the cursor and never shifts a page. Included resources are read through their own mapper's read
and search, so the policy decides and the audit trail records each one.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable
from datetime import UTC
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from carebridge.fhir.outcome import FhirError, bad_param
from carebridge.fhir.references import split
from carebridge.fhir.registry import Context, Found, Mapper, Query, Registry, Stored
from carebridge.fhir.search import MAX_COUNT, Request, collect, count_all
from carebridge.kernel.errors import Problem, ValidationProblem
from carebridge.kernel.pagination import decode_cursor, encode_cursor

SORT_BUDGET = 1_000
MAX_INCLUDED = 200
SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED",
             "display": "subsetted"}
_KEY_LEN = 80


# --- finding matches -----------------------------------------------------------------------------------------

def _fetch(ctx: Context, mapper: Mapper, query: Query) -> Callable[[str | None, int], tuple[list[Any], str | None]]:
    def fetch(cursor: str | None, limit: int) -> tuple[list[Any], str | None]:
        found = mapper.search(ctx, query, limit, cursor)
        return list(found.items), found.next_cursor
    return fetch


def _keep(req: Request) -> Callable[[Any], bool]:
    return lambda s: all(t.matches(s.last_updated) for t in req.last_updated)


def find(ctx: Context, mapper: Mapper, req: Request, count: int | None = None, cursor: str | None = None) -> Found:
    """One page of matches with the facade's filters and sort applied on top of the mapper's search."""
    count = req.count if count is None else count
    cursor = req.cursor if cursor is None else cursor
    if req.sorted_here:
        return _sorted_page(ctx, mapper, req, count, cursor)
    if not req.last_updated:
        return mapper.search(ctx, req.query, count, cursor)
    return collect(_fetch(ctx, mapper, req.query), _keep(req), lambda s: s, count, cursor, filtered=True)


def total(ctx: Context, mapper: Mapper, req: Request) -> int | None:
    if req.sorted_here or req.last_updated:
        return count_all(_fetch(ctx, mapper, req.query), _keep(req))
    return mapper.total(ctx, req.query) if mapper.total is not None else None


def _sort_value(mapper: Mapper, name: str, stored: Stored) -> str | float | None:
    if name == "_lastUpdated":
        return stored.last_updated.astimezone(UTC).isoformat()
    if name == "_id":
        return str(stored.body.get("id"))
    param = next(p for p in mapper.sort_params if p.name == name)
    try:
        value: Any = param.key(stored.body)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        value = None  # a resource without the element sorts last, as FHIR asks
    if value is not None and not isinstance(value, str | int | float):
        value = json.dumps(value, sort_keys=True, default=str)  # a key function that returned JSON: still orderable
    return value[:_KEY_LEN] if isinstance(value, str) else value


def _cmp_value(a: Any, b: Any) -> int:
    if a is None or b is None:  # missing values sort last
        return int(a is None) - int(b is None)
    if type(a) is not type(b):
        a, b = str(a), str(b)
    return int(a > b) - int(a < b)


def _sorted_page(ctx: Context, mapper: Mapper, req: Request, count: int, cursor: str | None) -> Found:
    names = [k.lstrip("-") for k in req.sort]
    descending = [k.startswith("-") for k in req.sort]

    def key(s: Stored) -> list[Any]:
        return [*(_sort_value(mapper, n, s) for n in names), str(s.body.get("id"))]

    def cmp(a: list[Any], b: list[Any]) -> int:
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            c = _cmp_value(x, y)
            if c:
                return -c if i < len(descending) and descending[i] and x is not None and y is not None else c
        return 0

    matches: list[Stored] = []
    page_cursor: str | None = None
    keep = _keep(req)
    while True:
        found = mapper.search(ctx, req.query, MAX_COUNT, page_cursor)
        matches.extend(s for s in found.items if keep(s))
        page_cursor = found.next_cursor
        if page_cursor is None:
            break
        if len(matches) > SORT_BUDGET:
            raise FhirError(400, f"more than {SORT_BUDGET} matches to sort on {', '.join(names)}: narrow the search",
                            code="too-costly", expression=["_sort"])
    def by_key(a: tuple[list[Any], Stored], b: tuple[list[Any], Stored]) -> int:
        return cmp(a[0], b[0])

    keyed: list[tuple[list[Any], Stored]] = sorted(((key(s), s) for s in matches), key=functools.cmp_to_key(by_key))
    after = _sort_cursor(cursor, len(names) + 1)
    if after is not None:
        keyed = [(k, s) for k, s in keyed if cmp(k, after) > 0]
    page = keyed[:count]
    nxt = encode_cursor([json.dumps(page[-1][0])]) if len(keyed) > count and page else None
    return Found(items=[s for _, s in page], next_cursor=nxt)


def _sort_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    try:
        keys = decode_cursor(cursor, arity=1)
        value = None if keys is None else json.loads(str(keys[0]))
    except (ValidationProblem, ValueError):
        raise bad_param("_cursor", "not a cursor this server issued") from None
    if value is not None and (not isinstance(value, list) or len(value) != arity
                              or not all(v is None or isinstance(v, str | int | float) for v in value)):
        raise bad_param("_cursor", "not a cursor this server issued")
    return value


# --- _include / _revinclude ----------------------------------------------------------------------------------

def _at(node: Any, path: list[str]) -> list[str]:
    if isinstance(node, list):
        return [r for item in node for r in _at(item, path)]
    if not isinstance(node, dict):
        return []
    if not path:
        ref = node.get("reference")
        return [ref] if isinstance(ref, str) else []
    return _at(node.get(path[0]), path[1:])


def _spec(param: str, value: str) -> tuple[str, str, str | None]:
    parts = value.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise bad_param(param, "Type:parameter or Type:parameter:TargetType (wildcards are not supported)")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def _mapper(registry: Registry, resource_type: str) -> Mapper | None:
    try:
        return registry.get(resource_type)
    except FhirError:
        return None


def _read(ctx: Context, m: Mapper, rid: str) -> Stored | None:
    """An included resource the caller may not see is left out (the refusal is audited), never an error."""
    if m.read is None:
        return None
    try:
        return m.read(ctx, uuid.UUID(rid))
    except (ValueError, FhirError, Problem):
        return None


def _search(ctx: Context, m: Mapper, query: Query) -> list[Stored]:
    try:
        return list(m.search(ctx, query, MAX_COUNT, None).items)
    except (FhirError, Problem):
        return []


def included(ctx: Context, registry: Registry, mapper: Mapper, req: Request, matches: list[Stored]
             ) -> list[tuple[str, Stored]]:
    """(type, resource) pairs for `_include` and `_revinclude`, each read through its own mapper."""
    out: dict[tuple[str, str], tuple[str, Stored]] = {}
    seen = {(mapper.type, str(s.body.get("id"))) for s in matches}
    for value in req.includes:
        source, name, target = _spec("_include", value)
        ref = mapper.reference(name) if source == mapper.type else None
        if ref is None:
            raise bad_param("_include", f"{value[:80]!r} is not an include {mapper.type} supports"
                                        f"{_listing(mapper)}")
        targets = (target,) if target else ref.targets
        for s in matches:
            for text in _at(s.body, ref.element.split(".")):
                parsed = split(text)
                if parsed is None or parsed[0] not in targets or parsed in seen or parsed in out \
                        or len(out) >= MAX_INCLUDED:
                    continue
                tm = _mapper(registry, parsed[0])
                got = _read(ctx, tm, parsed[1]) if tm is not None else None
                if got is not None:
                    out[parsed] = (parsed[0], got)
    for value in req.revincludes:
        source, name, target = _spec("_revinclude", value)
        sm = _mapper(registry, source)
        ref = sm.reference(name) if sm is not None else None
        if sm is None or ref is None or mapper.type not in ref.targets or (target and target != mapper.type):
            raise bad_param("_revinclude", f"{value[:80]!r} is not a reference to {mapper.type} this server "
                                           "can search")
        for s in matches:
            for r in _search(ctx, sm, Query({name: [f"{mapper.type}/{s.body.get('id')}"]})):
                k = (sm.type, str(r.body.get("id")))
                if k not in seen and k not in out and len(out) < MAX_INCLUDED:
                    out[k] = (sm.type, r)
    return list(out.values())


def _listing(mapper: Mapper) -> str:
    names = [f"{mapper.type}:{r.name}" for r in mapper.references]
    return f"; supported: {', '.join(names)}" if names else "; it declares no reference parameters"


# --- _summary / _elements ------------------------------------------------------------------------------------

@functools.cache
def _summary_elements(resource_type: str) -> tuple[frozenset[str], frozenset[str]]:
    """(summary elements, mandatory elements) of the type, by their JSON names, from the R4B model."""
    try:
        model = get_fhir_model_class(resource_type)
    except (KeyError, ValueError):
        return frozenset(), frozenset()
    summary, mandatory = set(), set()
    for name, f in model.model_fields.items():
        extra = f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
        alias = f.alias or name
        if extra.get("summary_element_property"):
            summary.add(alias)
        if f.is_required() or extra.get("element_required"):
            mandatory.add(alias)
    return frozenset(summary), frozenset(mandatory)


def _subsetted(body: dict[str, Any], keep: set[str]) -> dict[str, Any]:
    out = {k: v for k, v in body.items() if k in keep or k in ("resourceType", "id", "meta")}
    if len(out) == len(body):
        return body
    meta = dict(out.get("meta") or {})
    meta["tag"] = [*(meta.get("tag") or []), SUBSETTED]
    out["meta"] = meta
    return out


def shape(body: dict[str, Any], req: Request) -> dict[str, Any]:
    """The resource as `_summary` or `_elements` asks for it; marked SUBSETTED when anything was left out."""
    rtype = str(body.get("resourceType"))
    if req.elements:
        return _subsetted(body, set(req.elements))
    if req.summary == "true":
        return _subsetted(body, set(_summary_elements(rtype)[0]))
    if req.summary == "text":
        return _subsetted(body, {"text", *_summary_elements(rtype)[1]})
    if req.summary == "data":
        return _subsetted(body, set(body) - {"text"})
    return body
