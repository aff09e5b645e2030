"""Consent <-> the consent context's directives: a patient's grants (permit) and restrictions (deny).

A directive is one R4 Consent with one provision (R4 §6.2 Consent, http://hl7.org/fhir/R4/consent.html):
scope `patient-privacy`, category LOINC 59284-0 "Patient Consent" (the category the R4 examples and the
spec's own privacy consent use), the patient as performer, `policyRule` v3-ActCode OPTIN (grant) or OPTOUT
(restriction), and `provision` with `type` permit | deny, the grantee as the one `actor` (role PRCP,
"primary information recipient"), the purposes as v3 ActReason codes (`PURPOSE_V3_CODES`, none = any
purpose), the data categories as `class` codes of `urn:carebridge:data-category` (none = every category,
as R4 reads an absent class), `action` access, and `period` [created, expiry]. A revoked or lapsed directive is
`inactive`. Break-glass openings are not consent (the service says so) and are not served as Consent.

Create takes a resource that says exactly what a directive says, and the consent service decides (only the
patient, or a caregiver they allowed, makes one; audited). Whatever else R4 lets a Consent say (nested
provisions, a deferred start, an expiry already past, data, code or security-label conditions, a scope other
than privacy, grantees that are not an organization, a practitioner or a linked caregiver) the record cannot
enforce: 422 `code-invalid`, which the importer takes as "keep it as JSON" (served by `kept_json`, with no
effect on access). Update only revokes: status active -> inactive, the provision unchanged.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from carebridge.contexts.audit import PURPOSE_V3_CODES
from carebridge.contexts.consent import service as consents
from carebridge.contexts.consent.schemas import ConsentCategory, ConsentCreate, ConsentEffect, ConsentRead, GranteeType
from carebridge.fhir.mappers.common import (
    NONE,
    by_id,
    current_for_update,
    iso,
    one_code,
    patient_id,
    prune,
    stored,
    subject_id,
)
from carebridge.fhir.outcome import FhirError
from carebridge.fhir.registry import Context, Found, Mapper, Query, ReferenceParam, SearchParam, Stored
from carebridge.fhir.search import collect, instant_param
from carebridge.fhir.validate import check
from carebridge.kernel.errors import ValidationProblem
from carebridge.security import ConsentKind

TYPE = "Consent"
SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
STATUS = "http://hl7.org/fhir/consent-state-codes"
LOINC = "http://loinc.org"
PATIENT_CONSENT = "59284-0"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
ACTION = "http://terminology.hl7.org/CodeSystem/consentaction"
CATEGORY_SYSTEM = "urn:carebridge:data-category"
CAREGIVER_SYSTEM = "urn:carebridge:caregiver"
USER_SYSTEM = "urn:carebridge:user"
RECIPIENT_ROLES = frozenset({"PRCP", "IRCP"})
V3_PURPOSE = {code: purpose for purpose, code in PURPOSE_V3_CODES.items()}
# elements that change what a Consent means and that a directive has no place for
NOT_EXPRESSIBLE = ("policy",)
PROVISION_NOT_EXPRESSIBLE = ("provision", "data", "dataPeriod", "securityLabel", "code")
# service field -> the element a client sent it in
ELEMENTS = {"grantee_id": "provision.actor[0].reference", "expires_at": "provision.period.end",
            "categories": "provision.class", "purposes": "provision.purpose", "note": "text"}


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    out = {"system": system, "code": code}
    return {**out, "display": display} if display else out


def _actor(c: ConsentRead) -> dict[str, Any]:
    if c.grantee_type is GranteeType.organization:
        ref: dict[str, Any] = {"reference": f"Organization/{c.grantee_id}"}
    elif c.grantee_type is GranteeType.practitioner and c.grantee_practitioner_id is not None:
        ref = {"reference": f"Practitioner/{c.grantee_practitioner_id}"}
    else:  # a caregiver, or a staff account without a practitioner record: no FHIR resource names them
        system = CAREGIVER_SYSTEM if c.grantee_type is GranteeType.caregiver else USER_SYSTEM
        ref = {"identifier": {"system": system, "value": str(c.grantee_id)}}
    if c.grantee_name:
        ref["display"] = c.grantee_name
    return {"role": {"coding": [_coding(PARTICIPATION, "PRCP", "primary information recipient")]}, "reference": ref}


def to_fhir(c: ConsentRead) -> Stored:
    grant = c.kind is ConsentKind.grant
    period = {"start": iso(c.created_at), "end": iso(c.expires_at) if c.expires_at else None}
    provision = prune({
        "type": "permit" if grant else "deny", "period": prune(period), "actor": [_actor(c)],
        "action": [{"coding": [_coding(ACTION, "access")]}],
        "purpose": [_coding(ACT_REASON, PURPOSE_V3_CODES[p]) for p in c.purposes],
        "class": [] if ConsentCategory.all in c.categories else [_coding(CATEGORY_SYSTEM, x.value)
                                                                  for x in c.categories]})
    body: dict[str, Any] = {
        "resourceType": TYPE, "id": str(c.id), "status": "active" if c.active else "inactive",
        "scope": {"coding": [_coding(SCOPE, "patient-privacy")]},
        "category": [{"coding": [_coding(LOINC, PATIENT_CONSENT, "Patient Consent")]}],
        "patient": {"reference": f"Patient/{c.patient_id}"}, "dateTime": iso(c.created_at),
        "performer": [{"reference": f"Patient/{c.patient_id}"}],
        "policyRule": {"coding": [_coding(ACT_CODE, "OPTIN" if grant else "OPTOUT")]},
        "provision": provision,
    }
    if c.note:
        body["extension"] = [{"url": "urn:carebridge:consent-note", "valueString": c.note}]
    return stored(prune(body), c.revoked_at or c.created_at, c.created_at)


def read(ctx: Context, rid: uuid.UUID) -> Stored:
    return to_fhir(consents.get_consent(ctx.session, ctx.principal, consent_id=rid, now=ctx.now))


# --- search -----------------------------------------------------------------------------------------------


def _date_test(name: str, values: list[str], value: Callable[[Stored], str | None]) -> Callable[[Stored], bool]:
    tests = [instant_param(name, v) for v in values]

    def test(s: Stored) -> bool:
        text = value(s)
        at = datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
        return at is not None and all(t.matches(at) for t in tests)
    return test


def _actor_refs(s: Stored) -> list[str]:
    return [str(a["reference"].get("reference", "")) for a in s.body["provision"].get("actor", [])]


def _actor_test(values: list[str]) -> Callable[[Stored], bool]:
    def test(s: Stored) -> bool:
        refs = _actor_refs(s)
        return all(any(r == v or (r.endswith(f"/{v}") if "/" not in v else r.endswith(v)) for r in refs)
                   for v in values)
    return test


def _purpose_test(query: Query) -> Callable[[Stored], bool] | None:
    ok, code = one_code(query, "purpose", ACT_REASON)
    if not ok:
        return None
    return lambda s: code is None or any(p["code"] == code for p in s.body["provision"].get("purpose", []))


def search(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    if (found := by_id(ctx, query, read)) is not None:
        return found
    pid = patient_id(query, "patient")
    status_ok, status = one_code(query, "status", STATUS)
    if pid is None or not status_ok or status not in (None, "active", "inactive"):
        return NONE
    purpose = _purpose_test(query)
    if purpose is None:
        return NONE
    tests: list[Callable[[Stored], bool]] = []
    if "purpose" in query.params:
        tests.append(purpose)
    if query.params.get("date"):
        tests.append(_date_test("date", query.params["date"], lambda s: s.body.get("dateTime")))
    if query.params.get("period"):
        tests.append(_date_test("period", query.params["period"],
                                lambda s: (s.body["provision"].get("period") or {}).get("start")))
    if query.params.get("actor"):
        tests.append(_actor_test(query.params["actor"]))

    def fetch(cur: str | None, limit: int) -> tuple[list[Any], str | None]:
        page = consents.find_consents(ctx.session, ctx.principal, patient_id=pid,
                                      active=None if status is None else status == "active", limit=limit,
                                      cursor=cur, now=ctx.now)
        return list(page.items), page.next_cursor

    return collect(fetch, lambda c: all(t(to_fhir(c)) for t in tests), to_fhir, count, cursor,
                   filtered=bool(tests))


# --- create: only what a directive says exactly --------------------------------------------------------------


def _cannot(element: str, what: str) -> FhirError:
    return FhirError(422, f"{what}; the record cannot enforce this consent (the importer keeps it as JSON)",
                     code="code-invalid", expression=[f"{TYPE}.{element}"])


def _codes(value: Any) -> list[tuple[str, str]]:
    """(system, code) of a CodeableConcept, a Coding, or a list of either."""
    items = value if isinstance(value, list) else [value] if value else []
    out: list[tuple[str, str]] = []
    for item in items:
        codings = item.get("coding") if isinstance(item, dict) and "coding" in item else [item]
        out.extend((str(c.get("system") or ""), str(c.get("code") or "")) for c in codings or []
                   if isinstance(c, dict))
    return out


def _only(value: Any, allowed: set[tuple[str, str]], element: str, what: str) -> None:
    codes = _codes(value)
    if not codes or any(c not in allowed for c in codes):
        raise _cannot(element, what)


def _grantee(actor: Any) -> tuple[GranteeType, uuid.UUID]:
    roles = [code for system, code in _codes((actor or {}).get("role")) if system == PARTICIPATION]
    if not roles or any(r not in RECIPIENT_ROLES for r in roles):
        raise _cannot("provision.actor.role", "the grantee is the information recipient (PRCP or IRCP)")
    reference = (actor or {}).get("reference") or {}
    kind, _, rid = str(reference.get("reference") or "").rpartition("/")
    ident = reference.get("identifier") or {}
    if not kind and ident.get("system") == CAREGIVER_SYSTEM:
        kind, rid = "caregiver", str(ident.get("value") or "")
    grantee = {"Organization": GranteeType.organization, "Practitioner": GranteeType.practitioner,
               "caregiver": GranteeType.caregiver}.get(kind.rsplit("/", 1)[-1])
    if grantee is None:
        raise _cannot("provision.actor.reference", "a grantee is an Organization, a Practitioner or a linked "
                      f"caregiver ({CAREGIVER_SYSTEM} identifier)")
    try:
        return grantee, uuid.UUID(rid)
    except ValueError as exc:
        raise _cannot("provision.actor[0].reference", "the grantee is not one stored here") from exc


def _instant(value: Any, element: str) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise FhirError(422, "not a date-time", code="value", expression=[f"{TYPE}.{element}"]) from exc
    if at.tzinfo is None or len(str(value)) <= 10:
        raise _cannot(element, "a directive starts and ends at an instant with a time zone, not a day")
    return at


def directive(body: dict[str, Any], now: datetime) -> tuple[uuid.UUID, ConsentCreate]:
    """The patient and the directive a Consent says; 422 `code-invalid` when it says more than a directive can."""
    pid = subject_id(body, "patient", TYPE)
    if body.get("status") != "active":
        raise _cannot("status", "only an active consent takes effect here")
    _only(body.get("scope"), {(SCOPE, "patient-privacy")}, "scope", "the record holds privacy consents only")
    _only(body.get("category"), {(LOINC, PATIENT_CONSENT)}, "category",
          f"the record holds patient consents (LOINC {PATIENT_CONSENT}) only")
    for element in NOT_EXPRESSIBLE:
        if body.get(element):
            raise _cannot(element, f"{element} is not something the record can hold")
    performers = [str((p or {}).get("reference") or "") for p in body.get("performer") or []]
    if any(p.rsplit("/", 2)[-2:] != ["Patient", str(pid)] for p in performers):
        raise _cannot("performer", "a directive here is the patient's own")
    provision = body.get("provision") or {}
    for element in PROVISION_NOT_EXPRESSIBLE:
        if provision.get(element):
            raise _cannot(f"provision.{element}", f"provision.{element} is not something the record can hold")
    kind = provision.get("type")
    if kind not in ("permit", "deny"):
        raise _cannot("provision.type", "a directive permits or denies (provision.type)")
    rules = [c for s, c in _codes(body.get("policyRule")) if s == ACT_CODE]
    if _codes(body.get("policyRule")) and (rules not in (["OPTIN"], ["OPTOUT"]) or
                                           (rules == ["OPTOUT"] and kind == "permit")):
        raise _cannot("policyRule", "the base rule is OPTIN, or OPTOUT with a deny provision")
    if provision.get("action"):
        _only(provision["action"], {(ACTION, "access")}, "provision.action", "a directive governs access only")
    actors = provision.get("actor") or []
    if len(actors) != 1:
        raise _cannot("provision.actor", "a directive names exactly one grantee")
    grantee_type, grantee_id = _grantee(actors[0])
    purposes = []
    for system, code in _codes(provision.get("purpose")):
        if system != ACT_REASON or code not in V3_PURPOSE:
            raise _cannot("provision.purpose", f"purposes are v3 ActReason codes: {', '.join(sorted(V3_PURPOSE))}")
        purposes.append(V3_PURPOSE[code])
    categories: list[ConsentCategory] = []
    for system, code in _codes(provision.get("class")):
        if system != CATEGORY_SYSTEM or code not in ConsentCategory.__members__ or code == "all":
            raise _cannot("provision.class", f"classes are {CATEGORY_SYSTEM} codes (the record's data categories)")
        categories.append(ConsentCategory(code))
    period = provision.get("period") or {}
    start = _instant(period.get("start"), "provision.period.start")
    end = _instant(period.get("end"), "provision.period.end")
    if start is not None and start > now:
        raise _cannot("provision.period.start", "a directive takes effect when it is made")
    if end is not None and end <= now:
        raise _cannot("provision.period.end", "this consent has already lapsed")
    try:
        data = ConsentCreate(grantee_type=grantee_type, grantee_id=grantee_id,
                             effect=ConsentEffect.allow if kind == "permit" else ConsentEffect.deny,
                             categories=categories or [ConsentCategory.all], purposes=purposes,
                             expires_at=end)
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0]) if exc.errors()[0].get("loc") else ""
        raise FhirError(422, str(exc.errors()[0].get("msg", "invalid")), code="value",
                        expression=[f"{TYPE}.{ELEMENTS.get(field, 'provision')}"]) from exc
    return pid, data


def _service_error(exc: ValidationProblem) -> FhirError:
    """A grantee not stored here is one the record cannot enforce anything for (an import from elsewhere names
    its own organizations): code-invalid, so the importer keeps the resource; other refusals are plain 422s."""
    fields = [str(e.get("field")) for e in exc.errors if e.get("field")]
    if fields == ["grantee_id"]:
        return _cannot("provision.actor[0].reference", exc.detail.removeprefix("grantee_id: "))
    return FhirError(422, exc.detail, code="value",
                     expression=[f"{TYPE}.{ELEMENTS.get(f, f)}" for f in fields] or [f"{TYPE}.provision"])


def create(ctx: Context, body: dict[str, Any], rid: uuid.UUID | None, if_match: str | None) -> Stored:
    check(TYPE, body)
    pid, data = directive(body, ctx.now)
    try:
        made = consents.grant_consent(ctx.session, ctx.principal, patient_id=pid, body=data, now=ctx.now)
    except ValidationProblem as exc:
        raise _service_error(exc) from exc
    return to_fhir(made)


def _essence(body: dict[str, Any]) -> tuple[Any, ...]:
    """What a directive is, for telling a revocation from a change (which a directive does not allow)."""
    p = body.get("provision") or {}
    return (str((body.get("patient") or {}).get("reference")), p.get("type"),
            sorted(_codes(p.get("purpose"))), sorted(_codes(p.get("class"))),
            [(a.get("reference") or {}).get("reference") or (a.get("reference") or {}).get("identifier")
             for a in p.get("actor") or []], (p.get("period") or {}).get("end"))


def update(ctx: Context, body: dict[str, Any], rid: uuid.UUID | None, if_match: str | None) -> Stored:
    """Revocation: the same directive sent back with status inactive (a directive never changes otherwise)."""
    rid, current = current_for_update(ctx, body, rid, if_match, read, TYPE)
    if _essence(body) != _essence(current.body):
        raise FhirError(422, "a directive does not change: revoke it (status inactive) and make another",
                        code="business-rule", expression=[f"{TYPE}.provision"])
    status = body.get("status")
    if status == current.body["status"]:
        return current
    if status != "inactive":
        raise FhirError(422, "a revoked or lapsed directive stays inactive; make another", code="business-rule",
                        expression=[f"{TYPE}.status"])
    pid = uuid.UUID(current.body["patient"]["reference"].rpartition("/")[2])
    return to_fhir(consents.revoke_consent(ctx.session, ctx.principal, patient_id=pid, consent_id=rid,
                                           now=ctx.now))


MAPPER = Mapper(
    type=TYPE, documentation="A patient's consent directives: grants (permit) and restrictions (deny) of access "
    "to parts of their record, made and revoked by the patient.",
    search_params=(SearchParam("_id", "token", "The directive's id."),
                   SearchParam("patient", "reference", "Patient/<id>: required."),
                   SearchParam("status", "token", "active | inactive (revoked or lapsed)."),
                   SearchParam("date", "date", "When the directive was made (dateTime)."),
                   SearchParam("period", "date", "The start of provision.period (when it took effect)."),
                   SearchParam("actor", "reference", "The grantee: Organization/<id> or Practitioner/<id>."),
                   SearchParam("purpose", "token", f"[{ACT_REASON}|]<code>: a purpose the directive covers.")),
    search=search, read=read, create=create, update=update, patient_param="patient",
    references=(ReferenceParam("patient", ("Patient",), "patient"),
                ReferenceParam("actor", ("Organization", "Practitioner"), "provision.actor.reference")),
    not_kept=("nested provisions", "data, code, securityLabel and dataPeriod conditions", "policy",
              "a deferred start or a lapsed period", "grantees other than an organization, a practitioner or a "
              "linked caregiver"))
