"""Loading consent directives as policy facts: one indexed query per decision, none when it cannot matter.

The patients context calls this from `load_patient_for` / `authorize` / `facts_for`, so every read path
(API, pages, exports, FHIR) sees the same live directives. Nothing is cached across requests: a revocation
commits and the very next decision no longer finds the grant.

Which categories a treating organization reaches by default is deployment configuration
(`CAREBRIDGE_CONSENT_DEFAULT_CATEGORIES`), installed once by `create_app` through `configure`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Uuid, bindparam, or_, select
from sqlalchemy.orm import Session

from carebridge.contexts.consent.models import ConsentDirective
from carebridge.kernel.db import utcnow
from carebridge.security import (
    DEFAULT_ORGANIZATION_CATEGORIES,
    ConsentFact,
    ConsentKind,
    DataCategory,
    Principal,
)
from carebridge.security.roles import SENSITIVE_CATEGORIES

ALL_CATEGORIES = "*"

_organization_default: frozenset[DataCategory] = DEFAULT_ORGANIZATION_CATEGORIES


def configure(default_categories: Iterable[str]) -> None:
    """Set the categories treating organizations reach by default (sensitive ones are always left out)."""
    global _organization_default  # one deployment-wide setting, installed at start-up
    chosen = {DataCategory(c) for c in default_categories if c in DataCategory.__members__}
    _organization_default = frozenset(chosen - SENSITIVE_CATEGORIES)


def organization_default() -> frozenset[DataCategory]:
    return _organization_default


def categories_of(values: list[object]) -> frozenset[DataCategory] | None:
    """Stored category values as the policy sees them; None is every category."""
    if ALL_CATEGORIES in values:
        return None
    return frozenset(DataCategory(str(v)) for v in values if str(v) in DataCategory.__members__)


_D = ConsentDirective
_COLUMNS = (_D.patient_id, _D.kind, _D.grantee_user_id, _D.grantee_organization_id, _D.categories, _D.purposes,
            _D.expires_at)


# Built once: building the filtered select per call cost ~250 µs of SQLAlchemy statement construction and
# cache-key work per read (every staff read of a record runs it), several times the query itself
# (docs/performance.md).
_UUID = Uuid()  # the foreign-key columns' own type is resolved only once their tables are mapped
_LIVE = select(*_COLUMNS).where(
    _D.patient_id.in_(bindparam("pids", expanding=True, type_=_UUID)), _D.revoked_at.is_(None),
    or_(_D.expires_at.is_(None), _D.expires_at > bindparam("at", type_=_D.expires_at.type)))
# an organization id of None matches no row (`= NULL`), as leaving the condition out would
_LIVE_NAMING = _LIVE.where(or_(_D.grantee_user_id == bindparam("uid", type_=_UUID),
                               _D.grantee_organization_id == bindparam("org", type_=_UUID)))


def consent_facts(session: Session, patient_ids: Iterable[uuid.UUID], *, principal: Principal | None = None,
                  now: datetime | None = None) -> dict[uuid.UUID, tuple[ConsentFact, ...]]:
    """The live directives of these patients in one query; with a principal, only those that name them."""
    ids = list(dict.fromkeys(patient_ids))
    if not ids:
        return {}
    params: dict[str, object] = {"pids": ids, "at": now or utcnow()}
    if principal is None:
        rows = session.execute(_LIVE, params)
    else:
        rows = session.execute(_LIVE_NAMING, {**params, "uid": principal.user_id, "org": principal.organization_id})
    out: dict[uuid.UUID, list[ConsentFact]] = {}
    for pid, kind, user_id, org_id, categories, purposes, expires_at in rows:
        out.setdefault(pid, []).append(ConsentFact(
            kind=ConsentKind(kind), grantee_user_id=user_id, grantee_organization_id=org_id,
            categories=categories_of(list(categories or [])), purposes=frozenset(str(p) for p in purposes or []),
            expires_at=expires_at))
    return {pid: tuple(facts) for pid, facts in out.items()}
