"""The version history of resources written through the facade: record, vread, `_history` Bundles.

The domain keeps only the current state of a record, so the facade keeps each version it served on a
write. Reading history never bypasses the mapper: the caller must pass the mapper's read of the
resource (policy decision and audit entry) before any of its versions is shown. A deleted resource
can no longer be read through most mappers; its history is shown only when the mapper's read answers
410 Gone, which a mapper does only after its policy check passed (the generic store does).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from carebridge.fhir.models import FhirResourceVersion
from carebridge.fhir.outcome import FhirError, bad_param, not_found
from carebridge.fhir.references import patient_reference, split
from carebridge.fhir.registry import Stored
from carebridge.kernel import deferred_rows
from carebridge.kernel.errors import ValidationProblem
from carebridge.kernel.ids import new_id
from carebridge.kernel.pagination import decode_cursor, encode_cursor

_V = FhirResourceVersion
MAX_HISTORY_COUNT = 100


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _patient_uuid(body: dict[str, Any] | None) -> uuid.UUID | None:
    ref = patient_reference(body) if body else None
    parsed = split(ref) if ref else None
    try:
        return uuid.UUID(parsed[1]) if parsed else None
    except ValueError:
        return None


def record(session: Session, resource_type: str, resource_id: str, *, method: str, stored: Stored | None,
           now: datetime, new: bool = False) -> None:
    """Append one version: the body as served (None for a delete) under the next sequence number.

    `new`: the resource was created just now under an id the server drew, so this is its first version and
    nothing can race for it; the row joins the session's next flush (one multi-row INSERT for an import's
    batch) instead of costing a query and a statement of its own. Otherwise the next number is read and the
    row inserted at once with ON CONFLICT DO NOTHING: an update that lost a race to another writer of the same
    resource finds its row not inserted and answers 409, without a SAVEPOINT around every write.
    """
    if stored is not None:
        version, at, body = stored.version, stored.last_updated, stored.body
    else:
        previous = latest(session, resource_type, resource_id)
        version = previous_version(previous)
        at, body = now, None
    if new:
        deferred_rows.add(session, _V, {"id": new_id(), "resource_type": resource_type, "resource_id": resource_id,
                                        "seq": 1, "version_id": version[:64], "method": method, "last_updated": at,
                                        "body": body, "patient_id": _patient_uuid(body)})
        return
    last = session.execute(select(func.max(_V.seq)).where(_V.resource_type == resource_type,
                                                          _V.resource_id == resource_id)).scalar()
    seq = (last or 0) + 1
    if stored is None and not version:
        version = str(seq)
    values = {"id": new_id(), "resource_type": resource_type, "resource_id": resource_id, "seq": seq,
              "version_id": version[:64], "method": method, "last_updated": at, "body": body,
              "patient_id": _patient_uuid(body)}
    session.flush()  # this resource's pending rows first: the insert below must see them
    result = session.execute(_insert(session).values(**values).on_conflict_do_nothing(
        index_elements=["resource_type", "resource_id", "seq"]))
    if getattr(result, "rowcount", 1) == 0:  # another request wrote a version between our read and insert
        raise FhirError(409, f"{resource_type}/{resource_id} was written concurrently; read it again and retry",
                        code="conflict")


def previous_version(previous: FhirResourceVersion | None) -> str:
    """The version id a deletion gets: one past the last version's when that is a number, else its sequence."""
    if previous is not None and previous.version_id.isdigit():
        return str(int(previous.version_id) + 1)
    return ""


def _insert(session: Session) -> Any:
    table = cast(Table, _V.__table__)
    return pg_insert(table) if session.get_bind().dialect.name == "postgresql" else sqlite_insert(table)


def latest(session: Session, resource_type: str, resource_id: str) -> FhirResourceVersion | None:
    return session.scalars(select(_V).where(_V.resource_type == resource_type, _V.resource_id == resource_id)
                           .order_by(_V.seq.desc()).limit(1)).first()


def is_deleted(session: Session, resource_type: str, resource_id: str) -> bool:
    row = latest(session, resource_type, resource_id)
    return row is not None and row.method == "DELETE"


