"""Patient <-> the patients context. Reads, searches and writes go through the context's service, so the
access policy decides and the audit trail records exactly as for the REST API.

Kept: identifier (with a system), active, name (official: family + given; usual: the preferred name),
telecom (first phone, first email), gender, birthDate, deceased[x], address (first; geolocation
extension), communication.language, contact (name + phone, optional email and relationship text),
link (replaced-by, after a merge). Everything else is not kept (see docs/fhir.md).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from pydantic import ValidationError

from carebridge.contexts import patients
from carebridge.contexts.patients import PatientCreate, PatientQuery, PatientRead, PatientUpdate
from carebridge.fhir.outcome import FhirError, issue
from carebridge.fhir.registry import Context, Found, Mapper, Query, SearchParam, Stored
from carebridge.fhir.search import collect, count_all, date_param, only_id, starts, uuid_param
from carebridge.fhir.validate import check
from carebridge.kernel import text
from carebridge.kernel.errors import Forbidden, NotFound

TYPE = "Patient"
GEO_URL = "http://hl7.org/fhir/StructureDefinition/geolocation"
BCP47 = "urn:ietf:bcp:47"

PARAMS = (
    SearchParam("_id", "token", "The patient's id."),
    SearchParam("identifier", "token", "system|value or value (e.g. an ABHA number or an MRN)."),
    SearchParam("name", "string", "Prefix of any word of the name."),
    SearchParam("family", "string", "Prefix of the family name."),
    SearchParam("given", "string", "Prefix of a given name."),
    SearchParam("birthdate", "date", "Birth date; eq, ne, gt, lt, ge, le prefixes; YYYY, YYYY-MM or YYYY-MM-DD."),
    SearchParam("gender", "token", "male | female | other | unknown."),
    SearchParam("phone", "token", "Phone number (at least 6 digits)."),
    SearchParam("email", "token", "Email address, exact (case-insensitive)."),
    SearchParam("address-city", "string", "Prefix of the city."),
)

NOT_KEPT = ("text", "extension (other than address geolocation)", "name beyond the first official and usual",
            "name.prefix/suffix/period", "telecom beyond the first phone and email", "telecom.use/rank",
            "address beyond the first", "address.use/type/text/period", "maritalStatus", "multipleBirth[x]",
            "photo", "contact without a phone", "contact.address/gender/organization",
            "communication.preferred", "generalPractitioner", "managingOrganization", "identifier.use/type/period")

# PatientCreate/PatientUpdate field -> the FHIR element it came from, for 422 issue expressions
_ELEMENT = {"given_name": "Patient.name.given", "family_name": "Patient.name.family",
            "preferred_name": "Patient.name", "birth_date": "Patient.birthDate", "sex": "Patient.gender",
            "phone": "Patient.telecom", "email": "Patient.telecom", "address": "Patient.address",
            "identifiers": "Patient.identifier", "emergency_contacts": "Patient.contact",
            "preferred_languages": "Patient.communication", "deceased": "Patient.deceased[x]",
            "deceased_at": "Patient.deceasedDateTime"}


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_fhir(p: PatientRead) -> Stored:
    body: dict[str, Any] = {"resourceType": TYPE, "id": str(p.id),
                            "meta": {"versionId": str(p.version), "lastUpdated": _iso(p.updated_at)}}
    if p.identifiers:
        body["identifier"] = [{"system": i.system, "value": i.value} for i in p.identifiers]
    body["active"] = p.active
    official: dict[str, Any] = {"use": "official", "given": p.given_name.split()}
    if p.family_name:
        official["family"] = p.family_name
    body["name"] = [official]
    if p.preferred_name:
        body["name"].append({"use": "usual", "given": p.preferred_name.split()})
    telecom = []
    if p.phone:
        telecom.append({"system": "phone", "value": p.phone})
    if p.email:
        telecom.append({"system": "email", "value": p.email})
    if telecom:
        body["telecom"] = telecom
    body["gender"] = p.sex.value
    if p.birth_date:
        body["birthDate"] = p.birth_date.isoformat()
    if p.deceased_at:
        body["deceasedDateTime"] = _iso(p.deceased_at)
    elif p.deceased:
        body["deceasedBoolean"] = True
    if p.address:
        a = p.address
        addr: dict[str, Any] = {k: v for k, v in (("city", a.city), ("district", a.district), ("state", a.state),
                                                  ("postalCode", a.postal_code), ("country", a.country)) if v}
        if a.line:
            addr["line"] = [a.line]
        if a.geo:
            addr["extension"] = [{"url": GEO_URL, "extension": [
                {"url": "latitude", "valueDecimal": a.geo.lat}, {"url": "longitude", "valueDecimal": a.geo.lng}]}]
        body["address"] = [addr]
    if p.emergency_contacts:
        body["contact"] = []
        for c in p.emergency_contacts:
            contact: dict[str, Any] = {"name": {"text": c.name}, "telecom": [{"system": "phone", "value": c.phone}]}
            if c.email:
                contact["telecom"].append({"system": "email", "value": c.email})
            if c.relationship:
                contact["relationship"] = [{"text": c.relationship}]
            body["contact"].append(contact)
    if p.preferred_languages:
        body["communication"] = [{"language": {"coding": [{"system": BCP47, "code": lang}]}}
                                 for lang in p.preferred_languages]
    if p.merged_into_id:
        body["link"] = [{"other": {"reference": f"Patient/{p.merged_into_id}"}, "type": "replaced-by"}]
    return Stored(body=body, version=str(p.version), last_updated=p.updated_at)


def _first(items: list[dict[str, Any]], key: str, value: str) -> dict[str, Any] | None:
    return next((i for i in items if i.get(key) == value), None)


def _geo(address: dict[str, Any]) -> dict[str, float] | None:
    for ext in address.get("extension", []):
        if ext.get("url") == GEO_URL:
            parts = {e.get("url"): e.get("valueDecimal") for e in ext.get("extension", [])}
            if parts.get("latitude") is not None and parts.get("longitude") is not None:
                return {"lat": float(parts["latitude"]), "lng": float(parts["longitude"])}
    return None


def _dialable(value: Any) -> bool:
    """A number the record can keep; another (`(03) 5555 6473`) stays in the received body only."""
    try:
        text.phone(str(value))
    except ValueError:
        return False
    return True


def _country(value: Any) -> str | None:
    """The record keeps ISO 3166 alpha-2 codes; another form (`USA`, `NLD`) stays in the received body only."""
    return value if isinstance(value, str) and len(value) == 2 and value.isascii() and value.isupper() else None


def from_fhir(body: dict[str, Any]) -> dict[str, Any]:
    """The patients context's fields from a validated Patient; unmapped elements are dropped (NOT_KEPT)."""
    names = body.get("name") or []
    official = _first(names, "use", "official") or next((n for n in names if n.get("use") != "usual"), None)
    if official is None or not (official.get("given") or official.get("text")):
        raise FhirError(422, "a patient needs a name with at least one given name", code="required",
                        expression=["Patient.name"])
    given = " ".join(official.get("given") or []) or str(official.get("text"))
    usual = _first(names, "use", "usual")
    telecom = body.get("telecom") or []
    phone = next((t for t in telecom if t.get("system") == "phone" and _dialable(t.get("value"))), None)
    email = _first(telecom, "system", "email")
    data: dict[str, Any] = {
        "given_name": given, "family_name": official.get("family") or "",
        "preferred_name": " ".join(usual.get("given") or []) or usual.get("text") if usual else None,
        "birth_date": body.get("birthDate"), "sex": body.get("gender") or "unknown",
        "phone": phone.get("value") if phone else None, "email": email.get("value") if email else None,
        "deceased": bool(body.get("deceasedBoolean")) or "deceasedDateTime" in body,
        "deceased_at": body.get("deceasedDateTime"),
        "preferred_languages": [c["language"]["coding"][0]["code"] for c in body.get("communication") or []
                                if c.get("language", {}).get("coding")],
    }
    if len(str(data["birth_date"] or "")) not in (0, 10):
        raise FhirError(422, "only a full birth date (YYYY-MM-DD) can be kept", code="value",
                        expression=["Patient.birthDate"])
    if body.get("address"):
        a = body["address"][0]
        data["address"] = {"line": ", ".join(a.get("line") or []) or None, "city": a.get("city"),
                           "district": a.get("district"), "state": a.get("state"),
                           "postal_code": a.get("postalCode"), "country": _country(a.get("country")),
                           "geo": _geo(a)}
    # the same identifier twice (Patient-f201 lists one per use) is one identifier in the record
    data["identifiers"] = list({(i["system"], i["value"]): {"system": i["system"], "value": i["value"]}
                                for i in body.get("identifier") or [] if i.get("system") and i.get("value")}.values())
    contacts = []
    for c in body.get("contact") or []:
        ct = c.get("telecom") or []
        cphone = next((t for t in ct if t.get("system") == "phone" and _dialable(t.get("value"))), None)
        cemail = _first(ct, "system", "email")
        name = (c.get("name") or {}).get("text") or " ".join(
            [*(c.get("name") or {}).get("given", []), (c.get("name") or {}).get("family", "")]).strip()
        if cphone and name:
            rel = (c.get("relationship") or [{}])[0]
            contacts.append({"name": name, "phone": cphone.get("value"),
                             "email": cemail.get("value") if cemail else None,
                             "relationship": rel.get("text") or next(
                                 (cd.get("display") or cd.get("code") for cd in rel.get("coding", [])), None)})
    data["emergency_contacts"] = contacts
    return data


