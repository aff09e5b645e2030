"""Patient use cases: register, read, change, deactivate, and the identifier and contact sub-records.

Each one asks the policy, writes its audit entry and its outbox event in the caller's transaction,
and never commits. Duplicate registration is refused (409 naming candidates the caller may see)
unless the caller says `force`: an identifier already held by another patient is always refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from carebridge.contexts import audit
from carebridge.contexts.patients import names
from carebridge.contexts.patients.access import RESOURCE, authorize, load_patient_for, visible_ids
from carebridge.contexts.patients.models import EmergencyContact, Patient, PatientIdentifier, PatientOrganization
from carebridge.contexts.patients.read_row import read_patient_row
from carebridge.contexts.patients.schemas import (
    MRN_SYSTEM_SHORTHAND,
    Address,
    AdministrativeSex,
    DeactivateRequest,
    DuplicateCandidate,
    EmergencyContactIn,
    EmergencyContactRead,
    GeoPoint,
    IdentifierIn,
    IdentifierRead,
    PatientCreate,
    PatientRead,
    PatientUpdate,
    mrn_system,
)
from carebridge.contexts.practitioners import organization_exists
from carebridge.kernel.errors import Conflict, Forbidden, NotFound, Problem, ValidationProblem
from carebridge.kernel.events import emit
from carebridge.kernel.ids import new_id
from carebridge.security import Permission, Principal, require

EARLIEST_BIRTH_DATE = date(1900, 1, 1)
MAX_CHILDREN = 20


def invalid(field: str, message: str) -> ValidationProblem:
    return ValidationProblem(f"{field}: {message}", errors=[{"field": field, "in": "body", "message": message}])


_SEXES = {s.value: s for s in AdministrativeSex}


def to_read(p: Patient) -> PatientRead:
    return build_read(p, p.identifiers, p.emergency_contacts)


def build_read(p: Any, identifiers: Iterable[Any], contacts: Iterable[Any]) -> PatientRead:
    """From an ORM Patient or a plain row with the same column names (the read path skips the ORM)."""
    has_address = any(v is not None for v in (p.address_line, p.city, p.district, p.state, p.postal_code,
                                               p.country, p.latitude))
    # model_construct: stored rows were validated on the way in; reading them back must never fail
    geo = (GeoPoint.model_construct(lat=p.latitude, lng=p.longitude)
           if p.latitude is not None and p.longitude is not None else None)
    address = Address.model_construct(
        line=p.address_line, city=p.city, district=p.district, state=p.state, postal_code=p.postal_code,
        country=p.country, geo=geo,
    ) if has_address else None
    return PatientRead(
        id=p.id, given_name=p.given_name, family_name=p.family_name, preferred_name=p.preferred_name,
        birth_date=p.birth_date, sex=_SEXES.get(p.sex, AdministrativeSex.unknown), gender_identity=p.gender_identity,
        preferred_languages=list(p.preferred_languages or []), phone=p.phone, email=p.email, address=address,
        identifiers=[IdentifierRead(id=i.id, system=i.system, value=i.value) for i in identifiers],
        emergency_contacts=[contact_read(c) for c in contacts],
        deceased=p.deceased, deceased_at=p.deceased_at, active=p.active, merged_into_id=p.merged_into_id,
        version=p.version, created_at=p.created_at, updated_at=p.updated_at,
    )


def contact_read(c: Any) -> EmergencyContactRead:
    return EmergencyContactRead(id=c.id, name=c.name, relationship=c.relationship_, phone=c.phone, email=c.email)


def _check_dates(birth_date: date | None, deceased: bool, deceased_at: datetime | None, now: datetime) -> None:
    if birth_date is not None:
        if birth_date > now.date():
            raise invalid("birth_date", "is in the future")
        if birth_date < EARLIEST_BIRTH_DATE:
            raise invalid("birth_date", "is before 1900-01-01")
    if deceased_at is not None:
        if deceased_at.tzinfo is None:
            raise invalid("deceased_at", "needs a time zone (e.g. 2026-01-02T10:00:00Z)")
        if not deceased:
            raise invalid("deceased_at", "is set but deceased is false")
        if deceased_at > now:
            raise invalid("deceased_at", "is in the future")
        if birth_date is not None and deceased_at.date() < birth_date:
            raise invalid("deceased_at", "is before the birth date")


def _apply_address(p: Patient, address: Address | None) -> None:
    a = address or Address()
    p.address_line, p.city, p.district, p.state = a.line, a.city, a.district, a.state
    p.postal_code, p.country = a.postal_code, a.country
    p.latitude = a.geo.lat if a.geo else None
    p.longitude = a.geo.lng if a.geo else None


def _resolve_identifiers(items: list[IdentifierIn], organization_id: uuid.UUID | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for n, item in enumerate(items):
        system = item.system
        if system == MRN_SYSTEM_SHORTHAND:
            if organization_id is None:
                raise invalid(f"identifiers.{n}.system", "'mrn' needs an organization; give the full system URI")
            system = mrn_system(organization_id)
        if (system, item.value) in out:
            raise invalid(f"identifiers.{n}", "is given twice")
        out.append((system, item.value))
    return out


def _check_identifier_clash(session: Session, principal: Principal | None, pairs: list[tuple[str, str]],
                            own_id: uuid.UUID | None = None) -> None:
    if not pairs:
        return
    rows = session.execute(
        select(PatientIdentifier.system, PatientIdentifier.value, PatientIdentifier.patient_id)
        .where(tuple_(PatientIdentifier.system, PatientIdentifier.value).in_(pairs))
    ).all()
    clashes = [(s, v, pid) for s, v, pid in rows if pid != own_id]
    if not clashes:
        return
    system, value, other = clashes[0]
    seen = visible_ids(session, principal, [other])
    extra: dict[str, Any] = {"identifier": {"system": system, "value": value}}
    if seen:
        extra["patient_id"] = str(other)
        detail = f"identifier {system}|{value} already belongs to patient {other}"
    else:
        detail = f"identifier {system}|{value} already belongs to another patient"
    raise Conflict(detail, slug="identifier-in-use", title="Identifier in use", extra=extra)


def _find_duplicates(session: Session, principal: Principal, data: PatientCreate) -> list[DuplicateCandidate]:
    if data.birth_date is None:
        return []
    given, family = names.fold(data.given_name)[:100], names.fold(data.family_name)[:100]
    key = names.phone_key(data.phone)
    rows = session.execute(
        select(Patient.id, Patient.phone_norm).where(
            Patient.family_name_norm == family, Patient.given_name_norm == given,
            Patient.birth_date == data.birth_date, Patient.active.is_(True),
        ).limit(50)
    ).all()
    # Phones that differ mean different people; a missing phone on either side cannot tell them apart.
    ids = [pid for pid, phone in rows if key is None or phone is None or phone == key]
    return [DuplicateCandidate(id=pid, reason="same name, birth date and phone")
            for pid in visible_ids(session, principal, ids)]


def create_patient(
    session: Session,
    principal: Principal | None,
    *,
    data: PatientCreate,
    now: datetime,
    organization_id: uuid.UUID | None = None,
    force: bool = False,
    purpose: str = "treatment",
) -> PatientRead:
    """Register a patient; staff link them to their own organization. `principal=None` is self-registration."""
    if principal is not None:
        require(principal, Permission.patient_create)
        if principal.organization_id is None:
            raise Forbidden("you belong to no organization, so a patient you register would be out of your reach")
        if organization_id is not None and organization_id != principal.organization_id:
            raise Forbidden("staff register patients only into their own organization")
        organization_id = principal.organization_id
    if organization_id is not None and not organization_exists(session, organization_id):
        raise invalid("organization_id", "no such organization")
    deceased = data.deceased or data.deceased_at is not None
    _check_dates(data.birth_date, deceased, data.deceased_at, now)
    pairs = _resolve_identifiers(data.identifiers, organization_id)
    _check_identifier_clash(session, principal, pairs)
    if principal is not None and not force:
        candidates = _find_duplicates(session, principal, data)
        if candidates:
            raise Conflict(
                "this looks like a patient already registered; review the candidates, merge, or resend with force=true",
                slug="possible-duplicate", title="Possible duplicate patient",
                extra={"candidates": [c.model_dump(mode="json") for c in candidates]},
            )
    p = Patient(
        id=new_id(), given_name=data.given_name, family_name=data.family_name, preferred_name=data.preferred_name,
        birth_date=data.birth_date, sex=data.sex.value, gender_identity=data.gender_identity,
        preferred_languages=list(data.preferred_languages), phone=data.phone, email=data.email,
        deceased=deceased, deceased_at=data.deceased_at,
        created_at=now, updated_at=now, active=True,
    )
    _apply_address(p, data.address)
    p.identifiers = [PatientIdentifier(id=new_id(), system=s, value=v) for s, v in pairs]
    p.emergency_contacts = [_contact(c) for c in data.emergency_contacts]
    session.add(p)
    if organization_id is not None:
        session.add(PatientOrganization(id=new_id(), patient_id=p.id, organization_id=organization_id, since=now))
    flush_or_conflict(session)
    audit.record(session, principal, action="create", resource_type=RESOURCE, resource_id=p.id, patient_id=p.id,
                 purpose=purpose, detail={"forced": force, "self_registration": principal is None}, at=now)
    emit(session, "patient.created", {"patient_id": str(p.id), "organization_id": str(organization_id or "")})
    return to_read(p)


def _contact(c: EmergencyContactIn) -> EmergencyContact:
    return EmergencyContact(id=new_id(), name=c.name, relationship_=c.relationship, phone=c.phone, email=c.email)


def touch(p: Patient, now: datetime) -> None:
    """Mark the patient row changed, so its version moves on even when only a child row did."""
    p.updated_at = now
    flag_modified(p, "updated_at")


def flush_or_conflict(session: Session) -> None:
    """Flush now, so a unique key or a version lost to a concurrent writer is a 409 rather than a 500."""
    try:
        session.flush()
    except (IntegrityError, StaleDataError) as exc:
        raise Conflict("another request changed the same record at the same time; read it again and retry",
                       slug="concurrent-change", title="Concurrent change") from exc


_PATIENTS = cast(Table, Patient.__table__)
_IDENTIFIERS = cast(Table, PatientIdentifier.__table__)
_CONTACTS = cast(Table, EmergencyContact.__table__)
def get_patient(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime,
                purpose: str = "treatment") -> PatientRead:
    """The most frequent request of all: one statement for the row, its children and the policy's facts,
    plain columns rather than ORM objects (see performance.md)."""
    found = read_patient_row(session, patient_id)
    if found is None:
        raise NotFound("no such patient")
    authorize(session, principal, patient_id, Permission.patient_read, active=found.row.active, purpose=purpose,
              now=now, organization_ids=found.organization_ids)
    return build_read(found.row, found.identifiers, found.contacts)


_MANY_ROWS = select(_PATIENTS).where(_PATIENTS.c.id.in_(bindparam("ids", expanding=True)))
_MANY_IDENTIFIERS = (select(_IDENTIFIERS.c.patient_id, _IDENTIFIERS.c.id, _IDENTIFIERS.c.system, _IDENTIFIERS.c.value)
                     .where(_IDENTIFIERS.c.patient_id.in_(bindparam("ids", expanding=True)))
                     .order_by(_IDENTIFIERS.c.system))
_MANY_CONTACTS = (select(_CONTACTS.c.patient_id, _CONTACTS.c.id, _CONTACTS.c.name,
                         _CONTACTS.c.relationship.label("relationship_"), _CONTACTS.c.phone, _CONTACTS.c.email)
                  .where(_CONTACTS.c.patient_id.in_(bindparam("ids", expanding=True))).order_by(_CONTACTS.c.name))


def read_many(session: Session, ids: list[uuid.UUID]) -> list[PatientRead]:
    """Patients as read models, in the order given (absent ids left out): three queries for a whole page,
    plain columns, no ORM objects. The caller has already decided who may see them and audited it."""
    if not ids:
        return []
    params = {"ids": ids}
    rows = {r.id: r for r in session.execute(_MANY_ROWS, params)}
    identifiers: dict[uuid.UUID, list[Any]] = {}
    for r in session.execute(_MANY_IDENTIFIERS, params):
        identifiers.setdefault(r.patient_id, []).append(r)
    contacts: dict[uuid.UUID, list[Any]] = {}
    for c in session.execute(_MANY_CONTACTS, params):
        contacts.setdefault(c.patient_id, []).append(c)
    return [build_read(rows[i], identifiers.get(i, ()), contacts.get(i, ())) for i in ids if i in rows]


def _check_version(p: Patient, body_version: int | None, if_match: int | None) -> None:
    if body_version is None and if_match is None:
        raise Problem("send the version you read, as `version` in the body or an If-Match header",
                      status=428, slug="precondition-required", title="Precondition required")
    if if_match is not None and if_match != p.version:
        raise Problem(f"the record changed since you read it (now version {p.version}); read it again",
                      status=412, slug="precondition-failed", title="Precondition failed",
                      extra={"current_version": p.version})
    if body_version is not None and body_version != p.version:
        raise Conflict(f"the record changed since you read it (now version {p.version}); read it again",
                       slug="stale-version", title="Stale version", extra={"current_version": p.version})


def _writable(p: Patient) -> None:
    if p.merged_into_id is not None:
        raise Conflict(f"this record was merged into {p.merged_into_id}; change that one",
                       slug="patient-merged", title="Patient merged", extra={"merged_into_id": str(p.merged_into_id)})
    if not p.active:
        raise Conflict("this patient is inactive", slug="patient-inactive", title="Patient inactive")


_NOT_NULL = ("given_name", "family_name", "sex", "deceased")


def update_patient(session: Session, principal: Principal, *, patient_id: uuid.UUID, data: PatientUpdate,
                   now: datetime, if_match: int | None = None, purpose: str = "treatment") -> PatientRead:
    """Change the fields sent; optimistic concurrency through `version` or If-Match."""
    p = load_patient_for(session, principal, patient_id, Permission.patient_update, purpose=purpose, now=now,
                         audit_success=False)
    _check_version(p, data.version, if_match)
    _writable(p)
    sent = data.model_fields_set - {"version"}
    for field in _NOT_NULL:
        if field in sent and getattr(data, field) is None:
            raise invalid(field, "may not be null")
    changed: list[str] = []
    for field in sorted(sent):
        value = getattr(data, field)
        if field == "address":
            _apply_address(p, value)
        elif field == "sex":
            p.sex = value.value
        elif field == "preferred_languages":
            p.preferred_languages = list(value or [])
        else:
            setattr(p, field, value)
        changed.append(field)
    if "deceased_at" in sent and p.deceased_at is not None and "deceased" not in sent:
        p.deceased = True
    if p.deceased is False and p.deceased_at is not None and "deceased" in sent:
        p.deceased_at = None
    _check_dates(p.birth_date, p.deceased, p.deceased_at, now)
    if changed:
        touch(p, now)
        flush_or_conflict(session)
        emit(session, "patient.updated", {"patient_id": str(p.id), "fields": changed})
    audit.record(session, principal, action="update", resource_type=RESOURCE, resource_id=p.id, patient_id=p.id,
                 purpose=purpose, detail={"fields": changed}, at=now)
    return to_read(p)


def deactivate_patient(session: Session, principal: Principal, *, patient_id: uuid.UUID, data: DeactivateRequest,
                       now: datetime, purpose: str = "treatment") -> PatientRead:
    """Patients are never deleted: the record stays for history and audit, out of default searches."""
    p = load_patient_for(session, principal, patient_id, Permission.patient_deactivate, purpose=purpose, now=now,
                         audit_success=False)
    _writable(p)
    p.active, p.deactivated_at, p.deactivation_reason = False, now, data.reason
    touch(p, now)
    flush_or_conflict(session)
    audit.record(session, principal, action="deactivate", resource_type=RESOURCE, resource_id=p.id,
                 patient_id=p.id, purpose=purpose, detail={"reason": data.reason or ""}, at=now)
    emit(session, "patient.deactivated", {"patient_id": str(p.id)})
    return to_read(p)


def _changed_child(session: Session, principal: Principal, p: Patient, now: datetime, purpose: str,
                   detail: dict[str, Any]) -> None:
    touch(p, now)
    flush_or_conflict(session)
    audit.record(session, principal, action="update", resource_type=RESOURCE, resource_id=p.id, patient_id=p.id,
                 purpose=purpose, detail=detail, at=now)
    emit(session, "patient.updated", {"patient_id": str(p.id), "fields": [next(iter(detail))]})


def list_identifiers(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime,
                     purpose: str = "treatment") -> list[IdentifierRead]:
    p = load_patient_for(session, principal, patient_id, Permission.patient_read, purpose=purpose, now=now)
    return [IdentifierRead(id=i.id, system=i.system, value=i.value) for i in p.identifiers]


def add_identifier(session: Session, principal: Principal, *, patient_id: uuid.UUID, data: IdentifierIn,
                   now: datetime, purpose: str = "treatment") -> IdentifierRead:
    p = load_patient_for(session, principal, patient_id, Permission.patient_update, purpose=purpose, now=now,
                         audit_success=False)
    _writable(p)
    if len(p.identifiers) >= MAX_CHILDREN:
        raise invalid("identifiers", f"a patient holds at most {MAX_CHILDREN} identifiers")
    ((system, value),) = _resolve_identifiers([data], principal.organization_id)
    _check_identifier_clash(session, principal, [(system, value)], own_id=p.id)
    if any(i.system == system and i.value == value for i in p.identifiers):
        raise Conflict("the patient already has this identifier", slug="identifier-in-use", title="Identifier in use")
    ident = PatientIdentifier(id=new_id(), system=system, value=value)
    p.identifiers.append(ident)
    _changed_child(session, principal, p, now, purpose, {"identifier_added": system})
    return IdentifierRead(id=ident.id, system=ident.system, value=ident.value)


def remove_identifier(session: Session, principal: Principal, *, patient_id: uuid.UUID, identifier_id: uuid.UUID,
                      now: datetime, purpose: str = "treatment") -> None:
    p = load_patient_for(session, principal, patient_id, Permission.patient_update, purpose=purpose, now=now,
                         audit_success=False)
    _writable(p)
    ident = next((i for i in p.identifiers if i.id == identifier_id), None)
    if ident is None:
        raise NotFound("this patient has no such identifier")
    p.identifiers.remove(ident)
    _changed_child(session, principal, p, now, purpose, {"identifier_removed": ident.system})


def list_contacts(session: Session, principal: Principal, *, patient_id: uuid.UUID, now: datetime,
                  purpose: str = "treatment") -> list[EmergencyContactRead]:
    p = load_patient_for(session, principal, patient_id, Permission.patient_read, purpose=purpose, now=now)
    return [contact_read(c) for c in p.emergency_contacts]


def add_contact(session: Session, principal: Principal, *, patient_id: uuid.UUID, data: EmergencyContactIn,
                now: datetime, purpose: str = "treatment") -> EmergencyContactRead:
    p = load_patient_for(session, principal, patient_id, Permission.patient_update, purpose=purpose, now=now,
                         audit_success=False)
    _writable(p)
    if len(p.emergency_contacts) >= MAX_CHILDREN:
        raise invalid("emergency_contacts", f"a patient has at most {MAX_CHILDREN} emergency contacts")
    contact = _contact(data)
    p.emergency_contacts.append(contact)
    _changed_child(session, principal, p, now, purpose, {"emergency_contact_added": str(contact.id)})
    return contact_read(contact)


def remove_contact(session: Session, principal: Principal, *, patient_id: uuid.UUID, contact_id: uuid.UUID,
                   now: datetime, purpose: str = "treatment") -> None:
    p = load_patient_for(session, principal, patient_id, Permission.patient_update, purpose=purpose, now=now,
                         audit_success=False)
    _writable(p)
    contact = next((c for c in p.emergency_contacts if c.id == contact_id), None)
    if contact is None:
        raise NotFound("this patient has no such emergency contact")
    p.emergency_contacts.remove(contact)
    _changed_child(session, principal, p, now, purpose, {"emergency_contact_removed": str(contact_id)})
