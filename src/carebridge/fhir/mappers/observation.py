"""Observation <-> the record's observations and the monitoring context's vitals readings.

Two sources, one type: a lab result or a charted vital sign from the records context, and each device
reading (category vital-signs, the LOINC code and UCUM unit of the vitals catalogue). A reading's id is a
UUID whose high 64 bits are zero and whose low bits are the reading's row id, so a read can tell the two
apart without a lookup (UUIDv4 ids never have 64 leading zero bits).

Search is per patient and pages the record first, then the readings, each with its own keyset cursor
(`r.<cursor>` / `v.<cursor>`), so paging is stable under inserts in both. `code`, `category`, `status` and
`date` filter in SQL on (patient, code, time) indexes; `value-quantity`, `encounter`, `device` and a `ne`
date are tested on the page.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from pydantic import ValidationError

from carebridge.contexts import monitoring, records
from carebridge.contexts.monitoring import StoredReading
from carebridge.contexts.records import ObservationCreate, ObservationRead, RecordKind
from carebridge.engines.vitals import ACVPU, catalog
from carebridge.fhir.mappers.common import (
    LOINC,
    NONE,
    OBS_CATEGORY,
    by_id,
    concept,
    instant,
    iso,
    one_code,
    optional_id,
    patient_id,
    prune,
    quantity,
    ref,
    stored,
    subject_id,
    unknown_code,
    window,
)
from carebridge.fhir.outcome import FhirError, bad_param
from carebridge.fhir.registry import Context, Found, Mapper, Query, ReferenceParam, SearchParam, SortParam, Stored
from carebridge.fhir.search import collect
from carebridge.fhir.validate import check
from carebridge.kernel.errors import Conflict

TYPE = "Observation"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
_STATUSES = {"final": "final", "preliminary": "preliminary", "amended": "amended", "corrected": "amended",
             "entered-in-error": "entered-in-error"}
_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")

PARAMS = (
    SearchParam("_id", "token", "The observation's id."),
    SearchParam("patient", "reference", "Patient/<id>: required (or subject)."),
    SearchParam("subject", "reference", "Patient/<id>."),
    SearchParam("code", "token", "LOINC code: [http://loinc.org|]<code>."),
    SearchParam("category", "token", "vital-signs | laboratory (observation-category)."),
    SearchParam("status", "token", "final | preliminary | amended | entered-in-error."),
    SearchParam("date", "date", "Effective time; eq, ne, gt, lt, ge, le, sa, eb; a date or an instant with zone."),
    SearchParam("value-quantity", "quantity", "[prefix]number[|system|unit], e.g. gt7|http://unitsofmeasure.org|%."),
    SearchParam("encounter", "reference", "Encounter/<id>."),
    SearchParam("device", "reference", "Device/<id> (device readings)."),
)
REFERENCES = (ReferenceParam("patient", ("Patient",), "subject"), ReferenceParam("subject", ("Patient",), "subject"),
              ReferenceParam("encounter", ("Encounter",), "encounter"),
              ReferenceParam("device", ("Device",), "device"))
NOT_KEPT = ("text", "identifier", "basedOn", "partOf", "focus", "performer", "issued (record entries)",
            "effectivePeriod end, effectiveTiming", "value[x] other than Quantity, string and CodeableConcept text",
            "dataAbsentReason", "bodySite", "method", "specimen", "hasMember", "derivedFrom", "component",
            "referenceRange beyond the first and its type/appliesTo/age", "coding other than LOINC",
            "encounter, when that encounter is already finished", "interpretation (recomputed from the range)")

_BY_LOINC: dict[str, list[str]] = {}
for _t in catalog().values():
    _BY_LOINC.setdefault(_t.loinc, []).append(_t.code)


def reading_uuid(reading_id: int) -> uuid.UUID:
    return uuid.UUID(int=reading_id)


def _reading_id(rid: uuid.UUID) -> int | None:
    return rid.int if rid.int >> 64 == 0 else None


def from_record(o: ObservationRead) -> Stored:
    body: dict[str, Any] = {
        "resourceType": TYPE, "id": str(o.id), "status": o.status.value,
        "category": [concept(OBS_CATEGORY, o.category.value, o.category.value)],
        "code": concept(LOINC, o.code, o.display), "subject": ref("Patient", o.patient_id),
        "encounter": ref("Encounter", o.encounter_id), "effectiveDateTime": iso(o.effective_at),
    }
    if o.value is not None:
        body["valueQuantity"] = quantity(o.value, o.unit)
    elif o.value_text:
        body["valueString"] = o.value_text
    if o.interpretation:
        body["interpretation"] = [concept(INTERPRETATION, o.interpretation.value)]
    if o.ref_low is not None or o.ref_high is not None:
        body["referenceRange"] = [prune({"low": quantity(o.ref_low, o.unit) if o.ref_low is not None else None,
                                         "high": quantity(o.ref_high, o.unit) if o.ref_high is not None else None})]
    if o.note:
        body["note"] = [{"text": o.note}]
    return stored(prune(body), o.updated_at, o.effective_at)


def from_reading(r: StoredReading) -> Stored:
    spec = catalog().get(r.type)
    code = concept(LOINC, spec.loinc, spec.display) if spec else {"text": r.type}
    body: dict[str, Any] = {
        "resourceType": TYPE, "id": str(reading_uuid(r.id)), "status": "final",
        "category": [concept(OBS_CATEGORY, "vital-signs", "vital-signs")], "code": code,
        "subject": ref("Patient", r.patient_id), "effectiveDateTime": iso(r.observed_at), "issued": iso(r.received_at),
        "device": ref("Device", r.device_id),
    }
    if r.type == "consciousness" and 0 <= int(r.value) < len(ACVPU):
        body["valueCodeableConcept"] = {"text": ACVPU[int(r.value)]}
    elif r.type == "on_oxygen":
        body["valueBoolean"] = bool(r.value)
    else:
        body["valueQuantity"] = quantity(r.value, r.unit)
    return stored(body, r.received_at, r.received_at)


def convert(row: Any) -> Stored:
    return from_reading(row) if isinstance(row, StoredReading) else from_record(row)


def read(ctx: Context, rid: uuid.UUID) -> Stored:
    reading = _reading_id(rid)
    if reading is not None:
        return from_reading(monitoring.get_reading(ctx.session, ctx.principal, reading_id=reading, now=ctx.now))
    entry = records.get_entry(ctx.session, ctx.principal, kind=RecordKind.observation, record_id=rid, now=ctx.now)
    return from_record(cast(ObservationRead, entry))


# --- search ---------------------------------------------------------------------------------------------------


def _quantity_test(value: str) -> Any:
    prefix = value[:2] if value[:2] in _PREFIXES else "eq"
    number, _, rest = (value[2:] if value[:2] in _PREFIXES else value).partition("|")
    system, _, unit = rest.partition("|")
    try:
        wanted = float(number)
    except ValueError:
        raise bad_param("value-quantity", "[prefix]number[|system|code], e.g. gt7.5|http://unitsofmeasure.org|%") \
            from None
    decimals = len(number.partition(".")[2]) if "." in number else 0
    half = 0.5 * 10 ** -decimals  # eq means "within the value's precision"

    def test(s: Stored) -> bool:
        q = s.body.get("valueQuantity")
        if not q or (unit and q.get("code") != unit) or (system and q.get("system") != system):
            return False
        v = float(q["value"])
        match prefix:
            case "eq" | "ap":
                return wanted - half <= v < wanted + half if prefix == "eq" else abs(v - wanted) <= abs(wanted) * 0.1
            case "ne":
                return not wanted - half <= v < wanted + half
            case "gt" | "sa":
                return v > wanted
            case "lt" | "eb":
                return v < wanted
            case "ge":
                return v >= wanted
            case _:
                return v <= wanted
    return test


def _reference_test(query: Query, name: str, kind: str, element: str) -> list[Any]:
    tests = []
    for value in query.params.get(name, []):
        wanted = f"{kind}/{value.rpartition('/')[2]}"
        tests.append(lambda s, w=wanted: (s.body.get(element) or {}).get("reference") == w)
    return tests


def search(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    if (found := by_id(ctx, query, read)) is not None:
        return found
    pid = patient_id(query, "patient", "subject")
    possible, code = one_code(query, "code", LOINC)
    cat_ok, category = one_code(query, "category", OBS_CATEGORY)
    status_ok, status = one_code(query, "status", None)
    when = window(query, "date")
    if pid is None or not (possible and cat_ok and status_ok) or when.empty:
        return NONE
    in_records = category in (None, "vital-signs", "laboratory")
    in_vitals = category in (None, "vital-signs") and status in (None, "final") \
        and not query.params.get("encounter")
    types = _BY_LOINC.get(code, []) if code is not None else None
    if types is not None and not types:
        in_vitals = False
    tests: list[Any] = [_quantity_test(v) for v in query.params.get("value-quantity", [])]
    tests += _reference_test(query, "encounter", "Encounter", "encounter")
    tests += _reference_test(query, "device", "Device", "device")
    if query.params.get("device"):
        in_records = False
    if when.holes:
        tests.append(lambda s: when.keep(instant(s.body.get("effectiveDateTime"), TYPE, "effectiveDateTime")))

    def fetch(cur: str | None, limit: int) -> tuple[list[Any], str | None]:
        source, _, inner = (cur or "r.").partition(".")
        items: list[Any] = []
        if source == "r":
            if in_records:
                page = records.find_observations(ctx.session, ctx.principal, patient_id=pid, now=ctx.now, limit=limit,
                                                 cursor=inner or None, code=code, category=category, status=status,
                                                 since=when.since, before=when.before)
                if page.next_cursor:
                    return list(page.items), "r." + page.next_cursor
                items = list(page.items)
            if not in_vitals:
                return items, None
            if len(items) >= limit:
                return items, "v."
            source, inner = "v", ""
        if source != "v":
            raise bad_param("_cursor", "not a cursor this server issued")
        readings = monitoring.find_readings(ctx.session, ctx.principal, patient_id=pid, types=types,
                                            since=when.since, before=when.before, limit=limit - len(items),
                                            cursor=inner or None, now=ctx.now)
        items.extend(readings.items)
        return items, ("v." + readings.next_cursor) if readings.next_cursor else None

    def keep(row: Any) -> bool:
        s = convert(row)
        return all(t(s) for t in tests)

    return collect(fetch, keep, convert, count, cursor, filtered=bool(tests))


# --- create ---------------------------------------------------------------------------------------------------


def from_fhir(body: dict[str, Any]) -> dict[str, Any]:
    codings = (body.get("code") or {}).get("coding") or []
    loinc = next((c for c in codings if c.get("system") == LOINC and c.get("code")), None)
    if loinc is None:
        raise unknown_code(TYPE, "code", "only LOINC-coded observations are kept")
    if records.lookup(records.CodeSystem.loinc, str(loinc["code"])) is None:
        raise unknown_code(TYPE, "code", f"LOINC {str(loinc['code'])[:20]} is not in the shipped list")
    status = _STATUSES.get(str(body.get("status")))
    if status is None:
        raise FhirError(422, f"status {str(body.get('status'))[:40]!r} cannot be kept; one of {', '.join(_STATUSES)}",
                        code="value", expression=[f"{TYPE}.status"])
    at = instant(body.get("effectiveDateTime") or (body.get("effectivePeriod") or {}).get("start")
                 or body.get("effectiveInstant") or body.get("issued"), TYPE, "effective[x]")
    if at is None:
        raise FhirError(422, "an observation needs effectiveDateTime (or effectivePeriod.start)", code="required",
                        expression=[f"{TYPE}.effective[x]"])
    data: dict[str, Any] = {"code": loinc["code"], "effective_at": at, "status": status}
    if "valueQuantity" in body:
        q = body["valueQuantity"]
        data["value"] = q.get("value")
        data["unit"] = q.get("code") or q.get("unit") or None
    elif "valueString" in body:
        data["value_text"] = str(body["valueString"])[:500]
    elif "valueCodeableConcept" in body:
        cc = body["valueCodeableConcept"]
        data["value_text"] = (cc.get("text") or next((c.get("display") or c.get("code")
                                                      for c in cc.get("coding") or []), None))
    elif "valueBoolean" in body:
        data["value"] = 1.0 if body["valueBoolean"] else 0.0
    elif "valueInteger" in body:
        data["value"] = float(body["valueInteger"])
    rng = (body.get("referenceRange") or [{}])[0]
    if "low" in rng or "high" in rng:
        data["ref_low"] = (rng.get("low") or {}).get("value")
        data["ref_high"] = (rng.get("high") or {}).get("value")
    notes = [n.get("text", "") for n in body.get("note") or [] if n.get("text")]
    if notes:
        data["note"] = "\n".join(notes)[:2000]
    enc = optional_id(body, "encounter", "Encounter")
    if enc is not None:
        data["encounter_id"] = enc
    return data


def _invalid(exc: ValidationError) -> FhirError:
    element = {"code": "code", "value": "valueQuantity", "value_text": "value[x]", "unit": "valueQuantity.code",
               "effective_at": "effective[x]", "ref_low": "referenceRange", "ref_high": "referenceRange"}
    first = exc.errors()[0]
    where = element.get(str(first["loc"][0]) if first.get("loc") else "", "value[x]")
    if str(first["loc"][0] if first.get("loc") else "") == "code":
        return unknown_code(TYPE, "code", "not a LOINC code")
    return FhirError(422, str(first.get("msg", "invalid")), code="value", expression=[f"{TYPE}.{where}"])


def create(ctx: Context, body: dict[str, Any], resource_id: uuid.UUID | None, if_match: str | None) -> Stored:
    check(TYPE, body)
    pid = subject_id(body, "subject", TYPE)
    fields = from_fhir(body)
    try:
        data = ObservationCreate.model_validate(fields)
    except ValidationError as exc:
        raise _invalid(exc) from exc
    return from_record(_add(ctx, pid, data))


def _add(ctx: Context, pid: uuid.UUID, data: ObservationCreate) -> ObservationRead:
    try:
        return records.add_observation(ctx.session, ctx.principal, patient_id=pid, data=data, now=ctx.now)
    except Conflict as exc:
        if exc.slug != "encounter-closed" or data.encounter_id is None:
            raise
        # a historical result of a finished encounter: kept, without the link (see NOT_KEPT)
        return records.add_observation(ctx.session, ctx.principal, patient_id=pid,
                                       data=data.model_copy(update={"encounter_id": None}), now=ctx.now)


def _sort_time(body: dict[str, Any]) -> str | None:
    value = body.get("effectiveDateTime")
    return str(value) if value else None


MAPPER = Mapper(type=TYPE, documentation="Lab results and vital signs from the record, and device readings "
                "(category vital-signs); per patient, access policy and audit as for the record.",
                search_params=PARAMS, search=search, read=read, create=create, not_kept=NOT_KEPT,
                patient_param="patient", references=REFERENCES,
                sort_params=(SortParam("date", _sort_time),))
