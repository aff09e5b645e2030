"""Condition, AllergyIntolerance and Immunization <-> the records context's problem list, allergies and vaccines.

Codes are the record's own: ICD-10 (the shipped list) for conditions, the national immunisation schedule's
vaccine codes for immunizations; an incoming resource coded otherwise (SNOMED CT, CVX) is answered 422
`code-invalid`, which the importer takes as "keep it as validated JSON". A new entry that names a finished
encounter is kept without that link: the record freezes a closed encounter's entries.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, time
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ValidationError

from carebridge.contexts import records
from carebridge.contexts.records import (
    AllergyCreate,
    AllergyRead,
    ConditionCreate,
    ConditionRead,
    ImmunizationCreate,
    ImmunizationRead,
    RecordKind,
)
from carebridge.fhir.mappers.common import (
    ICD10,
    NONE,
    by_id,
    coding,
    concept,
    current_for_update,
    day,
    day_test,
    iso,
    one_code,
    optional_id,
    patient_id,
    prune,
    ref,
    stored,
    subject_id,
    text_of,
    unknown_code,
    window,
)
from carebridge.fhir.outcome import FhirError
from carebridge.fhir.registry import Context, Found, Mapper, Query, ReferenceParam, SearchParam, SortParam, Stored
from carebridge.fhir.search import collect
from carebridge.fhir.validate import check
from carebridge.kernel.errors import Conflict, ValidationProblem

UIP = "urn:carebridge:in-uip-vaccine"
ICD10_SYSTEMS = (ICD10, "http://hl7.org/fhir/sid/icd-10-cm", "http://id.who.int/icd/release/10")
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")


def ref_test(element: str, wanted: str) -> Callable[[Stored], bool]:
    def test(s: Stored) -> bool:
        return bool((s.body.get(element) or {}).get("reference") == wanted)
    return test


def _enc_tests(query: Query) -> list[Callable[[Stored], bool]]:
    return [ref_test("encounter", f"Encounter/{v.rpartition('/')[2]}") for v in query.params.get("encounter", [])]


def _substance(wanted: str) -> Callable[[Stored], bool]:
    def test(s: Stored) -> bool:
        return bool((s.body["code"].get("text") or "").casefold() == wanted)
    return test


def add_keeping(call: Callable[[M], R], data: M) -> R:
    """Add the entry; if its encounter is finished or not in the record, add it without the encounter."""
    try:
        return call(data)
    except (Conflict, ValidationProblem) as exc:
        linked = getattr(data, "encounter_id", None) is not None
        about_encounter = exc.slug == "encounter-closed" or any(e.get("field") == "encounter_id" for e in exc.errors)
        if not (linked and about_encounter):
            raise
        return call(data.model_copy(update={"encounter_id": None}))


def invalid(resource_type: str, exc: ValidationError, elements: dict[str, str]) -> FhirError:
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first.get("loc") else ""
    return FhirError(422, f"{field or resource_type}: {first.get('msg', 'invalid')}", code="value",
                     expression=[f"{resource_type}.{elements.get(field, field or 'value')}"])


def validated(model: type[M], fields: dict[str, Any], resource_type: str, elements: dict[str, str]) -> M:
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise invalid(resource_type, exc, elements) from exc


def _full_day(value: Any) -> Any:
    """A year or a month (`2004`) is no day the record can keep; it stays in the received body only."""
    return None if isinstance(value, str) and len(value) < 10 else value


def _notes(body: dict[str, Any]) -> str:
    return "\n".join(str(n["text"]) for n in body.get("note") or [] if n.get("text"))[:2000]


def _code(body: dict[str, Any], element: str) -> str | None:
    c = coding(body, element)
    return str(c["code"]) if c and c.get("code") else None


# --- Condition ------------------------------------------------------------------------------------------------


def condition(c: ConditionRead) -> Stored:
    body = {"resourceType": "Condition", "id": str(c.id),
            "clinicalStatus": concept(CLINICAL, c.clinical_status.value),
            "verificationStatus": concept(VERIFICATION, c.verification_status.value),
            "category": [concept(CATEGORY, c.category.value)], "code": concept(ICD10, c.code, c.display),
            "subject": ref("Patient", c.patient_id), "encounter": ref("Encounter", c.encounter_id),
            "onsetDateTime": c.onset_date.isoformat() if c.onset_date else None,
            "abatementDateTime": c.abatement_date.isoformat() if c.abatement_date else None,
            "recordedDate": iso(c.recorded_at), "note": [{"text": c.note}] if c.note else None}
    return stored(prune(body), c.updated_at, c.recorded_at)


def read_condition(ctx: Context, rid: uuid.UUID) -> Stored:
    return condition(cast(ConditionRead, records.get_entry(ctx.session, ctx.principal, kind=RecordKind.condition,
                                                           record_id=rid, now=ctx.now)))


def search_conditions(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    if (found := by_id(ctx, query, read_condition)) is not None:
        return found
    pid = patient_id(query, "patient", "subject")
    code_ok, code = one_code(query, "code", ICD10, str.upper)
    cat_ok, category = one_code(query, "category", CATEGORY)
    cs_ok, clinical = one_code(query, "clinical-status", CLINICAL)
    vs_ok, verification = one_code(query, "verification-status", VERIFICATION)
    onset = window(query, "onset-date")
    if pid is None or not (code_ok and cat_ok and cs_ok and vs_ok) or onset.empty:
        return NONE
    since, before = onset.days()
    tests = _enc_tests(query)
    if onset.holes:
        keep_day = day_test(onset)
        tests.append(lambda s: keep_day(day(s.body.get("onsetDateTime"), "Condition", "onsetDateTime")))

    def fetch(cur: str | None, limit: int) -> tuple[list[Any], str | None]:
        page = records.find_conditions(ctx.session, ctx.principal, patient_id=pid, now=ctx.now, limit=limit,
                                       cursor=cur, code=code, category=category, clinical_status=clinical,
                                       verification_status=verification, onset_since=since, onset_before=before)
        return list(page.items), page.next_cursor

    return collect(fetch, lambda r: all(t(condition(r)) for t in tests), condition, count, cursor,
                   filtered=bool(tests))


def create_condition(ctx: Context, body: dict[str, Any], resource_id: uuid.UUID | None,
                     if_match: str | None) -> Stored:
    check("Condition", body)
    pid = subject_id(body, "subject", "Condition")
    codings = (body.get("code") or {}).get("coding") or []
    icd = next((c for c in codings if c.get("system") in ICD10_SYSTEMS and c.get("code")), None)
    if icd is None:
        raise unknown_code("Condition", "code", "only ICD-10-coded conditions are kept")
    code = str(icd["code"]).upper()
    if (records.lookup(records.CodeSystem.icd10, code) or records.lookup(records.CodeSystem.icd10,
                                                                         code.split(".")[0])) is None:
        raise unknown_code("Condition", "code", f"ICD-10 {code[:10]} is not in the shipped list")
    fields: dict[str, Any] = {"code": code, "onset_date": day(body.get("onsetDateTime"), "Condition", "onset[x]"),
                              "abatement_date": day(body.get("abatementDateTime"), "Condition", "abatement[x]"),
                              "note": _notes(body), "encounter_id": optional_id(body, "encounter", "Encounter")}
    for name, element in (("clinical_status", "clinicalStatus"), ("verification_status", "verificationStatus"),
                          ("category", "category")):
        if (value := _code(body, element)) is not None:
            fields[name] = "problem-list-item" if value == "health-concern" else value
    data = validated(ConditionCreate, fields, "Condition",
                      {"clinical_status": "clinicalStatus", "verification_status": "verificationStatus",
                       "onset_date": "onset[x]", "abatement_date": "abatement[x]"})
    return condition(add_keeping(lambda d: records.add_condition(ctx.session, ctx.principal, patient_id=pid,
                                                                 data=d, now=ctx.now), data))


def update_condition(ctx: Context, body: dict[str, Any], resource_id: uuid.UUID | None,
                     if_match: str | None) -> Stored:
    """Status, dates and note change; the code and the patient cannot (a wrong code is entered-in-error)."""
    rid, now = current_for_update(ctx, body, resource_id, if_match, read_condition, "Condition")
    if (body.get("subject") or {}).get("reference") != now.body["subject"]["reference"]:
        raise FhirError(422, "the subject of a condition cannot change", code="value", expression=["Condition.subject"])
    codes = {str(c.get("code")).upper() for c in (body.get("code") or {}).get("coding") or []
             if c.get("system") in ICD10_SYSTEMS}
    if codes and codes != {now.body["code"]["coding"][0]["code"]}:
        raise FhirError(422, "the code of a condition cannot change; mark it entered-in-error and add another",
                        code="value", expression=["Condition.code"])
    fields: dict[str, Any] = {"onset_date": day(body.get("onsetDateTime"), "Condition", "onset[x]"),
                              "abatement_date": day(body.get("abatementDateTime"), "Condition", "abatement[x]"),
                              "note": _notes(body)}
    for name, element in (("clinical_status", "clinicalStatus"), ("verification_status", "verificationStatus")):
        if (value := _code(body, element)) is not None:
            fields[name] = value
    data = validated(records.ConditionUpdate, fields, "Condition",
                     {"clinical_status": "clinicalStatus", "verification_status": "verificationStatus"})
    pid = uuid.UUID(now.body["subject"]["reference"].rpartition("/")[2])
    return condition(records.update_condition(ctx.session, ctx.principal, patient_id=pid, condition_id=rid, data=data,
                                              now=ctx.now))


CONDITION = Mapper(
    type="Condition", documentation="The problem list and encounter diagnoses (ICD-10), per patient.",
    search_params=(SearchParam("_id", "token", "The condition's id."),
                   SearchParam("patient", "reference", "Patient/<id>: required (or subject)."),
                   SearchParam("subject", "reference", "Patient/<id>."),
                   SearchParam("code", "token", "ICD-10 code: [http://hl7.org/fhir/sid/icd-10|]<code>."),
                   SearchParam("category", "token", "problem-list-item | encounter-diagnosis."),
                   SearchParam("clinical-status", "token", "active | recurrence | relapse | inactive | remission | "
                                                           "resolved."),
                   SearchParam("verification-status", "token", "confirmed, provisional, … (condition-ver-status)."),
                   SearchParam("onset-date", "date", "Onset date; eq, ne, gt, lt, ge, le, sa, eb."),
                   SearchParam("encounter", "reference", "Encounter/<id>.")),
    search=search_conditions, read=read_condition, create=create_condition, update=update_condition,
    patient_param="patient",
    references=(ReferenceParam("patient", ("Patient",), "subject"), ReferenceParam("subject", ("Patient",), "subject"),
                ReferenceParam("encounter", ("Encounter",), "encounter")),
    sort_params=(SortParam("onset-date", lambda b: b.get("onsetDateTime")),
                 SortParam("recorded-date", lambda b: b.get("recordedDate"))),
    not_kept=("text", "identifier", "severity", "bodySite", "onset as Age/Period/Range/string", "abatement other "
              "than a date", "recorder", "asserter", "stage", "evidence", "codings other than ICD-10",
              "category health-concern (kept as problem-list-item)", "encounter, when that encounter is finished"))


# --- AllergyIntolerance ---------------------------------------------------------------------------------------


def allergy(a: AllergyRead) -> Stored:
    reaction = None
    if a.reaction or a.severity:
        reaction = [prune({"manifestation": [{"text": a.reaction or "reaction"}],
                           "severity": a.severity.value if a.severity else None})]
    body = {"resourceType": "AllergyIntolerance", "id": str(a.id),
            "clinicalStatus": concept(ALLERGY_CLINICAL, a.clinical_status.value), "type": a.type.value,
            "category": [a.category.value], "criticality": a.criticality.value, "code": {"text": a.substance},
            "patient": ref("Patient", a.patient_id), "encounter": ref("Encounter", a.encounter_id),
            "onsetDateTime": a.onset_date.isoformat() if a.onset_date else None, "recordedDate": iso(a.recorded_at),
            "reaction": reaction, "note": [{"text": a.note}] if a.note else None}
    return stored(prune(body), a.updated_at, a.recorded_at)


def read_allergy(ctx: Context, rid: uuid.UUID) -> Stored:
    return allergy(cast(AllergyRead, records.get_entry(ctx.session, ctx.principal, kind=RecordKind.allergy,
                                                       record_id=rid, now=ctx.now)))


def search_allergies(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    if (found := by_id(ctx, query, read_allergy)) is not None:
        return found
    pid = patient_id(query, "patient")
    oks = {}
    for name, system in (("clinical-status", ALLERGY_CLINICAL), ("category", None), ("criticality", None),
                         ("type", None)):
        oks[name] = one_code(query, name, system)
    when = window(query, "date")
    if pid is None or not all(ok for ok, _ in oks.values()) or when.empty:
        return NONE
    tests = _enc_tests(query)
    for value in query.params.get("code", []):
        wanted = value.rpartition("|")[2].strip().casefold()
        tests.append(_substance(wanted))

    def fetch(cur: str | None, limit: int) -> tuple[list[Any], str | None]:
        page = records.find_allergies(ctx.session, ctx.principal, patient_id=pid, now=ctx.now, limit=limit,
                                      cursor=cur, category=oks["category"][1],
                                      clinical_status=oks["clinical-status"][1],
                                      criticality=oks["criticality"][1], type_=oks["type"][1], since=when.since,
                                      before=when.before)
        return list(page.items), page.next_cursor

    def keep(row: Any) -> bool:
        if when.holes and not when.keep(row.recorded_at):
            return False
        s = allergy(row)
        return all(t(s) for t in tests)

    return collect(fetch, keep, allergy, count, cursor, filtered=bool(tests) or bool(when.holes))


def create_allergy(ctx: Context, body: dict[str, Any], resource_id: uuid.UUID | None,
                   if_match: str | None) -> Stored:
    check("AllergyIntolerance", body)
    pid = subject_id(body, "patient", "AllergyIntolerance")
    substance = text_of(body.get("code")) or text_of(((body.get("reaction") or [{}])[0]).get("substance"))
    if not substance:
        raise FhirError(422, "an allergy needs code (the substance)", code="required",
                        expression=["AllergyIntolerance.code"])
    categories = body.get("category") or []
    if not categories:
        raise FhirError(422, "an allergy needs a category (food, medication, environment, biologic)",
                        code="required", expression=["AllergyIntolerance.category"])
    reaction = (body.get("reaction") or [{}])[0]
    manifest = ", ".join(filter(None, (text_of(m) for m in reaction.get("manifestation") or [])))
    fields: dict[str, Any] = {"substance": substance[:200], "category": categories[0], "reaction": manifest[:500],
                              "onset_date": day(_full_day(body.get("onsetDateTime")), "AllergyIntolerance", "onset[x]"),
                              "note": _notes(body), "encounter_id": optional_id(body, "encounter", "Encounter")}
    for name in ("type", "criticality"):
        if body.get(name):
            fields[name] = body[name]
    if (status := _code(body, "clinicalStatus")) is not None:
        fields["clinical_status"] = status
    if reaction.get("severity"):
        fields["severity"] = reaction["severity"]
    data = validated(AllergyCreate, fields, "AllergyIntolerance",
                      {"substance": "code", "clinical_status": "clinicalStatus", "onset_date": "onset[x]",
                       "severity": "reaction.severity", "reaction": "reaction.manifestation"})
    return allergy(add_keeping(lambda d: records.add_allergy(ctx.session, ctx.principal, patient_id=pid, data=d,
                                                             now=ctx.now), data))


def update_allergy(ctx: Context, body: dict[str, Any], resource_id: uuid.UUID | None,
                   if_match: str | None) -> Stored:
    """Criticality, clinical status, reaction and note change; the substance and the patient cannot."""
    rid, now = current_for_update(ctx, body, resource_id, if_match, read_allergy, "AllergyIntolerance")
    if (body.get("patient") or {}).get("reference") != now.body["patient"]["reference"]:
        raise FhirError(422, "the patient of an allergy cannot change", code="value",
                        expression=["AllergyIntolerance.patient"])
    reaction = (body.get("reaction") or [{}])[0]
    fields: dict[str, Any] = {"reaction": ", ".join(filter(None, (text_of(m) for m in reaction.get("manifestation")
                                                                  or [])))[:500], "note": _notes(body)}
    if body.get("criticality"):
        fields["criticality"] = body["criticality"]
    if (status := _code(body, "clinicalStatus")) is not None:
        fields["clinical_status"] = status
    if reaction.get("severity"):
        fields["severity"] = reaction["severity"]
    data = validated(records.AllergyUpdate, fields, "AllergyIntolerance",
                     {"clinical_status": "clinicalStatus", "severity": "reaction.severity"})
    pid = uuid.UUID(now.body["patient"]["reference"].rpartition("/")[2])
    return allergy(records.update_allergy(ctx.session, ctx.principal, patient_id=pid, allergy_id=rid, data=data,
                                          now=ctx.now))


ALLERGY = Mapper(
    type="AllergyIntolerance", documentation="Allergies and intolerances, per patient.",
    search_params=(SearchParam("_id", "token", "The allergy's id."),
                   SearchParam("patient", "reference", "Patient/<id>: required."),
                   SearchParam("clinical-status", "token", "active | inactive | resolved."),
                   SearchParam("category", "token", "food | medication | environment | biologic."),
                   SearchParam("criticality", "token", "low | high | unable-to-assess."),
                   SearchParam("type", "token", "allergy | intolerance."),
                   SearchParam("code", "token", "The substance, exactly (case-insensitive)."),
                   SearchParam("date", "date", "When it was recorded; eq, ne, gt, lt, ge, le, sa, eb."),
                   SearchParam("encounter", "reference", "Encounter/<id>.")),
    search=search_allergies, read=read_allergy, create=create_allergy, update=update_allergy,
    patient_param="patient",
    references=(ReferenceParam("patient", ("Patient",), "patient"),
                ReferenceParam("encounter", ("Encounter",), "encounter")),
    not_kept=("text", "identifier", "verificationStatus", "code.coding (the substance is kept as text)",
              "category beyond the first", "onset other than a date", "recorder", "asserter", "lastOccurrence",
              "reaction beyond the first; its substance, description, onset, exposureRoute, note",
              "encounter, when that encounter is finished"))


# --- Immunization ---------------------------------------------------------------------------------------------


def immunization(i: ImmunizationRead) -> Stored:
    body = {"resourceType": "Immunization", "id": str(i.id), "status": i.status.value,
            "vaccineCode": concept(UIP, i.vaccine_code, i.display), "patient": ref("Patient", i.patient_id),
            "encounter": ref("Encounter", i.encounter_id), "occurrenceDateTime": i.occurrence_date.isoformat(),
            "lotNumber": i.lot_number or None, "site": {"text": i.site} if i.site else None,
            "protocolApplied": [{"doseNumberPositiveInt": i.dose_number}],
            "note": [{"text": i.note}] if i.note else None}
    return stored(prune(body), i.updated_at, datetime.combine(i.occurrence_date, time(12), tzinfo=UTC))


def read_immunization(ctx: Context, rid: uuid.UUID) -> Stored:
    return immunization(cast(ImmunizationRead, records.get_entry(
        ctx.session, ctx.principal, kind=RecordKind.immunization, record_id=rid, now=ctx.now)))


def search_immunizations(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    if (found := by_id(ctx, query, read_immunization)) is not None:
        return found
    pid = patient_id(query, "patient")
    code_ok, code = one_code(query, "vaccine-code", UIP, str.upper)
    status_ok, status = one_code(query, "status", None)
    when = window(query, "date")
    if pid is None or not (code_ok and status_ok) or when.empty:
        return NONE
    since, before = when.days()
    tests = _enc_tests(query)
    if when.holes:
        keep_day = day_test(when)
        tests.append(lambda s: keep_day(day(s.body.get("occurrenceDateTime"), "Immunization", "occurrence")))

    def fetch(cur: str | None, limit: int) -> tuple[list[Any], str | None]:
        page = records.find_immunizations(ctx.session, ctx.principal, patient_id=pid, now=ctx.now, limit=limit,
                                          cursor=cur, vaccine_code=code, status=status, since=since, before=before)
        return list(page.items), page.next_cursor

    return collect(fetch, lambda r: all(t(immunization(r)) for t in tests), immunization, count, cursor,
                   filtered=bool(tests))


def create_immunization(ctx: Context, body: dict[str, Any], resource_id: uuid.UUID | None,
                        if_match: str | None) -> Stored:
    check("Immunization", body)
    pid = subject_id(body, "patient", "Immunization")
    codings = (body.get("vaccineCode") or {}).get("coding") or []
    uip = next((c for c in codings if c.get("system") == UIP and c.get("code")), None)
    if uip is None or records.lookup(records.CodeSystem.vaccines, str(uip["code"]).upper()) is None:
        raise unknown_code("Immunization", "vaccineCode", "only vaccines of the national schedule (" + UIP
                           + ") are kept")
    when = day(body.get("occurrenceDateTime"), "Immunization", "occurrence[x]")
    if when is None:
        raise FhirError(422, "an immunization needs occurrenceDateTime", code="required",
                        expression=["Immunization.occurrence[x]"])
    fields: dict[str, Any] = {"vaccine_code": str(uip["code"]), "occurrence_date": when, "note": _notes(body),
                              "lot_number": str(body.get("lotNumber") or "")[:60],
                              "site": (text_of(body.get("site")) or "")[:60],
                              "encounter_id": optional_id(body, "encounter", "Encounter")}
    if body.get("status"):
        fields["status"] = body["status"]
    data = validated(ImmunizationCreate, fields, "Immunization",
                      {"occurrence_date": "occurrence[x]", "lot_number": "lotNumber"})
    return immunization(add_keeping(lambda d: records.add_immunization(ctx.session, ctx.principal, patient_id=pid,
                                                                       data=d, now=ctx.now), data))


IMMUNIZATION = Mapper(
    type="Immunization", documentation="Vaccines given (national immunisation schedule codes), per patient.",
    search_params=(SearchParam("_id", "token", "The immunization's id."),
                   SearchParam("patient", "reference", "Patient/<id>: required."),
                   SearchParam("vaccine-code", "token", f"[{UIP}|]<code>."),
                   SearchParam("status", "token", "completed | not-done | entered-in-error."),
                   SearchParam("date", "date", "Occurrence date; eq, ne, gt, lt, ge, le, sa, eb."),
                   SearchParam("encounter", "reference", "Encounter/<id>.")),
    search=search_immunizations, read=read_immunization, create=create_immunization, patient_param="patient",
    references=(ReferenceParam("patient", ("Patient",), "patient"),
                ReferenceParam("encounter", ("Encounter",), "encounter")),
    sort_params=(SortParam("date", lambda b: b.get("occurrenceDateTime")),),
    not_kept=("text", "identifier", "statusReason", "vaccine codings other than the national schedule's (CVX "
              "resources are kept as JSON by the importer)", "occurrenceString", "recorded", "primarySource",
              "reportOrigin", "location", "manufacturer", "expirationDate", "route", "doseQuantity", "performer",
              "reasonCode", "isSubpotent", "education", "programEligibility", "fundingSource", "reaction",
              "protocolApplied (the dose number is derived from the code)",
              "encounter, when that encounter is finished"))
