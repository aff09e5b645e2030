"""What the record, scheduling, prescribing, monitoring and audit mappers share: meta, references, tokens,
date ranges for SQL, and the JSON shapes of codings and quantities.

Search dates are turned into a half-open range [since, before) that the context filters in SQL; only `ne`
(a hole in the range) is tested here, on the page. Token values follow the R4 rules: `code`, `system|code`,
`|code` (no system) — a system other than the one this server codes with matches nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from carebridge.fhir.outcome import FhirError, bad_param
from carebridge.fhir.registry import Context, Found, Query, Stored
from carebridge.fhir.search import InstantTest, instant_param, only_id, uuid_param
from carebridge.fhir.validate import check
from carebridge.kernel.errors import Forbidden, NotFound

UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def version_of(at: datetime | None) -> str:
    """Tables without a version column: the update instant in seconds since 2020 (9 digits until 2051, the
    facade's If-Match limit). Two updates within one second share a version, so If-Match is weak there."""
    return str(max(1, int((at - EPOCH).total_seconds()))) if at is not None else "1"


def stored(body: dict[str, Any], at: datetime | None, fallback: datetime) -> Stored:
    when = at or fallback
    version = version_of(when)
    body["meta"] = {"versionId": version, "lastUpdated": iso(when)}
    return Stored(body=body, version=version, last_updated=when)


def ref(kind: str, rid: uuid.UUID | None) -> dict[str, str] | None:
    return {"reference": f"{kind}/{rid}"} if rid is not None else None


def concept(system: str | None, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"code": code}
    if system:
        coding = {"system": system, **coding}
    if display:
        coding["display"] = display
    out: dict[str, Any] = {"coding": [coding]}
    if display:
        out["text"] = display
    return out


def quantity(value: float, unit: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"value": value}
    if unit:
        out.update(unit=unit, system=UCUM, code=unit)
    return out


def prune(body: dict[str, Any]) -> dict[str, Any]:
    """FHIR forbids empty elements: drop None, "" and [] values at the top level."""
    return {k: v for k, v in body.items() if v not in (None, "", [], {})}


# --- search -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Token:
    system: str | None  # None: any system; "": explicitly no system
    code: str

    def matches_system(self, ours: str | None) -> bool:
        if self.system is None:
            return True
        return self.system == (ours or "")


def token(name: str, value: str) -> Token:
    system, sep, code = value.partition("|") if "|" in value else (None, "", value)
    if not code.strip():
        raise bad_param(name, "a code, system|code or |code")
    return Token(system=system if sep else None, code=code.strip())


def one_code(query: Query, name: str, system: str | None,
             normalize: Callable[[str], str] = lambda c: c) -> tuple[bool, str | None]:
    """(possible, code): the single code all `name` values agree on; (False, None) when they cannot all hold."""
    codes: set[str] = set()
    for value in query.params.get(name, []):
        t = token(name, value)
        if not t.matches_system(system):
            return False, None
        codes.add(normalize(t.code))
    if len(codes) > 1:
        return False, None
    return True, next(iter(codes), None)


def patient_id(query: Query, *names: str) -> uuid.UUID | None:
    """The patient every patient/subject value names; 400 when none is given (searches are per patient)."""
    values = [v for n in names for v in query.params.get(n, [])]
    if not values:
        raise bad_param(names[0], f"this search needs {' or '.join(names)} (Patient/<id>): results are per patient")
    ids = set()
    for v in values:
        kind, _, _rest = v.rpartition("/")
        if kind and kind.rsplit("/", 1)[-1] != "Patient":
            return None
        ids.add(uuid_param(names[0], v))
    if len(ids) != 1 or None in ids:
        return None
    return next(iter(ids))


@dataclass(slots=True)
class Window:
    """A half-open [since, before) instant range from the `date` values, plus the `ne` tests kept for the page."""

    since: datetime | None = None
    before: datetime | None = None
    holes: list[InstantTest] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.since is not None and self.before is not None and self.since >= self.before

    def keep(self, at: datetime | None) -> bool:
        return all(t.matches(at) for t in self.holes) if at is not None else not self.holes

    def days(self) -> tuple[date | None, date | None]:
        """The same range over a date column: a day is [00:00, 24:00) UTC, so bounds round up to a day."""
        return _ceil_day(self.since), _ceil_day(self.before)


def _ceil_day(at: datetime | None) -> date | None:
    if at is None:
        return None
    day = at.astimezone(UTC).date()
    return day if at.astimezone(UTC).time() == time(0) else day + timedelta(days=1)


def window(query: Query, name: str) -> Window:
    w = Window()
    for value in query.params.get(name, []):
        t = instant_param(name, value)
        low: datetime | None
        high: datetime | None
        match t.prefix:
            case "eq":
                low, high = t.low, t.high
            case "ge":
                low, high = t.low, None
            case "gt" | "sa":
                low, high = t.high, None
            case "le":
                low, high = None, t.high
            case "lt" | "eb":
                low, high = None, t.low
            case _:
                w.holes.append(t)
                continue
        if low is not None and (w.since is None or low > w.since):
            w.since = low
        if high is not None and (w.before is None or high < w.before):
            w.before = high
    return w


def day_test(w: Window) -> Callable[[date | None], bool]:
    """`ne` on a date value: the day as the instant range [00:00, 24:00) UTC."""
    def keep(d: date | None) -> bool:
        return w.keep(datetime.combine(d, time(0), tzinfo=UTC)) if d is not None else not w.holes
    return keep


NONE = Found(items=[], next_cursor=None)


def by_id(ctx: Context, query: Query, reader: Callable[[Context, uuid.UUID], Stored]) -> Found | None:
    """`_id` search answered by a read; None when the query has no `_id`."""
    ids = only_id(query)
    if not ids:
        return None
    wanted = {uuid_param("_id", v) for v in ids}
    one = next(iter(wanted)) if len(wanted) == 1 else None
    if one is None:
        return NONE
    try:
        return Found(items=[reader(ctx, one)], next_cursor=None)
    except (NotFound, Forbidden):
        return NONE


def subject_id(body: dict[str, Any], element: str, resource_type: str) -> uuid.UUID:
    """The patient a new resource is about: `Patient/<id>` of a patient stored here."""
    reference = str((body.get(element) or {}).get("reference") or "")
    kind, _, rid = reference.rpartition("/")
    try:
        if kind.rsplit("/", 1)[-1] == "Patient":
            return uuid.UUID(rid)
    except ValueError:
        pass
    raise FhirError(422, f"{element} must reference a Patient stored here (Patient/<id>)", code="required",
                    expression=[f"{resource_type}.{element}"])


def optional_id(body: dict[str, Any], element: str, kind: str) -> uuid.UUID | None:
    reference = str((body.get(element) or {}).get("reference") or "")
    k, _, rid = reference.rpartition("/")
    if k.rsplit("/", 1)[-1] != kind:
        return None
    try:
        return uuid.UUID(rid)
    except ValueError:
        return None


def coding(body: dict[str, Any], element: str, system: str | None = None) -> dict[str, Any] | None:
    """The first coding of a CodeableConcept (of `system`, when given)."""
    value = body.get(element)
    if isinstance(value, list):
        value = value[0] if value else None
    codings = (value or {}).get("coding") or []
    return next((c for c in codings if system is None or c.get("system") == system), None)


def text_of(value: Any) -> str | None:
    """A CodeableConcept's words: its text, else the first coding's display or code."""
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, dict):
        return None
    if value.get("text"):
        return str(value["text"])
    first = (value.get("coding") or [{}])[0]
    found = first.get("display") or first.get("code")
    return str(found) if found else None