def _invalid(exc: ValidationError) -> FhirError:
    issues = [issue(str(e.get("msg", "invalid")), code="value",
                    expression=[_ELEMENT.get(str(e["loc"][0]), TYPE) if e.get("loc") else TYPE])
              for e in exc.errors()[:20]]
    return FhirError(422, issues[0]["diagnostics"], issues=issues)


def read(ctx: Context, resource_id: uuid.UUID) -> Stored:
    return to_fhir(patients.get_patient(ctx.session, ctx.principal, patient_id=resource_id, now=ctx.now,
                                        purpose=ctx.purpose))


def create(ctx: Context, body: dict[str, Any], resource_id: uuid.UUID | None, if_match: str | None) -> Stored:
    check(TYPE, body)
    try:
        data = PatientCreate.model_validate(from_fhir(body))
    except ValidationError as exc:
        raise _invalid(exc) from exc
    return to_fhir(patients.create_patient(ctx.session, ctx.principal, data=data, now=ctx.now, purpose=ctx.purpose))


def update(ctx: Context, body: dict[str, Any], resource_id: uuid.UUID | None, if_match: str | None) -> Stored:
    """A FHIR update replaces the resource: every mapped field is sent, absent ones as empty.
    Identifiers and contacts have their own REST sub-resources and are not changed by an update yet."""
    check(TYPE, body)
    if resource_id is None or body.get("id") != str(resource_id):
        raise FhirError(400, "the resource's id must equal the id in the URL", code="invalid",
                        expression=["Patient.id"])
    fields = from_fhir(body)
    fields.pop("identifiers")
    fields.pop("emergency_contacts")
    version = (body.get("meta") or {}).get("versionId")
    if version is not None and str(version).isdigit():
        fields["version"] = int(version)
    try:
        data = PatientUpdate.model_validate(fields)
    except ValidationError as exc:
        raise _invalid(exc) from exc
    expected = int(if_match) if if_match is not None else None
    return to_fhir(patients.update_patient(ctx.session, ctx.principal, patient_id=resource_id, data=data,
                                           now=ctx.now, if_match=expected, purpose=ctx.purpose))


