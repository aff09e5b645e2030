"""Facility use cases: create, read, update, deactivate, beds and hours by the owning staff, import.

Facility data is public (it is what patients search), so reads need no sign-in and leave no audit
entry; every write is audited with resource_type "Facility" because beds and hours steer patients.
Writers keep the derived grid cell and search keys right through `sync_search_keys`, so the index
the search reads is always as fresh as the committed rows (no in-process cache to go stale).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, and_, delete, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from carebridge.contexts.audit import service as audit
from carebridge.contexts.facilities.importers import ParsedRecord
from carebridge.contexts.facilities.models import Facility, FacilitySearchKey
from carebridge.contexts.facilities.schemas import (
    Address,
    BedsUpdate,
    Contact,
    FacilityCreate,
    FacilityPage,
    FacilityRead,
    FacilityType,
    FacilityUpdate,
    GeoPoint,
    HoursUpdate,
    ImportReport,
    Ownership,
    RejectedRow,
)
from carebridge.engines.geo import Grid
from carebridge.engines.opening_hours import OpeningHours
from carebridge.kernel.db import get_row
from carebridge.kernel.errors import Conflict, Forbidden, NotFound, ValidationProblem
from carebridge.kernel.events import emit
from carebridge.kernel.ids import new_id
from carebridge.kernel.pagination import decode_cursor, encode_cursor
from carebridge.security import Permission, Principal, has_permission, require

GRID = Grid(cell_deg=0.05)
"""The grid of the `cell` column. Changing it means recomputing `cell` for every row."""

RESOURCE = "Facility"


def cell_of(lat: float, lng: float) -> int:
    return GRID.cell_of(lat, lng)


def search_keys(*, specialties: Iterable[str], services: Iterable[str], insurance: Iterable[str]) -> list[str]:
    """The keys a facility is found by: one coded list, so specialties and services share a namespace."""
    return list(dict.fromkeys([*(f"s:{c}" for c in specialties), *(f"s:{c}" for c in services),
                               *(f"i:{c}" for c in insurance)]))


def to_read(f: Facility) -> FacilityRead:
    return read_from(f, OpeningHours.model_validate(f.opening_hours) if f.opening_hours else None)


@lru_cache(maxsize=4096)
def hours_from_json(text: str) -> OpeningHours:
    """Parsed once per distinct schedule: a national registry holds a few hundred distinct ones."""
    return OpeningHours.model_validate_json(text)


def read_from(f: Any, hours: OpeningHours | None) -> FacilityRead:
    """The DTO from anything with the columns as attributes (an ORM row or a Core row)."""
    return FacilityRead(
        id=f.id, external_id=f.external_id, name=f.name, type=FacilityType(f.type),
        ownership=Ownership(f.ownership) if f.ownership else None, organization_id=f.organization_id,
        emergency=f.emergency, specialties=list(f.specialties), services=list(f.services),
        insurance=list(f.insurance), languages=list(f.languages), beds_total=f.beds_total,
        beds_available=f.beds_available, beds_updated_at=f.beds_updated_at, opening_hours=hours,
        contact=Contact(phone=f.phone, email=f.email, website=f.website),
        address=Address(line=f.address_line, city=f.city, district=f.district, state=f.state,
                        postal_code=f.postal_code, country=f.country),
        location=GeoPoint(lat=f.lat, lng=f.lng), active=f.active, version=f.version,
        created_at=f.created_at, updated_at=f.updated_at,
    )


def row_values(data: FacilityCreate) -> dict[str, Any]:
    """Column values of a facility (without id, version or timestamps), shared by every write path."""
    return {
        "external_id": data.external_id, "name": data.name, "type": data.type.value,
        "ownership": data.ownership.value if data.ownership else None, "organization_id": data.organization_id,
        "emergency": data.emergency, "specialties": list(data.specialties), "services": list(data.services),
        "insurance": list(data.insurance), "languages": list(data.languages), "beds_total": data.beds_total,
        "beds_available": data.beds_available,
        "opening_hours": data.opening_hours.model_dump(mode="json") if data.opening_hours else None,
        "phone": data.contact.phone, "email": str(data.contact.email) if data.contact.email else None,
        "website": data.contact.website, "address_line": data.address.line, "city": data.address.city,
        "district": data.address.district, "state": data.address.state, "postal_code": data.address.postal_code,
        "country": data.address.country, "lat": data.location.lat, "lng": data.location.lng,
        "cell": cell_of(data.location.lat, data.location.lng), "active": data.active,
    }


def key_rows(facility_id: uuid.UUID, values: dict[str, Any]) -> list[dict[str, Any]]:
    if not values["active"]:
        return []
    keys = search_keys(specialties=values["specialties"], services=values["services"],
                       insurance=values["insurance"])
    return [{"key": k, "cell": values["cell"], "facility_id": facility_id, "lat": values["lat"], "lng": values["lng"]}
            for k in keys]


def sync_search_keys(session: Session, facility_ids: Sequence[uuid.UUID], rows: list[dict[str, Any]]) -> None:
    if facility_ids:
        session.execute(delete(FacilitySearchKey).where(FacilitySearchKey.facility_id.in_(facility_ids)))
    if rows:
        session.execute(insert(FacilitySearchKey), rows)


def _current_values(f: Facility) -> dict[str, Any]:
    return {"active": f.active, "specialties": f.specialties, "services": f.services, "insurance": f.insurance,
            "cell": f.cell}


def _organizations_table() -> Table:
    fk = next(iter(Facility.__table__.c.organization_id.foreign_keys))
    table = fk.column.table
    assert isinstance(table, Table)  # noqa: S101 - a foreign key always points at a table
    return table


def check_organizations(session: Session, ids: Iterable[uuid.UUID | None]) -> set[uuid.UUID]:
    """The organization ids given that do not exist (a bad id is a 422, never a failed foreign key)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return set()
    orgs = _organizations_table()
    found = set(session.execute(select(orgs.c.id).where(orgs.c.id.in_(wanted))).scalars())
    return wanted - found


