"""References inside a resource: list them, and rewrite them through a mapping.

A Bundle transaction (and `carebridge import-fhir`) creates resources whose `fullUrl` is a
`urn:uuid:…` placeholder; once each is stored under a server id, every `reference` naming a
placeholder must name the stored resource instead (`Patient/<id>`). Walking the whole JSON tree is
the only way to find them all: a reference can sit at any depth (`Observation.subject`,
`Encounter.participant[0].individual`, extensions, contained resources).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 64
"""Deeper than any real FHIR resource; stops a hostile body from recursing the walk to exhaustion."""


@dataclass(frozen=True, slots=True)
class Ref:
    """One `reference` value and where it sits (a FHIRPath-like path, for OperationOutcome issues)."""

    path: str
    reference: str

    @property
    def type(self) -> str | None:
        """The resource type of a relative (`Patient/123`) or absolute (`…/Patient/123`) literal reference."""
        parsed = split(self.reference)
        return parsed[0] if parsed else None

    @property
    def id(self) -> str | None:
        parsed = split(self.reference)
        return parsed[1] if parsed else None


def split(reference: str) -> tuple[str, str] | None:
    """(type, id) of a literal reference; None for urn:, fragment (#contained) and malformed references.

    `Patient/1/_history/2` names version 2 of Patient/1: the (type, id) is still ("Patient", "1").
    """
    if reference.startswith(("urn:", "#")) or not reference:
        return None
    parts = reference.split("?")[0].rstrip("/").split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) < 2 or not parts[-2][:1].isupper() or not parts[-1]:
        return None
    return parts[-2], parts[-1]


def locate(resource: Mapping[str, Any]) -> list[tuple[dict[str, Any], str, str]]:
    """(node, path, reference) for every `reference` in the resource, in document order.

    One iterative pass over a stack (nested generators were most of the cost: an import walks every entry);
    each stacked node knows its parent and its key, and a path is spelled out only for the few nodes that hold
    a reference (spelling one for every node was another half). The node is the dict holding the reference,
    for a rewrite.
    """
    found: list[tuple[dict[str, Any], _Step, str]] = []
    stack: list[_Step] = [(resource, None, str(resource.get("resourceType") or "Resource"), 0)]
    pop, push = stack.pop, stack.append
    while stack:
        step = pop()
        node, _parent, _key, depth = step
        if depth > MAX_DEPTH:
            continue
        depth += 1
        if isinstance(node, dict):
            ref = node.get("reference")
            if isinstance(ref, str):
                found.append((node, step, ref))
            for key, value in reversed(node.items()):  # pushed last to first, so popped in document order
                if isinstance(value, _CONTAINERS):
                    push((value, step, key, depth))
        elif isinstance(node, list):
            for i in range(len(node) - 1, -1, -1):
                if isinstance(node[i], _CONTAINERS):
                    push((node[i], step, i, depth))
    return [(node, _path(step), ref) for node, step, ref in found]


_CONTAINERS = (dict, list)
_Step = tuple[Any, Any, str | int, int]
"""(node, the parent's step or None at the root, the key or index under the parent, depth)."""


def _path(step: _Step) -> str:
    parts: list[str] = []
    while step[1] is not None:
        key = step[2]
        parts.append(f"[{key}]" if isinstance(key, int) else f".{key}")
        step = step[1]
    parts.append(str(step[2]))
    return "".join(reversed(parts))


def find(resource: Mapping[str, Any]) -> list[Ref]:
    """Every `reference` the resource holds, in document order, with its path (`Observation.subject`)."""
    return [Ref(path=path, reference=ref) for _node, path, ref in locate(resource)]


def rewrite(resource: dict[str, Any], mapping: Mapping[str, str]) -> list[Ref]:
    """Replace, in place, every `reference` found in `mapping` by its target; the rewritten ones are returned.

    The mapping is exact: `{"urn:uuid:5b1…": "Patient/8c2…"}`. A reference not in the mapping is left
    alone (it may name a resource already on the server). Returns the references as they were before
    the rewrite, so a caller can report which placeholders were resolved.
    """
    changed: list[Ref] = []
    for node, path, old in locate(resource):
        new = mapping.get(old)
        if new is not None and new != old:
            node["reference"] = new
            changed.append(Ref(path=path, reference=old))
    return changed


def unresolved(resource: Mapping[str, Any], prefix: str = "urn:uuid:") -> list[Ref]:
    """References still naming a placeholder: after `rewrite`, each is a dangling link in the Bundle."""
    return [r for r in find(resource) if r.reference.startswith(prefix)]


def patient_reference(resource: Mapping[str, Any]) -> str | None:
    """The patient a resource is about: `subject`/`patient`/`beneficiary` naming a Patient, or itself."""
    if resource.get("resourceType") == "Patient":
        rid = resource.get("id")
        return f"Patient/{rid}" if isinstance(rid, str) and rid else None
    for key in ("patient", "subject", "beneficiary"):
        value = resource.get(key)
        if isinstance(value, dict) and isinstance(value.get("reference"), str):
            parsed = split(value["reference"])
            if parsed and parsed[0] == "Patient":
                return f"Patient/{parsed[1]}"
    return None