def version(session: Session, resource_type: str, resource_id: str, version_id: str) -> FhirResourceVersion:
    row = session.scalars(select(_V).where(_V.resource_type == resource_type, _V.resource_id == resource_id,
                                           _V.version_id == version_id[:64]).order_by(_V.seq.desc()).limit(1)).first()
    if row is None:
        raise not_found(f"{resource_type}/{resource_id[:64]} has no version {version_id[:20]!r} here")
    if row.method == "DELETE":
        raise FhirError(410, f"version {version_id[:20]} of {resource_type}/{resource_id[:64]} is a deletion",
                        code="deleted")
    return row


def as_stored(row: FhirResourceVersion) -> Stored:
    assert row.body is not None  # noqa: S101 - deletions never reach here (callers check method)
    return Stored(body=row.body, version=row.version_id, last_updated=row.last_updated)


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad_param("_since", "an instant, e.g. 2026-03-10T09:30:00Z") from None
    if at.tzinfo is None:
        raise bad_param("_since", "needs a time zone (Z or +hh:mm)")
    return at


def _count(value: str | None) -> int:
    if value is None:
        return 20
    if not value.isdigit() or not 1 <= int(value) <= MAX_HISTORY_COUNT:
        raise bad_param("_count", f"an integer from 1 to {MAX_HISTORY_COUNT}")
    return int(value)


def page(session: Session, resource_type: str, resource_id: str | None, params: dict[str, str]
         ) -> tuple[list[FhirResourceVersion], str | None]:
    """Versions newest first (keyset on lastUpdated, row id: stable while new versions are written)."""
    unknown = set(params) - {"_since", "_count", "_cursor", "_format"}
    if unknown:
        name = sorted(unknown)[0]
        raise bad_param(name[:64], "not a history parameter; use _since, _count")
    count, since = _count(params.get("_count")), _since(params.get("_since"))
    stmt = select(_V).where(_V.resource_type == resource_type)
    if resource_id is not None:
        stmt = stmt.where(_V.resource_id == resource_id)
    if since is not None:
        stmt = stmt.where(_V.last_updated >= since)
    try:
        keys = decode_cursor(params.get("_cursor"), arity=2)
    except ValidationProblem:
        raise bad_param("_cursor", "not a cursor this server issued") from None
    if resource_id is not None:  # one resource: its own sequence orders it, even when two writes share an instant
        if keys is not None:
            if not isinstance(keys[0], int):
                raise bad_param("_cursor", "not a cursor this server issued")
            stmt = stmt.where(_V.seq < keys[0])
        rows = list(session.scalars(stmt.order_by(_V.seq.desc()).limit(count + 1)))
        nxt = encode_cursor([rows[count - 1].seq, None]) if len(rows) > count else None
        return rows[:count], nxt
    if keys is not None:
        try:
            at, rid = datetime.fromisoformat(str(keys[0])), uuid.UUID(str(keys[1]))
        except ValueError:
            raise bad_param("_cursor", "not a cursor this server issued") from None
        stmt = stmt.where(tuple_(_V.last_updated, _V.id) < tuple_(at, rid))
    rows = list(session.scalars(stmt.order_by(_V.last_updated.desc(), _V.id.desc()).limit(count + 1)))
    nxt = encode_cursor([rows[count - 1].last_updated.isoformat(), str(rows[count - 1].id)]) \
        if len(rows) > count else None
    return rows[:count], nxt


def entry(base: str, row: FhirResourceVersion) -> dict[str, Any]:
    """One history entry: the version, or for a deletion just its request and response."""
    full = f"{base}/{row.resource_type}/{row.resource_id}"
    out: dict[str, Any] = {"fullUrl": full}
    if row.body is not None:
        out["resource"] = row.body
    url = row.resource_type if row.method == "POST" else f"{row.resource_type}/{row.resource_id}"
    out["request"] = {"method": row.method, "url": url}
    status = {"POST": "201 Created", "PUT": "200 OK", "DELETE": "204 No Content"}.get(row.method, "200 OK")
    out["response"] = {"status": status, "etag": f'W/"{row.version_id}"', "lastModified": iso(row.last_updated)}
    return out


def bundle(base: str, self_url: str, entries: list[dict[str, Any]], next_url: str | None,
           total: int | None = None) -> dict[str, Any]:
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    out: dict[str, Any] = {"resourceType": "Bundle", "type": "history", "link": links, "entry": entries}
    if total is not None:
        out["total"] = total
    return out