def _require_org(session: Session, organization_id: uuid.UUID | None) -> None:
    if check_organizations(session, [organization_id]):
        raise ValidationProblem("organization_id names no organization",
                                errors=[{"field": "organization_id", "message": "unknown organization"}])


def _external_id_free(session: Session, external_id: str | None, facility_id: uuid.UUID | None) -> None:
    if external_id is None:
        return
    other = session.execute(select(Facility.id).where(Facility.external_id == external_id)).scalar_one_or_none()
    if other is not None and other != facility_id:
        raise Conflict(f"another facility already has external_id {external_id!r}", extra={"facility_id": str(other)})


def _load(session: Session, facility_id: uuid.UUID, *, for_update: bool = False) -> Facility:
    stmt = select(Facility).where(Facility.id == facility_id)
    if for_update and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    facility = session.execute(stmt).scalar_one_or_none()
    if facility is None:
        raise NotFound(f"no facility {facility_id}")
    return facility


def create_facility(session: Session, principal: Principal, *, data: FacilityCreate, now: datetime) -> FacilityRead:
    require(principal, Permission.facility_write)
    _require_org(session, data.organization_id)
    _external_id_free(session, data.external_id, None)
    values = row_values(data)
    facility = Facility(id=new_id(), version=1, created_at=now, updated_at=now, **values)
    session.add(facility)
    session.flush()
    sync_search_keys(session, [], key_rows(facility.id, values))
    audit.record(session, principal, action="create", resource_type=RESOURCE, resource_id=facility.id,
                 purpose="operations", at=now, detail={"name": data.name})
    return to_read(facility)


def facility_exists(session: Session, *, facility_id: uuid.UUID) -> bool:
    return get_row(session, Facility, facility_id) is not None


def get_facility(session: Session, *, facility_id: uuid.UUID) -> FacilityRead:
    return to_read(_load(session, facility_id))


