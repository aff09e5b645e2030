"""A mapped type also serves the resources of that type kept whole as JSON, so an import loses none of them.

`import-fhir` keeps a resource the domain cannot hold (a SNOMED-coded Condition, a CVX-coded Immunization, a
MedicationRequest that no prescriber here signed: the mapper answers 422 `code-invalid` or has no create) in the
generic store under its own type. Without this module such a resource would be stored and never served, since
the mapper wins for its type. `serving_kept(mapper)` makes the mapped type the union of both:

* read: an id of a kept resource (one primary-key lookup) is read from the store, which applies the patients
  policy on its patient and audits, as for any type without a home; any other id is the domain's.
* search: the domain's matches first, then the kept ones (cursor `d.<domain cursor>`, then `k.<store cursor>`).
  The kept resources are narrowed in SQL by `_id`, `_lastUpdated` and the patient, and by the type's other
  parameters here on each page (`MATCH`: the R4 definition's element for each parameter); a parameter with no
  entry there (`near`, `value-quantity`) matches no kept resource. One indexed query first asks whether any
  kept resource could match at all (`_any_kept`), so a type with nothing kept costs no scan.
* a type whose mapper has no read (Slot, PractitionerRole) stays without one (the CapabilityStatement would
  otherwise claim a read the domain's resources do not have); its kept resources are found by search.
* update and delete of a kept resource go to the store; the domain's own interactions stay as they were (a
  mapper without update or delete still has none for its domain rows, and the CapabilityStatement says so).

A POST still goes to the domain only, so a client learns (422 `code-invalid`) that the record cannot hold the
resource; the importer then keeps it. AuditEvent is not wrapped: the audit trail is the server's own, and an
AuditEvent from elsewhere is not evidence of anything that happened here. Neither are Patient (a patient is
registered or refused, never kept aside) and Appointment (its patient is a participant, which the store does not
index, so a kept one could not be checked against the patients policy).
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Text, cast, not_, select

from carebridge.fhir.generic import GenericStore
from carebridge.fhir.models import FhirGenericResource
from carebridge.fhir.outcome import FhirError
from carebridge.fhir.registry import Context, Found, Mapper, Query, Stored
from carebridge.fhir.search import SCAN_BUDGET, instant_param
from carebridge.kernel.errors import NotFound
from carebridge.kernel.pagination import encode_cursor

KEPT_START = "k.start"
BATCH = 200
_PLAIN = re.compile(r"[A-Za-z0-9._:\-]{1,64}")  # a code JSON writes as itself, so LIKE finds it
_G = FhirGenericResource
STORE_PARAMS = frozenset({"_id", "_lastUpdated", "patient", "subject"})
# type -> search parameter -> (kind, element paths); `x*` is a choice element (`effective[x]`).
MATCH: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "Observation": {"code": ("token", ("code",)), "category": ("token", ("category",)),
                    "status": ("token", ("status",)), "date": ("date", ("effective*",)),
                    "encounter": ("reference", ("encounter",)), "device": ("reference", ("device",))},
    "Condition": {"code": ("token", ("code",)), "category": ("token", ("category",)),
                  "clinical-status": ("token", ("clinicalStatus",)),
                  "verification-status": ("token", ("verificationStatus",)), "onset-date": ("date", ("onset*",)),
                  "encounter": ("reference", ("encounter",))},
    "AllergyIntolerance": {"clinical-status": ("token", ("clinicalStatus",)), "category": ("token", ("category",)),
                           "criticality": ("token", ("criticality",)), "type": ("token", ("type",)),
                           "date": ("date", ("recordedDate",)), "code": ("token", ("code", "reaction.substance")),
                           "encounter": ("reference", ("encounter",))},
    "Immunization": {"vaccine-code": ("token", ("vaccineCode",)), "status": ("token", ("status",)),
                     "date": ("date", ("occurrence*",)), "encounter": ("reference", ("encounter",))},
    "Encounter": {"status": ("token", ("status",)), "class": ("token", ("class",)), "date": ("date", ("period",)),
                  "practitioner": ("reference", ("participant.individual",)),
                  "participant": ("reference", ("participant.individual",)),
                  "service-provider": ("reference", ("serviceProvider",))},
    "CarePlan": {"status": ("token", ("status",)), "intent": ("token", ("intent",)), "date": ("date", ("period",)),
                 "encounter": ("reference", ("encounter",))},
    "MedicationRequest": {"status": ("token", ("status",)), "intent": ("token", ("intent",)),
                          "code": ("token", ("medicationCodeableConcept",)), "authoredon": ("date", ("authoredOn",))},
    "MedicationDispense": {"status": ("token", ("status",)), "code": ("token", ("medicationCodeableConcept",)),
                           "prescription": ("reference", ("authorizingPrescription",)),
                           "whenhandedover": ("date", ("whenHandedOver",))},
    "Appointment": {"practitioner": ("reference", ("participant.actor",)),
                    "location": ("reference", ("participant.actor",)), "status": ("token", ("status",)),
                    "date": ("date", ("start",))},
    "Schedule": {"actor": ("reference", ("actor",)), "active": ("token", ("active",)),
                 "date": ("date", ("planningHorizon",)), "service-type": ("token", ("serviceType",))},
    "Slot": {"schedule": ("reference", ("schedule",)), "start": ("date", ("start",)), "status": ("token", ("status",)),
             "service-type": ("token", ("serviceType",))},
    "Device": {"type": ("token", ("type",)), "status": ("token", ("status",))},
    "Practitioner": {"name": ("string", ("name",)), "identifier": ("token", ("identifier",)),
                     "active": ("token", ("active",)), "family": ("string", ("name.family",)),
                     "given": ("string", ("name.given",)), "gender": ("token", ("gender",)),
                     "email": ("token", ("telecom",)), "phone": ("token", ("telecom",)),
                     "communication": ("token", ("communication",))},
    "Organization": {"name": ("string", ("name", "alias")), "active": ("token", ("active",)),
                     "type": ("token", ("type",)), "identifier": ("token", ("identifier",)),
                     "address-city": ("string", ("address.city",))},
    "PractitionerRole": {"practitioner": ("reference", ("practitioner",)),
                         "organization": ("reference", ("organization",)), "active": ("token", ("active",)),
                         "role": ("token", ("code",)), "specialty": ("token", ("specialty",))},
    "Location": {"name": ("string", ("name", "alias")), "address-city": ("string", ("address.city",)),
                 "status": ("token", ("status",)), "type": ("token", ("type",)),
                 "identifier": ("token", ("identifier",)), "organization": ("reference", ("managingOrganization",))},
    "HealthcareService": {"location": ("reference", ("location",)), "service-type": ("token", ("type",)),
                          "specialty": ("token", ("specialty",)), "active": ("token", ("active",)),
                          "organization": ("reference", ("providedBy",))},
    "DocumentReference": {"type": ("token", ("type",)), "status": ("token", ("status",)),
                          "date": ("date", ("date",))},
    "Provenance": {"target": ("reference", ("target",)), "recorded": ("date", ("recorded",)),
                   "agent": ("reference", ("agent.who",))},
    "Consent": {"status": ("token", ("status",)), "date": ("date", ("dateTime",)),
                "period": ("date", ("provision.period",)), "actor": ("reference", ("provision.actor.reference",)),
                "purpose": ("token", ("provision.purpose",))},
    # types served by the generic store alone, with their R4 parameters (fhir/mappers/questionnaire.py)
    "Questionnaire": {"url": ("uri", ("url",)), "name": ("string", ("name",)), "title": ("string", ("title",)),
                      "status": ("token", ("status",)), "version": ("token", ("version",)),
                      "date": ("date", ("date",)), "identifier": ("token", ("identifier",)),
                      "code": ("token", ("code", "item.code")), "publisher": ("string", ("publisher",))},
    "QuestionnaireResponse": {"questionnaire": ("uri", ("questionnaire",)), "status": ("token", ("status",)),
                              "authored": ("date", ("authored",)), "author": ("reference", ("author",)),
                              "encounter": ("reference", ("encounter",)),
                              "identifier": ("token", ("identifier",))},
}


# --- matching a kept resource against a search parameter ----------------------------------------------------


def _values(body: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(key, value) pairs at a dotted path, lists walked; a last part `x*` yields every `x<Type>` key."""
    head, _, rest = path.partition(".")
    nodes = body if isinstance(body, list) else [body]
    for node in nodes:
        if not isinstance(node, dict):
            continue
        keys = [k for k in node if re.fullmatch(re.escape(head[:-1]) + r"[A-Z]\w*", k)] if head.endswith("*") \
            else [head] if head in node else []
        for key in keys:
            if rest:
                yield from _values(node[key], rest)
            else:
                for value in node[key] if isinstance(node[key], list) else [node[key]]:
                    yield key, value


