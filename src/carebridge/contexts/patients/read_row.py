"""One patient with its identifiers, emergency contacts and organizations in one SQL statement.

`GET /patients/{id}` is the most frequent request of all. Four statements (row, identifiers, contacts,
organizations for the policy) cost ~380 µs of SQLAlchemy and driver time on SQLite; one statement with the
children aggregated as JSON in correlated subqueries costs ~105 µs (docs/performance.md). The JSON
functions differ by engine (SQLite `json_group_array`/`json_array`, PostgreSQL `json_agg`/`json_build_array`),
so the statement is built once per dialect. Children are ordered here, in Python, the same way on both.
"""

from __future__ import annotations

import json
import uuid
from functools import cache
from typing import Any, NamedTuple, cast

from sqlalchemy import Select, Table, bindparam, func, select
from sqlalchemy.orm import Session

from carebridge.contexts.patients.models import EmergencyContact, Patient, PatientIdentifier, PatientOrganization

_PATIENTS = cast(Table, Patient.__table__)
_IDENTIFIERS = cast(Table, PatientIdentifier.__table__)
_CONTACTS = cast(Table, EmergencyContact.__table__)
_ORGS = cast(Table, PatientOrganization.__table__)


class IdentifierRow(NamedTuple):
    id: uuid.UUID
    system: str
    value: str


class ContactRow(NamedTuple):
    id: uuid.UUID
    name: str
    relationship_: str | None
    phone: str | None
    email: str | None


class PatientRow(NamedTuple):
    row: Any  # the patients row: attribute access by column name
    identifiers: list[IdentifierRow]
    contacts: list[ContactRow]
    organization_ids: frozenset[uuid.UUID]


@cache
def _statement(dialect: str) -> Select[Any]:
    if dialect == "postgresql":
        agg, array = func.json_agg, func.json_build_array
    else:
        agg, array = func.json_group_array, func.json_array
    orgs = select(agg(_ORGS.c.organization_id)).where(_ORGS.c.patient_id == _PATIENTS.c.id).scalar_subquery()
    idents = (select(agg(array(_IDENTIFIERS.c.id, _IDENTIFIERS.c.system, _IDENTIFIERS.c.value)))
              .where(_IDENTIFIERS.c.patient_id == _PATIENTS.c.id).scalar_subquery())
    contacts = (select(agg(array(_CONTACTS.c.id, _CONTACTS.c.name, _CONTACTS.c.relationship, _CONTACTS.c.phone,
                                 _CONTACTS.c.email)))
                .where(_CONTACTS.c.patient_id == _PATIENTS.c.id).scalar_subquery())
    return (select(_PATIENTS, orgs.label("cb_orgs"), idents.label("cb_identifiers"), contacts.label("cb_contacts"))
            .where(_PATIENTS.c.id == bindparam("pid")))


def _json_list(value: Any) -> list[Any]:
    """An aggregate over no rows is NULL on PostgreSQL and `[]` on SQLite; drivers may already decode it."""
    if value is None:
        return []
    decoded = json.loads(value) if isinstance(value, str | bytes) else value
    return [item for item in decoded if item is not None]


def read_patient_row(session: Session, patient_id: uuid.UUID) -> PatientRow | None:
    row = session.execute(_statement(session.get_bind().dialect.name), {"pid": patient_id}).first()
    if row is None:
        return None
    identifiers = sorted((IdentifierRow(uuid.UUID(str(i)), s, v) for i, s, v in _json_list(row.cb_identifiers)),
                         key=lambda r: (r.system, r.value))
    contacts = sorted((ContactRow(uuid.UUID(str(c[0])), c[1], c[2], c[3], c[4])
                       for c in _json_list(row.cb_contacts)), key=lambda r: (r.name, str(r.id)))
    orgs = frozenset(uuid.UUID(str(o)) for o in _json_list(row.cb_orgs))
    return PatientRow(row, identifiers, contacts, orgs)
