"""Structure validation of incoming resources against the R4 models (fhir.resources' R4B package).

R4B changed no element of the resources mapped here (Patient, Practitioner, Organization, Location,
HealthcareService, PractitionerRole), so its models check R4 structure: types, cardinality, value sets
of required bindings, primitive formats. Each pydantic error becomes an issue whose `expression`
is the FHIRPath of the offending element (`Patient.name[0].given[1]`).
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from carebridge.fhir.outcome import FhirError, issue

MAX_ISSUES = 20


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
    model = get_fhir_model_class(resource_type)
    try:
        model.model_validate(body)
    except ValidationError as exc:
        issues = [issue(str(e.get("msg", "invalid")), code="structure",
                        expression=[fhirpath(resource_type, tuple(e.get("loc", ())))])
                  for e in exc.errors()[:MAX_ISSUES]]
        raise FhirError(422, issues[0]["diagnostics"], issues=issues) from exc
    except (ValueError, TypeError) as exc:
        raise FhirError(422, f"not a valid {resource_type}: {exc}"[:500], code="structure") from exc
    return body