def _token(value: Any, wanted: str) -> bool:
    system, sep, code = wanted.partition("|") if "|" in wanted else ("", "", wanted)
    if isinstance(value, bool):
        return not sep and code == str(value).lower()
    if isinstance(value, str):
        return (not sep or system == "") and value == code
    if not isinstance(value, dict):
        return False
    inner = value.get("coding")
    codings: list[Any] = inner if isinstance(inner, list) else [value]
    for c in codings:
        if isinstance(c, dict) and str(c.get("code", c.get("value", ""))) == code \
                and (not sep or (c.get("system") or "") == system):
            return True
    return False


def _instant(text: str) -> datetime | None:
    padded = text + "-01-01"[len(text) - 4:] if len(text) in (4, 7) else text
    try:
        at = datetime.fromisoformat(padded.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _date(value: Any, name: str, wanted: str) -> bool:
    start = value.get("start") if isinstance(value, dict) else value
    at = _instant(start) if isinstance(start, str) else None
    return at is not None and instant_param(name, wanted).matches(at)


def _reference(value: Any, wanted: str) -> bool:
    ref = value.get("reference") if isinstance(value, dict) else None
    if not isinstance(ref, str):
        return False
    return ref == wanted or ref.endswith(f"/{wanted}") if "/" in wanted else ref.rpartition("/")[2] == wanted


def _string(value: Any, wanted: str) -> bool:
    words = [value] if isinstance(value, str) else [] if not isinstance(value, dict) else \
        [value.get("text"), value.get("family"), *(value.get("given") or [])]
    return any(isinstance(w, str) and w.casefold().startswith(wanted.casefold()) for w in words)


def _uri(value: Any, wanted: str) -> bool:
    """A canonical (`http://…/Questionnaire/x|1.0`) equals the value; a value without `|version` ignores it."""
    return isinstance(value, str) and (value == wanted or ("|" not in wanted and value.partition("|")[0] == wanted))


TESTS: dict[str, Callable[[Any, str, str], bool]] = {
    "token": lambda v, _n, w: _token(v, w), "date": _date, "reference": lambda v, _n, w: _reference(v, w),
    "string": lambda v, _n, w: _string(v, w), "uri": lambda v, _n, w: _uri(v, w)}


def matcher(resource_type: str, query: Query) -> Callable[[dict[str, Any]], bool] | None:
    """A test of a kept resource against the non-store parameters; None when one of them cannot be tested."""
    table = MATCH.get(resource_type, {})
    checks: list[tuple[str, str, tuple[str, ...], str]] = []
    for name, values in query.params.items():
        if name in STORE_PARAMS:
            continue
        if name not in table:
            return None
        kind, paths = table[name]
        checks.extend((kind, name, paths, v) for v in values)

    def test(body: dict[str, Any]) -> bool:
        return all(any(TESTS[kind](value, name, wanted) for path in paths for _, value in _values(body, path))
                   for kind, name, paths, wanted in checks)
    return test


# --- the wrapper ------------------------------------------------------------------------------------------


def kept_search(store: GenericStore, ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    """The store's resources of one type matching the whole query: SQL for its own parameters, `MATCH` for the
    rest on each page (so a page may hold fewer than `count`); nothing when a parameter cannot be tested.

    The store is read in batches of at least `BATCH` rows (each store search is one policy check), and the
    cursor handed out is the store's own after the last resource returned, so no match is skipped or repeated."""
    test = matcher(store.type, query)
    if test is None or count <= 0 or not _any_kept(ctx, store.type, query):
        return Found(items=[], next_cursor=None)
    narrowed = Query({k: v for k, v in query.params.items() if k in STORE_PARAMS}, query.sort)
    items: list[Stored] = []
    scanned = 0
    while True:
        page = store.search(ctx, narrowed, max(count - len(items), BATCH), cursor)
        for s in page.items:
            scanned += 1
            if test(s.body):
                items.append(s)
                if len(items) >= count:
                    more = s is not page.items[-1] or page.next_cursor is not None
                    return Found(items=items, next_cursor=_after(s) if more else None)
        cursor = page.next_cursor
        if cursor is None or scanned >= SCAN_BUDGET:
            return Found(items=items, next_cursor=cursor)


def _after(s: Stored) -> str:
    """The store's keyset cursor just after `s` (its (last_updated, id) order, fhir/generic.py)."""
    return encode_cursor([s.last_updated.isoformat(), str(s.body["id"])])


def _any_kept(ctx: Context, resource_type: str, query: Query) -> bool:
    """Whether any live kept resource of the type (of the patient searched for) could match: one indexed query,
    so a search of a type with nothing kept costs the store no policy check and no scan. A token's code must
    appear in the JSON as a string (`"2339-0"`), a coarse test in SQL; `MATCH` decides exactly afterwards."""
    where = [_G.resource_type == resource_type, not_(_G.deleted)]
    table = MATCH.get(resource_type, {})
    for name, values in query.params.items():
        if table.get(name, ("",))[0] != "token":
            continue
        for value in values:
            code = value.rpartition("|")[2]
            if _PLAIN.fullmatch(code) and code not in ("true", "false"):
                where.append(cast(_G.body, Text).like(f'%"{code}"%'))
    wanted = {v.rpartition("/")[2] for n in ("patient", "subject") for v in query.params.get(n, [])}
    if len(wanted) == 1:
        try:
            where.append(_G.patient_id == uuid.UUID(next(iter(wanted))))
        except ValueError:
            return True  # the store answers the malformed reference
    return ctx.session.scalar(select(_G.id).where(*where).limit(1)) is not None


def _kept_row(ctx: Context, resource_type: str, rid: uuid.UUID) -> bool:
    row = ctx.session.get(FhirGenericResource, rid)
    return row is not None and row.resource_type == resource_type


def serving_kept(m: Mapper) -> Mapper:
    store = GenericStore(m.type)
    inner_read, inner_search, inner_update, inner_delete = m.read, m.search, m.update, m.delete

    def read(ctx: Context, rid: uuid.UUID) -> Stored:
        if inner_read is not None and not _kept_row(ctx, m.type, rid):
            return inner_read(ctx, rid)
        return store.read(ctx, rid)

    def kept(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
        return kept_search(store, ctx, Query(query.params), count, cursor)

    def search(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
        if cursor is None or cursor.startswith("d."):
            try:
                found = inner_search(ctx, query, count, cursor[2:] if cursor else None)
            except NotFound:  # e.g. a Slot search naming a Schedule that only the kept resources have
                found = Found(items=[], next_cursor=None)
            if found.next_cursor is not None or count == 0:
                return Found(items=found.items, next_cursor=f"d.{found.next_cursor}" if found.next_cursor else None)
            if len(found.items) >= count:  # the page is full: the kept ones (if any) start the next page
                return Found(items=found.items, next_cursor=KEPT_START if _any_kept(ctx, m.type, query) else None)
            rest = kept(ctx, query, count - len(found.items), None)
            return Found(items=[*found.items, *rest.items],
                         next_cursor=f"k.{rest.next_cursor}" if rest.next_cursor else None)
        if not cursor.startswith("k."):
            raise FhirError(400, "not a cursor this server issued", code="invalid", expression=["_cursor"])
        rest = kept(ctx, query, count, None if cursor == KEPT_START else cursor[2:])
        return Found(items=rest.items, next_cursor=f"k.{rest.next_cursor}" if rest.next_cursor else None)

    def update(ctx: Context, body: dict[str, Any], rid: uuid.UUID | None, if_match: str | None) -> Stored:
        if rid is not None and _kept_row(ctx, m.type, rid):
            return store.update(ctx, body, rid, if_match)
        assert inner_update is not None  # noqa: S101 - set only when the mapper updates
        return inner_update(ctx, body, rid, if_match)

    def delete(ctx: Context, rid: uuid.UUID) -> None:
        if _kept_row(ctx, m.type, rid):
            store.delete(ctx, rid)
            return
        assert inner_delete is not None  # noqa: S101
        inner_delete(ctx, rid)

    return dataclasses.replace(
        m, read=read if inner_read else None, search=search, update=update if inner_update else None,
        delete=delete if inner_delete else None, total=None, native_sort=frozenset(),
        documentation=f"{m.documentation} Resources of this type the record cannot hold are kept as JSON by the "
        "importer and served too.")
