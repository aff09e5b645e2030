"""FHIR errors are OperationOutcome resources: the one shape every failure under /fhir/R4 leaves in.

Services raise the kernel's `Problem`s; this module translates them (status kept, problem slug
carried as `details.text`), and raises its own `FhirError` where only FHIR has words for the
failure (an unknown search parameter, an element the resource model refuses).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from carebridge.kernel.errors import Problem

FHIR_JSON = "application/fhir+json"

# HTTP status -> the OperationOutcome issue code (http://hl7.org/fhir/issue-type) that says the same
_CODES: dict[int, str] = {
    400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported", 406: "not-supported",
    409: "conflict", 410: "deleted", 412: "conflict", 413: "too-costly", 415: "not-supported", 422: "processing",
    428: "required", 429: "throttled",
}


class FhirError(Exception):
    """A failure answered as an OperationOutcome with these issues."""

    def __init__(self, status: int, diagnostics: str, *, code: str | None = None,
                 expression: Sequence[str] = (), headers: dict[str, str] | None = None,
                 issues: list[dict[str, Any]] | None = None) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.headers = headers or {}
        self.issues = issues or [issue(diagnostics, code=code or _CODES.get(status, "exception"),
                                       expression=expression)]


def issue(diagnostics: str, *, code: str, expression: Sequence[str] = (), severity: str = "error",
          details: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if details:
        out["details"] = {"text": details}
    if expression:
        out["expression"] = list(expression)
    return out


def outcome(issues: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": issues}


def bad_param(name: str, message: str) -> FhirError:
    return FhirError(400, f"search parameter {name}: {message}", code="invalid", expression=[name])


def not_found(what: str) -> FhirError:
    return FhirError(404, what, code="not-found")


def from_problem(problem: Problem) -> FhirError:
    fields = [str(e.get("field")) for e in problem.errors if e.get("field")]
    first = issue(problem.detail, code=_CODES.get(problem.status, "exception"), expression=fields,
                  details=problem.slug)
    return FhirError(problem.status, problem.detail, headers=dict(problem.headers), issues=[first])


def from_validation(exc: RequestValidationError) -> FhirError:
    issues = [issue(str(e.get("msg", "invalid")), code="invalid",
                    expression=[".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"])
              for e in exc.errors()]
    return FhirError(400, issues[0]["diagnostics"] if issues else "invalid request", issues=issues)


def response(error: FhirError) -> JSONResponse:
    return JSONResponse(outcome(error.issues), status_code=error.status, media_type=FHIR_JSON,
                        headers=error.headers or None)