def _filters(query: Query) -> tuple[PatientQuery, list[Any]]:
    """The part the patients search answers, and the tests applied here to its pages."""
    words = [*query.params.get("name", []), *query.params.get("family", []), *query.params.get("given", [])]
    keep: list[Any] = []
    for v in query.params.get("family", []):
        keep.append(lambda p, v=v: starts(p.family_name, v))
    for v in query.params.get("given", []):
        keep.append(lambda p, v=v: starts(p.given_name, v) or starts(p.preferred_name, v))
    birth: date | None = None
    for v in query.params.get("birthdate", []):
        test = date_param("birthdate", v)
        if test.exact_day() is not None and birth is None:
            birth = test.exact_day()
        else:
            keep.append(lambda p, t=test: t.matches(p.birth_date))
    for v in query.params.get("gender", []):
        keep.append(lambda p, v=v: p.sex.value == v.strip().lower())
    for v in query.params.get("email", []):
        keep.append(lambda p, v=v: (p.email or "").casefold() == v.strip().casefold())
    for v in query.params.get("address-city", []):
        keep.append(lambda p, v=v: starts(p.address.city if p.address else None, v))
    identifiers = query.params.get("identifier", [])
    for v in identifiers[1:]:
        keep.append(lambda p, v=v: any(v.rpartition("|")[2] == i.value for i in p.identifiers))
    phones = query.params.get("phone", [])
    pq = PatientQuery(name=" ".join(words) or None, identifier=identifiers[0] if identifiers else None,
                      birth_date=birth, phone=phones[0] if phones else None)
    return pq, keep


def search(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    ids = only_id(query)
    if ids:
        wanted = {uuid_param("_id", v) for v in ids}
        one = next(iter(wanted)) if len(wanted) == 1 else None
        if one is None:
            return Found(items=[], next_cursor=None)
        try:
            found = patients.get_patient(ctx.session, ctx.principal, patient_id=one, now=ctx.now, purpose=ctx.purpose)
        except (NotFound, Forbidden):
            return Found(items=[], next_cursor=None)
        return Found(items=[to_fhir(found)][:count], next_cursor=None)
    pq, keep = _filters(query)
    return collect(_fetch(ctx, pq), lambda p: all(k(p) for k in keep), to_fhir, count, cursor,
                   filtered=bool(keep))


def total(ctx: Context, query: Query) -> int | None:
    if only_id(query):
        return len(search(ctx, query, 1, None).items)
    pq, keep = _filters(query)
    return count_all(_fetch(ctx, pq), lambda p: all(k(p) for k in keep))


def _fetch(ctx: Context, pq: PatientQuery) -> Any:
    def fetch(cursor: str | None, limit: int) -> tuple[list[PatientRead], str | None]:
        page = patients.search_patients(ctx.session, ctx.principal, query=pq, limit=limit, cursor=cursor,
                                        now=ctx.now, purpose=ctx.purpose)
        return page.items, page.next_cursor
    return fetch


MAPPER = Mapper(type=TYPE, documentation="Patients of the caller's organization (or the caller, or those they "
                "care for); access policy and audit as for /api/v1/patients.", search_params=PARAMS,
                search=search, read=read, create=create, update=update, total=total, not_kept=NOT_KEPT)