def list_facilities(session: Session, *, limit: int, cursor: str | None = None,
                    type_: FacilityType | None = None, organization_id: uuid.UUID | None = None,
                    include_inactive: bool = False) -> FacilityPage:
    """Facilities by name, keyset-paged (stable while rows are added)."""
    stmt = select(Facility).order_by(Facility.name, Facility.id).limit(limit + 1)
    after = decode_cursor(cursor, arity=2)
    if after is not None:
        try:
            if not isinstance(after[0], str):
                raise ValueError("name key")
            after_id = uuid.UUID(str(after[1]))
        except ValueError as exc:
            raise ValidationProblem("cursor is not one this server issued",
                                    errors=[{"field": "cursor", "message": "malformed"}]) from exc
        stmt = stmt.where(or_(Facility.name > after[0], and_(Facility.name == after[0], Facility.id > after_id)))
    if type_ is not None:
        stmt = stmt.where(Facility.type == type_.value)
    if organization_id is not None:
        stmt = stmt.where(Facility.organization_id == organization_id)
    if not include_inactive:
        stmt = stmt.where(Facility.active.is_(True))
    rows = list(session.execute(stmt).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = encode_cursor([rows[-1].name, str(rows[-1].id)]) if more and rows else None
    return FacilityPage(items=[to_read(r) for r in rows], next_cursor=nxt, limit=limit)


def _check_version(facility: Facility, version: int | None) -> None:
    if version is not None and version != facility.version:
        raise Conflict(f"facility changed since you read it (version {facility.version}, you sent {version}); "
                       "read it again", slug="version-conflict", extra={"current_version": facility.version})


def update_facility(session: Session, principal: Principal, *, facility_id: uuid.UUID, data: FacilityUpdate,
                    now: datetime) -> FacilityRead:
    require(principal, Permission.facility_write)
    facility = _load(session, facility_id, for_update=True)
    _check_version(facility, data.version)
    current = to_read(facility)
    merged = current.model_dump(exclude={"id", "beds_updated_at", "version", "created_at", "updated_at"})
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    merged.update(changes)
    try:
        new = FacilityCreate.model_validate(merged)
    except ValueError as exc:
        raise ValidationProblem(f"the update leaves the facility invalid: {exc}".splitlines()[0]) from exc
    if "organization_id" in changes:
        _require_org(session, new.organization_id)
    _external_id_free(session, new.external_id, facility.id)
    values = row_values(new)
    for name, value in values.items():
        setattr(facility, name, value)
    if "beds_total" in changes or "beds_available" in changes:
        facility.beds_updated_at = now
    facility.version += 1
    facility.updated_at = now
    sync_search_keys(session, [facility.id], key_rows(facility.id, values))
    audit.record(session, principal, action="update", resource_type=RESOURCE, resource_id=facility.id,
                 purpose="operations", at=now, detail={"fields": sorted(changes)})
    return to_read(facility)


def deactivate_facility(session: Session, principal: Principal, *, facility_id: uuid.UUID,
                        now: datetime) -> FacilityRead:
    """Soft delete: care requests keep pointing at it, searches stop finding it."""
    require(principal, Permission.facility_write)
    facility = _load(session, facility_id, for_update=True)
    facility.active = False
    facility.version += 1
    facility.updated_at = now
    sync_search_keys(session, [facility.id], [])
    audit.record(session, principal, action="delete", resource_type=RESOURCE, resource_id=facility.id,
                 purpose="operations", at=now)
    return to_read(facility)


def _require_staff_of(session: Session, principal: Principal, facility: Facility, permission: Permission,
                      now: datetime) -> None:
    """Staff of the owning organization (or a facility administrator) only; refusals are audited."""
    admin = has_permission(principal.role, Permission.facility_write) and not principal.needs_totp
    own = facility.organization_id is not None and principal.organization_id == facility.organization_id
    if has_permission(principal.role, permission) and (admin or own):
        return
    audit.record(session, principal, action="update", resource_type=RESOURCE, resource_id=facility.id,
                 purpose="operations", outcome="denied", at=now, detail={"permission": permission.value})
    if not has_permission(principal.role, permission):
        raise Forbidden(f"role {principal.role.value} may not {permission.value}")
    raise Forbidden("only staff of the organization that runs this facility may change it")


def update_beds(session: Session, principal: Principal, *, facility_id: uuid.UUID, data: BedsUpdate,
                now: datetime) -> FacilityRead:
    facility = _load(session, facility_id, for_update=True)
    _require_staff_of(session, principal, facility, Permission.facility_update_beds, now)
    total = data.total if data.total is not None else facility.beds_total
    if total is not None and data.available > total:
        raise ValidationProblem(f"available beds ({data.available}) exceed the total ({total})",
                                errors=[{"field": "available", "message": "exceeds total"}])
    before = {"beds_total": facility.beds_total, "beds_available": facility.beds_available}
    facility.beds_total = total
    facility.beds_available = data.available
    facility.beds_updated_at = now
    facility.version += 1
    facility.updated_at = now
    after = {"beds_total": total, "beds_available": data.available}
    audit.record(session, principal, action="update", resource_type=RESOURCE, resource_id=facility.id,
                 purpose="operations", at=now, detail={"beds": {"before": before, "after": after}})
    emit(session, "facility.beds_updated", {"facility_id": str(facility.id), **after, "at": now.isoformat()})
    return to_read(facility)


def update_hours(session: Session, principal: Principal, *, facility_id: uuid.UUID, data: HoursUpdate,
                 now: datetime) -> FacilityRead:
    facility = _load(session, facility_id, for_update=True)
    _require_staff_of(session, principal, facility, Permission.facility_update_hours, now)
    _check_version(facility, data.version)
    facility.opening_hours = data.opening_hours.model_dump(mode="json") if data.opening_hours else None
    facility.version += 1
    facility.updated_at = now
    audit.record(session, principal, action="update", resource_type=RESOURCE, resource_id=facility.id,
                 purpose="operations", at=now, detail={"fields": ["opening_hours"]})
    return to_read(facility)


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0


def upsert_many(session: Session, records: Sequence[FacilityCreate], *, now: datetime) -> UpsertResult:
    """Insert or update by external_id in bulk (executemany); records must carry distinct external ids."""
    result = UpsertResult()
    if not records:
        return result
    ids = [r.external_id for r in records]
    existing = dict(session.execute(
        select(Facility.external_id, Facility.id).where(Facility.external_id.in_(ids))).all())
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    keys: list[dict[str, Any]] = []
    for record in records:
        values = row_values(record)
        found = existing.get(record.external_id)
        if found is None:
            fid = new_id()
            inserts.append({"id": fid, "version": 1, "created_at": now, "updated_at": now,
                            "beds_updated_at": now if record.beds_available is not None else None, **values})
        else:
            fid = found
            updates.append({"id": fid, "updated_at": now, **values})
        keys.extend(key_rows(fid, values))
    if inserts:
        session.execute(insert(Facility), inserts)
    if updates:
        session.execute(update(Facility), updates)
        session.execute(update(Facility).where(Facility.id.in_([u["id"] for u in updates]))
                        .values(version=Facility.version + literal(1)))
    sync_search_keys(session, [u["id"] for u in updates], keys)
    result.created, result.updated = len(inserts), len(updates)
    return result


def record_import(session: Session, principal: Principal | None, *, now: datetime, detail: dict[str, Any]) -> None:
    """One audit entry per import (a CLI import has no principal: the operator ran it on the server)."""
    audit.record(session, principal, action="import", resource_type=RESOURCE, purpose="operations", at=now,
                 detail=detail)


def require_import(principal: Principal) -> None:
    require(principal, Permission.facility_write)


def import_facilities(session: Session, principal: Principal | None, *, fmt: str, profile: str,
                      records: Iterable[ParsedRecord], notes: list[str], now: datetime, batch_size: int = 1000,
                      on_progress: Callable[[int], None] | None = None) -> ImportReport:
    """Upsert every valid record by external_id; report every refused one with where and why.

    A repeated external_id in one file is refused (naming the first line), never merged silently.
    The caller owns the transaction: the API imports all or nothing in one request.
    """
    if principal is not None:
        require(principal, Permission.facility_write)
    total = created = updated = 0
    rejected: list[RejectedRow] = []
    first_seen: dict[str, str] = {}
    batch: list[ParsedRecord] = []

    def flush() -> None:
        nonlocal created, updated
        unknown = check_organizations(session, (r.facility.organization_id for r in batch if r.facility))
        good = []
        for r in batch:
            assert r.facility is not None  # noqa: S101 - only valid records are batched
            if r.facility.organization_id in unknown:
                rejected.append(_rejection(r, ["organization_id: names no organization on this server"]))
            else:
                good.append(r.facility)
        result = upsert_many(session, good, now=now)
        created += result.created
        updated += result.updated
        batch.clear()

    for record in records:
        total += 1
        if record.facility is None:
            rejected.append(_rejection(record, record.errors))
        else:
            key = record.facility.external_id or ""
            if key in first_seen:
                rejected.append(_rejection(record, [f"external_id {key!r} repeats {first_seen[key]} of this file"]))
            else:
                first_seen[key] = record.where
                batch.append(record)
                if len(batch) >= batch_size:
                    flush()
        if on_progress is not None:
            on_progress(1)
    if batch:
        flush()
    rejected.sort(key=lambda r: (r.line is None, r.line or 0, r.where))
    report = ImportReport(format=fmt, profile=profile, total=total, created=created, updated=updated,
                          rejected=len(rejected), rejected_rows=rejected, notes=notes)
    record_import(session, principal, now=now, detail={
        "format": fmt, "profile": profile, "total": total, "created": created, "updated": updated,
        "rejected": len(rejected), "source": "api" if principal is not None else "cli"})
    return report


def _rejection(record: ParsedRecord, errors: list[str]) -> RejectedRow:
    return RejectedRow(line=record.line, where=record.where, external_id=record.external_id,
                       errors=errors or ["invalid"])


def iter_facilities(session: Session, *, include_inactive: bool = True, batch: int = 1000) -> Iterator[FacilityRead]:
    """Every facility, keyset-paged by id so an export of a national registry never holds it all in memory."""
    last: uuid.UUID | None = None
    while True:
        stmt = select(Facility).order_by(Facility.id).limit(batch)
        if last is not None:
            stmt = stmt.where(Facility.id > last)
        if not include_inactive:
            stmt = stmt.where(Facility.active.is_(True))
        rows = list(session.execute(stmt).scalars())
        if not rows:
            return
        for row in rows:
            yield to_read(row)
        last = rows[-1].id
        session.expunge_all()


def record_export(session: Session, principal: Principal, *, fmt: str, now: datetime) -> None:
    require(principal, Permission.facility_write)
    audit.record(session, principal, action="export", resource_type=RESOURCE, purpose="operations", at=now,
                 detail={"format": fmt})


def place_position(session: Session, place: str) -> tuple[float, float] | None:
    """Where a town or city named by a patient is, as the centre of the registry's facilities there.

    A page without JavaScript cannot ask the phone for its position, and few people know their coordinates;
    they do know their town. The registry already holds every facility's city and position, so it serves
    as the gazetteer: no place data to ship or download.
    """
    name = " ".join(place.split()).casefold()
    if not name or len(name) > 100:
        return None
    row = session.execute(select(func.avg(Facility.lat), func.avg(Facility.lng), func.count())
                          .where(func.lower(Facility.city) == name, Facility.active.is_(True))).one()
    if not row[2]:
        return None
    return float(row[0]), float(row[1])
