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
from carebridge.contexts.practitioners import OrganizationRead, PractitionerRead, PractitionerRoleRead
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


def search_practitioners(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    if ids := only_id(query):
        return _by_id(ids, read_practitioner, ctx)
    name = " ".join(query.params.get("name", [])) or None
    wanted = query.one("identifier")

    def fetch(cur: str | None, limit: int) -> tuple[list[PractitionerRead], str | None]:
        page = practitioners.search_practitioners(ctx.session, ctx.principal, name=name, specialty=None,
                                                  organization_id=None, include_inactive=False, limit=limit,
                                                  cursor=cur)
        return page.items, page.next_cursor

    def keep(p: PractitionerRead) -> bool:
        if wanted is None:
            return True
        system, sep, value = wanted.rpartition("|")
        return p.registration_number == value and (not sep or not system
                                                   or system == COUNCIL_SYSTEM + (p.registration_council or ""))

    return collect(fetch, keep, practitioner, count, cursor, filtered=wanted is not None)


def search_organizations(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    if ids := only_id(query):
        return _by_id(ids, read_organization, ctx)
    name = query.one("name")

    def fetch(cur: str | None, limit: int) -> tuple[list[OrganizationRead], str | None]:
        page = practitioners.list_organizations(ctx.session, ctx.principal, name=name, type_=None,
                                                include_inactive=False, limit=limit, cursor=cur)
        return page.items, page.next_cursor

    return collect(fetch, lambda _: True, organization, count, cursor, filtered=False)


def search_roles(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    pract = query.one("practitioner")
    org = query.one("organization")
    if pract is None and org is None:
        raise bad_param("practitioner", "PractitionerRole search needs practitioner or organization")
    pid = uuid_param("practitioner", pract) if pract else None
    oid = uuid_param("organization", org) if org else None
    if (pract and pid is None) or (org and oid is None):
        return Found(items=[], next_cursor=None)
    try:
        rows = practitioners.list_roles(ctx.session, ctx.principal, practitioner_id=pid, organization_id=oid,
                                        limit=count)
    except NotFound:
        rows = []
    return Found(items=[role(r) for r in rows], next_cursor=None)


PRACTITIONER = Mapper(
    type="Practitioner", documentation="Practitioners registered with CareBridge.",
    search_params=(SearchParam("_id", "token", "The practitioner's id."),
                   SearchParam("name", "string", "Prefix of any word of the name."),
                   SearchParam("identifier", "token", "Registration number: [<system>|]number.")),
    search=search_practitioners, read=read_practitioner,
    not_kept=("text", "extension", "address", "photo", "birthDate", "identifier other than one registration",
              "qualification.identifier/period/issuer", "telecom.use"))
ORGANIZATION = Mapper(
    type="Organization", documentation="Clinics, hospitals, labs, pharmacies and public programmes.",
    search_params=(SearchParam("_id", "token", "The organization's id."),
                   SearchParam("name", "string", "Case-insensitive prefix of the name.")),
    search=search_organizations, read=read_organization,
    not_kept=("text", "extension", "alias", "partOf", "contact", "endpoint", "address beyond the first"))
PRACTITIONER_ROLE = Mapper(
    type="PractitionerRole", documentation="What a practitioner does at an organization (search only: no read by id).",
    search_params=(SearchParam("practitioner", "reference", "Practitioner/<id> or <id>."),
                   SearchParam("organization", "reference", "Organization/<id> or <id>.")),
    search=search_roles)
