"""The compatibility brokering flow: `/diagnose` stores an app's symptom query, `/geo` answers it.

Queries belong to the API key that stored them: one app can neither read nor overwrite another's
`query_id`. A query is a care request without a patient, so it expires like one; posting the same
`query_id` again replaces the query (apps retry, and that API treated the id as theirs to reuse).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts.care.compat_schemas import (
    CompatAddress,
    CompatFacility,
    CompatGeolocation,
    CustId,
    DiagnoseRequest,
    DiagnoseResponse,
    GeoRequest,
    GeoResponse,
    QueryId,
)
from carebridge.contexts.care.config import CareConfig
from carebridge.contexts.care.models import CareRequest
from carebridge.contexts.care.schemas import FacilityMatch, TriageSummary
from carebridge.contexts.care.service import find_facilities, run_triage
from carebridge.contexts.integrations import ApiClient, ApiScope
from carebridge.engines.triage import Level
from carebridge.kernel.errors import NotFound
from carebridge.kernel.ids import new_id

GEO_LIMIT = 10


def diagnose(session: Session, client: ApiClient, *, data: DiagnoseRequest, config: CareConfig,
             now: datetime) -> DiagnoseResponse:
    client.require(ApiScope.care_diagnose)
    summary = run_triage(data.query)
    ref = data.query_id.query_id
    row = session.scalar(select(CareRequest).where(CareRequest.api_key_id == client.key_id,
                                                   CareRequest.query_ref == ref))
    if row is None:
        row = CareRequest(id=new_id(), api_key_id=client.key_id, query_ref=ref)
        session.add(row)
    row.symptoms, row.level, row.specialty = data.query, summary.level.value, summary.specialty
    row.triage, row.answer, row.lat, row.lng = summary.model_dump(mode="json"), None, None, None
    row.created_at, row.expires_at, row.saved = now, now + config.ttl, False
    session.flush()
    return DiagnoseResponse(query_id=QueryId(query_id=ref), triage=summary, expires_at=row.expires_at)


def _compat(rank: int, match: FacilityMatch) -> CompatFacility:
    return CompatFacility(
        name=match.name,
        address=CompatAddress(name=match.name, street=match.address.line, city=match.address.city,
                              state=match.address.state, zip=match.address.postal_code,
                              country=match.address.country),
        geolocation=CompatGeolocation(lat=match.lat, lng=match.lng), contact=match.phone,
        facility_type=match.type, ownership=match.ownership, specialties=match.specialties, stars=match.stars,
        reviews=match.reviews, rank=rank, estimated_time=match.travel_minutes,
    )


def geo(session: Session, client: ApiClient, *, data: GeoRequest, config: CareConfig, now: datetime) -> GeoResponse:
    client.require(ApiScope.care_geo)
    ref = data.query_id.query_id
    row = session.scalar(select(CareRequest).where(CareRequest.api_key_id == client.key_id,
                                                   CareRequest.query_ref == ref))
    if row is None or (row.expires_at is not None and row.expires_at <= now):
        raise NotFound(f"no diagnosis query {ref!r} for this app (send it to /diagnose first; queries expire)",
                       slug="unknown-query-id", errors=[{"field": "query_id.query_id", "in": "body",
                                                          "message": "unknown query_id"}])
    summary = TriageSummary.model_validate(row.triage)
    lat, lng = data.location.lat, data.location.lng
    search, _plan, found = find_facilities(session, config, level=Level(row.level), specialty=row.specialty,
                                           lat=lat, lng=lng, limit=GEO_LIMIT)
    row.lat, row.lng, row.customer_ref = lat, lng, data.cust_id.cust_id
    row.answer = {"search": search.model_dump(mode="json"), "facilities": [f.model_dump(mode="json") for f in found]}
    session.flush()
    return GeoResponse(query_id=QueryId(query_id=ref), cust_id=CustId(cust_id=data.cust_id.cust_id), triage=summary,
                       facilities=[_compat(i, m) for i, m in enumerate(found, start=1)])
