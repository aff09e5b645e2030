"""Structure validation of incoming resources against the R4 models (fhir.resources' R4B package).

R4B changed no element of the resources mapped here (Patient, Practitioner, Organization, Location,
HealthcareService, PractitionerRole), so its models check R4 structure: types, cardinality, primitive
formats. The models list the codes of required bindings but do not enforce them; `_codes` does, for
every binding whose list is complete (the models mark a shortened list with "+"). Each error becomes
an issue whose `expression` is the FHIRPath of the offending element (`Patient.name[0].given[1]`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import BaseModel, ValidationError

from carebridge.fhir.outcome import FhirError, issue

MAX_ISSUES = 20


@dataclass(frozen=True, slots=True)
class Failure:
    """A 422 reached elsewhere (a validating worker process), raised again here as the same OperationOutcome."""

    status: int
    diagnostics: str
    issues: list[dict[str, Any]]

    def error(self) -> FhirError:
        return FhirError(self.status, self.diagnostics, issues=[dict(i) for i in self.issues])


Verdict = Failure | None
"""None: the body is a valid resource of its type."""

_TRUSTED: ContextVar[tuple[dict[str, Any], Verdict] | None] = ContextVar("fhir_trusted_body", default=None)


@contextlib.contextmanager
def trusting(body: dict[str, Any], verdict: Verdict) -> Iterator[None]:
    """While inside, `check` of this very object (not an equal copy) answers `verdict` without validating:
    the importer's bodies were validated in a worker process while it wrote the previous batch, and an entry
    a mapper refuses is checked again by the generic store it falls back to."""
    token = _TRUSTED.set((body, verdict))
    try:
        yield
    finally:
        _TRUSTED.reset(token)


def fhirpath(resource_type: str, loc: tuple[int | str, ...]) -> str:
    out = resource_type
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part != "__root__":
            out += f".{part}"
    return out


def check(resource_type: str, body: Any) -> dict[str, Any]:
    """The body if it is a valid `resource_type`; 400 if it is not that type at all, 422 with issues otherwise."""
    if not isinstance(body, dict):
        raise FhirError(400, "the body must be a JSON object (a FHIR resource)", code="structure")
    if body.get("resourceType") != resource_type:
        raise FhirError(400, f"resourceType must be {resource_type!r}", code="invalid", expression=["resourceType"])
    trusted = _TRUSTED.get()
    if trusted is not None and trusted[0] is body:
        if trusted[1] is not None:
            raise trusted[1].error()
        return body
    model = get_fhir_model_class(resource_type)
    try:
        parsed = model.model_validate(body)
    except ValidationError as exc:
        issues = [issue(str(e.get("msg", "invalid")), code="structure",
                        expression=[fhirpath(resource_type, tuple(e.get("loc", ())))])
                  for e in exc.errors()[:MAX_ISSUES]]
        raise FhirError(422, issues[0]["diagnostics"], issues=issues) from exc
    except (ValueError, TypeError) as exc:
        raise FhirError(422, f"not a valid {resource_type}: {exc}"[:500], code="structure") from exc
    codes: list[dict[str, Any]] = []
    _codes(parsed, resource_type, codes, 0)
    if codes:
        raise FhirError(422, codes[0]["diagnostics"], issues=codes)
    return body


def verdict(resource_type: str, body: Any) -> Verdict:
    """What `check` would answer, as a value that can cross to another process or wait for a later `check`."""
    try:
        check(resource_type, body)
    except FhirError as exc:
        return Failure(exc.status, str(exc), exc.issues)
    return None


def _codes(node: BaseModel, path: str, issues: list[dict[str, Any]], depth: int) -> None:
    """Codes of required bindings outside their value set, walking the parsed resource."""
    if depth > 30 or len(issues) >= MAX_ISSUES:
        return
    for name, info in type(node).model_fields.items():
        value = getattr(node, name, None)
        if value is None or name.endswith("__ext") or name == "fhir_comments":
            continue
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        allowed = extra.get("enum_values")
        where = f"{path}.{info.alias or name}"
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            at = f"{where}[{i}]" if isinstance(value, list) else where
            if isinstance(item, BaseModel):
                _codes(item, at, issues, depth + 1)
            elif isinstance(allowed, list) and "+" not in allowed and isinstance(item, str) and item not in allowed:
                issues.append(issue(f"{item[:40]!r} is not one of {', '.join(map(str, allowed))}"[:300],
                                    code="code-invalid", expression=[at]))