def unknown_code(resource_type: str, element: str, what: str) -> FhirError:
    """422 with issue code `code-invalid`: the importer keeps such a resource as validated JSON instead."""
    return FhirError(422, f"{what}; this resource cannot be kept in the record (the importer keeps it as JSON)",
                     code="code-invalid", expression=[f"{resource_type}.{element}"])


def instant(value: Any, resource_type: str, element: str) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise FhirError(422, "not a date-time", code="value", expression=[f"{resource_type}.{element}"]) from exc
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def day(value: Any, resource_type: str, element: str) -> date | None:
    at = instant(value, resource_type, element) if value is not None and len(str(value)) > 10 else None
    if at is not None:
        return at.date()
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise FhirError(422, "a full date (YYYY-MM-DD) is needed", code="value",
                        expression=[f"{resource_type}.{element}"]) from exc


def current_for_update(ctx: Context, body: dict[str, Any], resource_id: uuid.UUID | None, if_match: str | None,
                       reader: Callable[[Context, uuid.UUID], Stored], resource_type: str) -> tuple[uuid.UUID, Stored]:
    """The stored resource an update replaces; 400 when ids disagree, 412 when If-Match names another version."""
    check(resource_type, body)
    if resource_id is None or body.get("id") != str(resource_id):
        raise FhirError(400, "the resource's id must equal the id in the URL", code="invalid",
                        expression=[f"{resource_type}.id"])
    now = reader(ctx, resource_id)
    if if_match is not None and if_match != now.version:
        raise FhirError(412, f"version {if_match[:20]} is not the current one ({now.version})", code="conflict")
    return resource_id, now
