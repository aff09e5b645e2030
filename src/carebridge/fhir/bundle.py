"""`POST /fhir/R4` with a Bundle: a transaction (all or nothing) or a batch (each entry on its own).

Transaction: entries run in the spec's order (DELETE, POST, PUT, GET) inside the request's one
transaction; POSTs run in an order where every `urn:uuid` a resource names was created before it, so
references between new resources resolve whatever order the client listed them in. Any failure
raises, the request's transaction rolls back, and the answer is the failing entry's OperationOutcome
with `expression` naming `Bundle.entry[i]`.

Batch: every entry runs in its own SAVEPOINT and gets its own response: a failure rolls back only
that entry (`fhir.unit`: its success audit entries with it; refusals stay recorded) and answers with its
OperationOutcome inside the batch-response.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from carebridge.fhir import interactions, outcome, references, unit
from carebridge.fhir.history import iso
from carebridge.fhir.interactions import Result
from carebridge.fhir.outcome import FhirError
from carebridge.fhir.registry import Context, Stored
from carebridge.kernel.errors import Problem

MAX_ENTRIES = 500
ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "GET": 3}
_REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
            403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 410: "Gone",
            412: "Precondition Failed", 422: "Unprocessable Entity", 428: "Precondition Required"}


@dataclass(slots=True)
class Entry:
    index: int
    method: str
    resource_type: str
    resource_id: str | None
    query: str | None
    version: str | None
    resource: dict[str, Any] | None
    full_url: str | None
    if_none_exist: str | None
    if_match: str | None
    depends: set[str] = field(default_factory=set)


def _error(index: int, message: str, status: int = 400, code: str = "invalid") -> FhirError:
    return FhirError(status, f"entry {index}: {message}", code=code, expression=[f"Bundle.entry[{index}]"])


def _relative(url: str, base: str) -> str:
    if url.startswith(base):
        return url[len(base):].lstrip("/")
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        marker = "/fhir/R4/"
        if marker in parts.path:
            return parts.path.split(marker, 1)[1] + (f"?{parts.query}" if parts.query else "")
    return url.lstrip("/")


def parse_entry(index: int, raw: Any, base: str) -> Entry:
    if not isinstance(raw, dict):
        raise _error(index, "an entry must be an object")
    request = raw.get("request")
    if not isinstance(request, dict) or not isinstance(request.get("method"), str) \
            or not isinstance(request.get("url"), str) or not request["url"]:
        raise _error(index, "request.method and request.url are required")
    method = request["method"].upper()
    if method not in ORDER:
        raise _error(index, f"request.method {method[:10]!r} is not supported here (GET, POST, PUT, DELETE)",
                     405, "not-supported")
    url = _relative(request["url"][:2_000], base)
    path, _, query = url.partition("?")
    parts = [p for p in path.split("/") if p]
    if not parts:
        raise _error(index, "request.url must name a resource type")
    rtype, rid, version = parts[0], parts[1] if len(parts) > 1 else None, None
    if len(parts) == 4 and parts[2] == "_history" and method == "GET":
        version = parts[3]
    elif len(parts) > 2:
        raise _error(index, f"request.url {url[:100]!r} is not an interaction a Bundle entry can do here")
    resource = raw.get("resource")
    if method in ("POST", "PUT"):
        if not isinstance(resource, dict):
            raise _error(index, f"a {method} needs a resource")
        if resource.get("resourceType") != rtype:
            raise _error(index, f"resource.resourceType must be {rtype!r}, as in request.url")
    if method == "POST" and (rid or query):
        raise _error(index, "a POST's request.url is the resource type alone (conditional create: ifNoneExist)")
    if method == "PUT" and not (rid or query):
        raise _error(index, "a PUT needs an id or a search in request.url")
    full_url = raw.get("fullUrl") if isinstance(raw.get("fullUrl"), str) else None
    return Entry(index=index, method=method, resource_type=rtype, resource_id=rid, query=query or None,
                 version=version, resource=copy.deepcopy(resource) if isinstance(resource, dict) else None,
                 full_url=full_url, if_none_exist=request.get("ifNoneExist") if isinstance(
                     request.get("ifNoneExist"), str) else None,
                 if_match=_etag(request.get("ifMatch")))


def _etag(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip().removeprefix("W/").strip('"')[:20] or None


def _entries(bundle: Any, base: str, kind: str) -> list[Entry]:
    raw = bundle.get("entry") or []
    if not isinstance(raw, list):
        raise FhirError(400, "Bundle.entry must be a list", code="structure", expression=["Bundle.entry"])
    if len(raw) > MAX_ENTRIES:
        raise FhirError(413, f"at most {MAX_ENTRIES} entries in one {kind}", code="too-costly",
                        expression=["Bundle.entry"])
    return [parse_entry(i, e, base) for i, e in enumerate(raw)]


def _response(result: Result | None, base: str, stored: Stored | None = None,
              body: dict[str, Any] | None = None, status: int = 200) -> dict[str, Any]:
    if result is not None:
        status, stored = result.status, result.stored
    out: dict[str, Any] = {}
    response: dict[str, Any] = {"status": f"{status} {_REASONS.get(status, '')}".strip()}
    if stored is not None:
        rtype = str(stored.body.get("resourceType"))
        out["fullUrl"] = f"{base}/{rtype}/{stored.body.get('id')}"
        out["resource"] = stored.body
        response["etag"] = f'W/"{stored.version}"'
        response["lastModified"] = iso(stored.last_updated)
        if result is not None and result.status == 201 and result.location:
            response["location"] = result.location
    elif body is not None:
        out["resource"] = body
    out["response"] = response
    return out


def _order_posts(posts: list[Entry]) -> list[Entry]:
    """POSTs in an order where a resource comes after every new resource it references (Kahn's algorithm)."""
    by_url = {e.full_url: e for e in posts if e.full_url}
    for e in posts:
        e.depends = {r.reference for r in references.find(e.resource or {})
                     if r.reference in by_url and r.reference != e.full_url}
    done: set[str] = set()
    ordered: list[Entry] = []
    pending = list(posts)
    while pending:
        ready = [e for e in pending if e.depends <= done]
        if not ready:
            cycle = pending[0]
            raise _error(cycle.index, "new resources reference each other in a cycle; create one first, "
                                      "then update it", 400, "invalid")
        for e in ready:
            ordered.append(e)
            if e.full_url:
                done.add(e.full_url)
        pending = [e for e in pending if e not in ready]
    return ordered


def _resolve_conditional(ctx: Context, e: Entry) -> None:
    """`Patient?identifier=…` references name the one resource the search finds (the caller may see)."""
    assert e.resource is not None  # noqa: S101 - only called with a resource
    resolved: dict[str, str] = {}
    for ref in references.find(e.resource):
        text = ref.reference
        if "?" not in text or text.startswith(("urn:", "#", "http:", "https:")) or text in resolved:
            continue
        rtype, _, query = text.partition("?")
        found = interactions.matches(ctx, rtype, query, expression=ref.path)
        if len(found) != 1:
            raise _error(e.index, f"{ref.path} is a conditional reference {text[:80]!r} matching "
                                  f"{'no' if not found else 'more than one'} resource; it needs exactly one",
                         412, "not-found" if not found else "multiple-matches")
        resolved[text] = f"{rtype}/{found[0].body['id']}"
    if resolved:
        references.rewrite(e.resource, resolved)


def _run(ctx: Context, base: str, e: Entry, mapping: dict[str, str] | None) -> dict[str, Any]:
    """One entry; `mapping` (transactions only) resolves urn:uuid fullUrls in the resource first."""
    if e.resource is not None:
        _resolve_conditional(ctx, e)
    if e.resource is not None and mapping is not None:
        references.rewrite(e.resource, mapping)
        dangling = references.unresolved(e.resource)
        if dangling:
            raise _error(e.index, f"{dangling[0].path} references {dangling[0].reference[:80]}, which no entry "
                                  "of this Bundle has as its fullUrl")
    if e.method == "GET":
        return _get(ctx, base, e)
    if e.method == "DELETE":
        if e.resource_id:
            return _response(interactions.delete(ctx, e.resource_type, e.resource_id), base)
        return _response(interactions.conditional_delete(ctx, e.resource_type, e.query or ""), base)
    assert e.resource is not None  # noqa: S101 - parse_entry guarantees it for POST and PUT
    if e.method == "POST":
        body = {k: v for k, v in e.resource.items() if k != "id"}
        result = interactions.create(ctx, e.resource_type, body, if_none_exist=e.if_none_exist)
    elif e.resource_id:
        result = interactions.update(ctx, e.resource_type, e.resource_id, e.resource, if_match=e.if_match)
    else:
        result = interactions.conditional_update(ctx, e.resource_type, e.query or "", e.resource,
                                                 if_match=e.if_match)
    if mapping is not None and e.full_url and result.id:
        mapping[e.full_url] = f"{e.resource_type}/{result.id}"
    return _response(result, base)


def _get(ctx: Context, base: str, e: Entry) -> dict[str, Any]:
    if e.resource_id and e.version:
        return _response(None, base, interactions.vread(ctx, e.resource_type, e.resource_id, e.version))
    if e.resource_id:
        return _response(None, base, interactions.read(ctx, e.resource_type, e.resource_id))
    pairs = parse_qsl(e.query or "", keep_blank_values=True)
    return _response(None, base, body=interactions.search_bundle(ctx, base, e.resource_type, pairs))


def _check(bundle: Any, kind: str) -> None:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise FhirError(400, "the body must be a Bundle", code="structure", expression=["Bundle"])
    if bundle.get("type") != kind:
        raise FhirError(400, "Bundle.type must be transaction or batch", code="value", expression=["Bundle.type"])


def transaction(ctx: Context, base: str, bundle: dict[str, Any]) -> dict[str, Any]:
    _check(bundle, "transaction")
    entries = _entries(bundle, base, "transaction")
    urls = [e.full_url for e in entries if e.full_url]
    if len(urls) != len(set(urls)):
        raise FhirError(400, "two entries share a fullUrl", code="invalid", expression=["Bundle.entry.fullUrl"])
    mapping: dict[str, str] = {}
    for e in entries:  # an existing resource named by its absolute URL needs no rewriting; placeholders do
        if e.full_url and e.method == "PUT" and e.resource_id and e.full_url.startswith("urn:uuid:"):
            mapping[e.full_url] = f"{e.resource_type}/{e.resource_id}"
    posts = _order_posts([e for e in entries if e.method == "POST"])
    ordered = ([e for e in entries if e.method == "DELETE"] + posts
               + [e for e in entries if e.method == "PUT"] + [e for e in entries if e.method == "GET"])
    responses: dict[int, dict[str, Any]] = {}
    for e in ordered:
        try:
            responses[e.index] = _run(ctx, base, e, mapping)
        except FhirError as exc:
            raise _prefixed(exc, e.index) from exc
        except Problem as exc:
            raise _prefixed(outcome.from_problem(exc), e.index) from exc
    return {"resourceType": "Bundle", "type": "transaction-response",
            "entry": [responses[i] for i in range(len(entries))]}


def _prefixed(exc: FhirError, index: int) -> FhirError:
    issues = [{**i, "diagnostics": f"entry {index}: {i.get('diagnostics', '')}"[:600],
               "expression": [f"Bundle.entry[{index}]", *i.get("expression", [])]} for i in exc.issues]
    return FhirError(exc.status, issues[0]["diagnostics"], issues=issues)


def batch(ctx: Context, base: str, bundle: dict[str, Any]) -> dict[str, Any]:
    _check(bundle, "batch")
    raw = bundle.get("entry") or []
    if not isinstance(raw, list):
        raise FhirError(400, "Bundle.entry must be a list", code="structure", expression=["Bundle.entry"])
    if len(raw) > MAX_ENTRIES:
        raise FhirError(413, f"at most {MAX_ENTRIES} entries in one batch", code="too-costly",
                        expression=["Bundle.entry"])
    out = []
    for i, item in enumerate(raw):
        work = unit.begin(ctx.session)
        try:
            out.append(_run(ctx, base, parse_entry(i, item, base), None))
            work.commit()
        except (FhirError, Problem) as exc:
            work.rollback()
            error = exc if isinstance(exc, FhirError) else outcome.from_problem(exc)
            out.append({"response": {"status": f"{error.status} {_REASONS.get(error.status, '')}".strip(),
                                     "outcome": outcome.outcome(error.issues)}})
    return {"resourceType": "Bundle", "type": "batch-response", "entry": out}


def process(ctx: Context, base: str, bundle: Any) -> dict[str, Any]:
    if isinstance(bundle, dict) and bundle.get("type") == "batch":
        return batch(ctx, base, bundle)
    return transaction(ctx, base, bundle)
