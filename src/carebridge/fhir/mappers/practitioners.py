"""Practitioner, PractitionerRole and Organization <-> the practitioners context (read and search).

Practitioner keeps: name, gender, telecom, qualification, communication, identifier (the council
registration number, system `urn:carebridge:council:<council>`), active. Organization keeps: name,
type (text), identifier (external id), telecom, address, active. PractitionerRole keeps: practitioner,
organization, code, specialty, active; it has no read by id, since the context offers none.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from carebridge.contexts import practitioners
from carebridge.contexts.practitioners import (
    OrganizationRead,
    OrganizationType,
    PractitionerRead,
    PractitionerRoleRead,
)
from carebridge.fhir.outcome import bad_param
from carebridge.fhir.registry import Context, Found, Mapper, Query, SearchParam, Stored
from carebridge.fhir.search import collect, only_id, uuid_param
from carebridge.kernel.errors import NotFound

COUNCIL_SYSTEM = "urn:carebridge:council:"
ORG_EXTERNAL_SYSTEM = "urn:carebridge:organization-external-id"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _meta(at: datetime) -> dict[str, Any]:
    return {"versionId": str(int(at.timestamp() * 1000)), "lastUpdated": _iso(at)}


def _telecom(phone: str | None, email: str | None) -> list[dict[str, str]]:
    return [t for t in ({"system": "phone", "value": phone} if phone else None,
                        {"system": "email", "value": email} if email else None) if t]


def practitioner(p: PractitionerRead) -> Stored:
    meta = _meta(p.updated_at)
    body: dict[str, Any] = {"resourceType": "Practitioner", "id": str(p.id), "meta": meta, "active": p.active}
    if p.registration_number and p.registration_council:
        body["identifier"] = [{"system": COUNCIL_SYSTEM + p.registration_council, "value": p.registration_number}]
    name: dict[str, Any] = {"use": "official", "given": p.given_name.split()}
    if p.family_name:
        name["family"] = p.family_name
    body["name"] = [name]
    if tel := _telecom(p.phone, p.email):
        body["telecom"] = tel
    if p.gender:
        body["gender"] = p.gender.value
    if p.qualifications:
        body["qualification"] = [{"code": {"text": q.name}} for q in p.qualifications]
    if p.languages:
        body["communication"] = [{"coding": [{"system": "urn:ietf:bcp:47", "code": lang}]} for lang in p.languages]
    return Stored(body=body, version=meta["versionId"], last_updated=p.updated_at)


def organization(o: OrganizationRead) -> Stored:
    meta = _meta(o.updated_at)
    body: dict[str, Any] = {"resourceType": "Organization", "id": str(o.id), "meta": meta, "active": o.active,
                            "name": o.name, "type": [{"text": o.type.value}]}
    if o.external_id:
        body["identifier"] = [{"system": ORG_EXTERNAL_SYSTEM, "value": o.external_id}]
    if tel := _telecom(o.phone, o.email):
        body["telecom"] = tel
    addr = {k: v for k, v in (("city", o.city), ("state", o.state), ("postalCode", o.postal_code),
                              ("country", o.country)) if v}
    if o.address_line:
        addr["line"] = [o.address_line]  # type: ignore[assignment]
    if addr:
        body["address"] = [addr]
    return Stored(body=body, version=meta["versionId"], last_updated=o.updated_at)


def role(r: PractitionerRoleRead) -> Stored:
    meta = _meta(r.created_at)
    body: dict[str, Any] = {
        "resourceType": "PractitionerRole", "id": str(r.id), "meta": meta, "active": r.active,
        "practitioner": {"reference": f"Practitioner/{r.practitioner_id}"},
        "organization": {"reference": f"Organization/{r.organization_id}"},
        "code": [{"coding": [{"system": "urn:carebridge:role", "code": r.code.value}]}],
    }
    if r.specialties:
        body["specialty"] = [{"coding": [{"system": "urn:carebridge:specialty", "code": s}]} for s in r.specialties]
    return Stored(body=body, version=meta["versionId"], last_updated=r.created_at)


def read_practitioner(ctx: Context, rid: uuid.UUID) -> Stored:
    return practitioner(practitioners.get_practitioner(ctx.session, ctx.principal, practitioner_id=rid))


def read_organization(ctx: Context, rid: uuid.UUID) -> Stored:
    return organization(practitioners.get_organization(ctx.session, ctx.principal, organization_id=rid))


def _by_id(ids: list[str], reader: Any, ctx: Context) -> Found:
    wanted = {uuid_param("_id", v) for v in ids}
    one = next(iter(wanted)) if len(wanted) == 1 else None
    if one is None:
        return Found(items=[], next_cursor=None)
    try:
        return Found(items=[reader(ctx, one)], next_cursor=None)
    except NotFound:
        return Found(items=[], next_cursor=None)


def _active(query: Query) -> bool | None:
    value = query.one("active")
    if value is None:
        return None
    if value not in ("true", "false"):
        raise bad_param("active", "true or false")
    return value == "true"


def _words(value: str) -> list[str]:
    return value.casefold().split()


def _starts_any(words: list[str], wanted: str) -> bool:
    return any(w.startswith(wanted.casefold()) for w in words)


def _identifier(value: str | None, system: str, wanted: str) -> bool:
    """`value`, `|value` or `<system>|value` against the one identifier the record keeps."""
    want_system, sep, want = wanted.rpartition("|")
    return value is not None and value == want and (not sep or not want_system or want_system == system)


def _telecom_test(value: str | None, wanted: str) -> bool:
    return value is not None and value.replace(" ", "").casefold() == wanted.replace(" ", "").casefold()


def search_practitioners(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    if ids := only_id(query):
        return _by_id(ids, read_practitioner, ctx)
    name = " ".join(query.params.get("name", [])) or None
    wanted = query.one("identifier")
    active = _active(query)
    p = query.params

    def fetch(cur: str | None, limit: int) -> tuple[list[PractitionerRead], str | None]:
        page = practitioners.search_practitioners(ctx.session, ctx.principal, name=name, specialty=None,
                                                  organization_id=None, include_inactive=active is False,
                                                  limit=limit, cursor=cur)
        return page.items, page.next_cursor

    def keep(pr: PractitionerRead) -> bool:
        if wanted is not None:
            system, sep, value = wanted.rpartition("|")
            if pr.registration_number != value or (sep and system and
                                                   system != COUNCIL_SYSTEM + (pr.registration_council or "")):
                return False
        return ((active is None or pr.active is active)
                and all(_starts_any(_words(pr.family_name or ""), v) for v in p.get("family", []))
                and all(_starts_any(_words(pr.given_name), v) for v in p.get("given", []))
                and all((pr.gender.value if pr.gender else None) == v for v in p.get("gender", []))
                and all(_telecom_test(pr.email, v) for v in p.get("email", []))
                and all(_telecom_test(pr.phone, v) for v in p.get("phone", []))
                and all(v.rpartition("|")[2] in pr.languages for v in p.get("communication", [])))

    filtered = wanted is not None or active is False or any(
        k in p for k in ("family", "given", "gender", "email", "phone", "communication"))
    return collect(fetch, keep, practitioner, count, cursor, filtered=filtered)


def search_organizations(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    if ids := only_id(query):
        return _by_id(ids, read_organization, ctx)
    name = query.one("name")
    active = _active(query)
    p = query.params
    kinds = {v.rpartition("|")[2] for v in p.get("type", [])}
    if len(kinds) > 1:
        return Found(items=[], next_cursor=None)
    try:
        kind = OrganizationType(next(iter(kinds))) if kinds else None
    except ValueError:
        return Found(items=[], next_cursor=None)

    def fetch(cur: str | None, limit: int) -> tuple[list[OrganizationRead], str | None]:
        page = practitioners.list_organizations(ctx.session, ctx.principal, name=name, type_=kind,
                                                include_inactive=active is False, limit=limit, cursor=cur)
        return page.items, page.next_cursor

    def keep(o: OrganizationRead) -> bool:
        return ((active is None or o.active is active)
                and all(_identifier(o.external_id, ORG_EXTERNAL_SYSTEM, v) for v in p.get("identifier", []))
                and all(_starts_any([(o.city or "").casefold()], v) for v in p.get("address-city", [])))

    filtered = active is False or "identifier" in p or "address-city" in p
    return collect(fetch, keep, organization, count, cursor, filtered=filtered)


def search_roles(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    pract = query.one("practitioner")
    org = query.one("organization")
    if pract is None and org is None:
        raise bad_param("practitioner", "PractitionerRole search needs practitioner or organization")
    pid = uuid_param("practitioner", pract) if pract else None
    oid = uuid_param("organization", org) if org else None
    if (pract and pid is None) or (org and oid is None):
        return Found(items=[], next_cursor=None)
    active = _active(query)
    try:
        rows = practitioners.list_roles(ctx.session, ctx.principal, practitioner_id=pid, organization_id=oid,
                                        include_inactive=active is False, limit=100)
    except NotFound:
        rows = []
    rows = [r for r in rows if (active is None or r.active is active)
            and all(r.code.value == v.rpartition("|")[2] for v in query.params.get("role", []))
            and all(v.rpartition("|")[2] in r.specialties for v in query.params.get("specialty", []))]
    return Found(items=[role(r) for r in rows[:count]], next_cursor=None)


PRACTITIONER = Mapper(
    type="Practitioner", documentation="Practitioners registered with CareBridge.",
    search_params=(SearchParam("_id", "token", "The practitioner's id."),
                   SearchParam("name", "string", "Prefix of any word of the name."),
                   SearchParam("identifier", "token", "Registration number: [<system>|]number."),
                   SearchParam("active", "token", "true (the default listing) | false."),
                   SearchParam("family", "string", "Prefix of a word of the family name (tested on each page)."),
                   SearchParam("given", "string", "Prefix of a given name (tested on each page)."),
                   SearchParam("gender", "token", "male | female | other | unknown (tested on each page)."),
                   SearchParam("email", "token", "The e-mail address (tested on each page)."),
                   SearchParam("phone", "token", "The phone number, spaces ignored (tested on each page)."),
                   SearchParam("communication", "token", "A language (BCP 47) spoken (tested on each page).")),
    search=search_practitioners, read=read_practitioner,
    not_kept=("text", "extension", "address", "photo", "birthDate", "identifier other than one registration",
              "qualification.identifier/period/issuer", "telecom.use"))
ORGANIZATION = Mapper(
    type="Organization", documentation="Clinics, hospitals, labs, pharmacies and public programmes.",
    search_params=(SearchParam("_id", "token", "The organization's id."),
                   SearchParam("name", "string", "Case-insensitive prefix of the name."),
                   SearchParam("active", "token", "true (the default listing) | false."),
                   SearchParam("type", "token", "clinic | hospital | lab | pharmacy | … (the record's own types)."),
                   SearchParam("identifier", "token", "The external id (tested on each page)."),
                   SearchParam("address-city", "string", "Prefix of the city (tested on each page).")),
    search=search_organizations, read=read_organization,
    not_kept=("text", "extension", "alias", "partOf", "contact", "endpoint", "address beyond the first"))
PRACTITIONER_ROLE = Mapper(
    type="PractitionerRole", documentation="What a practitioner does at an organization (search only: no read by id).",
    search_params=(SearchParam("practitioner", "reference", "Practitioner/<id> or <id>."),
                   SearchParam("organization", "reference", "Organization/<id> or <id>."),
                   SearchParam("active", "token", "true (the default) | false."),
                   SearchParam("role", "token", "The role code (urn:carebridge:role)."),
                   SearchParam("specialty", "token", "A specialty code (urn:carebridge:specialty).")),
    search=search_roles)
