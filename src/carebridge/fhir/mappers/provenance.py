"""Provenance <- the signatures on signed e-prescriptions (read and search), beside Provenances kept as JSON.

A signed prescription is the one place CareBridge records who vouched for a clinical statement: the prescriber
signs it (Ed25519, over a canonical JSON of its items), and from then on it cannot change. Its Provenance has
the prescription's id, targets each of its MedicationRequests, names the prescriber (a user account: a logical
reference by identifier, as for MedicationRequest.requester) and their organization, and carries the
signature's type and instant. The signature bytes and the content hash stay with the prescribing context,
which verifies them (`GET /api/v1/prescriptions/{id}/verify`): a copy here would be checked by nobody.
A draft has no Provenance.

Any other Provenance (an imported one, the R4 examples) has no domain home and is kept whole by the generic
store, read by its id and searched by `target`, `recorded`, `agent` (tested on each page); the store treats it as
about no patient, so it is staff-only. `patient` searches the prescriptions' Provenances only.
"""

from __future__ import annotations

import uuid
from typing import Any

from carebridge.contexts import prescribing
from carebridge.contexts.prescribing import PrescriptionRead, RxStatus
from carebridge.fhir.generic import GenericStore
from carebridge.fhir.mappers.common import NONE, by_id, iso, patient_id, stored, window
from carebridge.fhir.mappers.kept_json import kept_search
from carebridge.fhir.models import FhirGenericResource
from carebridge.fhir.outcome import FhirError, bad_param
from carebridge.fhir.registry import Context, Found, Mapper, Query, ReferenceParam, SearchParam, SortParam, Stored
from carebridge.fhir.search import uuid_param
from carebridge.kernel.errors import NotFound

USER_SYSTEM = "urn:carebridge:user"
AUTHOR_SIGNATURE = {"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.1",
                    "display": "Author's Signature"}
STORE = GenericStore("Provenance")


def _provenance(rx: PrescriptionRead) -> Stored | None:
    if rx.signed_at is None or rx.status == RxStatus.draft:
        return None
    who = {"identifier": {"system": USER_SYSTEM, "value": str(rx.prescriber_id)}, "display": "prescriber"}
    agent: dict[str, Any] = {
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                             "code": "author"}]}, "who": who}
    if rx.organization_id:
        agent["onBehalfOf"] = {"reference": f"Organization/{rx.organization_id}"}
    body = {"resourceType": "Provenance", "id": str(rx.id),
            "target": [{"reference": f"MedicationRequest/{item.id}"} for item in rx.items],
            "recorded": iso(rx.signed_at),
            "activity": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
                                     "code": "CREATE"}]},
            "agent": [agent],
            "signature": [{"type": [AUTHOR_SIGNATURE], "when": iso(rx.signed_at), "who": who,
                           "sigFormat": "application/jose"}]}
    return stored(body, rx.signed_at, rx.signed_at)


def _kept(ctx: Context, rid: uuid.UUID) -> bool:
    row = ctx.session.get(FhirGenericResource, rid)
    return row is not None and row.resource_type == "Provenance"


def read(ctx: Context, rid: uuid.UUID) -> Stored:
    if _kept(ctx, rid):
        return STORE.read(ctx, rid)
    found = _provenance(prescribing.get_prescription(ctx.session, ctx.principal, rx_id=rid, now=ctx.now))
    if found is None:
        raise FhirError(404, f"no Provenance with id {rid}: the prescription is not signed", code="not-found")
    return found


def _domain(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    targets = query.params.get("target", [])
    when = window(query, "recorded")
    agents = [v.rpartition("|")[2] for v in query.params.get("agent", [])]

    def keep(s: Stored) -> bool:
        from_rx = s.body["agent"][0]["who"]["identifier"]["value"]
        at = s.last_updated
        return ((when.since is None or at >= when.since) and (when.before is None or at < when.before)
                and when.keep(at) and all(a == from_rx for a in agents))

    if targets:
        wanted = {t.rpartition("/")[2] for t in targets}
        if len(wanted) != 1 or any(t.count("/") and not t.startswith("MedicationRequest/") for t in targets):
            return NONE
        item = uuid_param("target", next(iter(wanted)))
        if item is None:
            return NONE
        try:
            rx = prescribing.prescription_of_item(ctx.session, ctx.principal, item_id=item, now=ctx.now)
        except NotFound:
            return NONE
        found = _provenance(rx)
        return Found(items=[found] if found is not None and keep(found) else [], next_cursor=None)
    pid = patient_id(query, "patient")
    if pid is None or count == 0:
        return NONE
    page = prescribing.list_for_patient(ctx.session, ctx.principal, patient_id=pid, status=None, limit=count,
                                        cursor=cursor, now=ctx.now)
    items = [s for s in (_provenance(rx) for rx in page.items) if s is not None and keep(s)]
    return Found(items=items, next_cursor=page.next_cursor)


def search(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    if (found := by_id(ctx, query, read)) is not None:
        return found
    if "patient" in query.params:  # only the prescriptions' Provenances are about a patient here
        if cursor is not None and not cursor.startswith("d."):
            raise bad_param("_cursor", "not a cursor this server issued")
        found = _domain(ctx, query, count, cursor[2:] if cursor else None)
        return Found(items=found.items, next_cursor=f"d.{found.next_cursor}" if found.next_cursor else None)
    if not query.params.get("target"):
        return kept_search(STORE, ctx, query, count, cursor)
    if cursor is None:
        found = _domain(ctx, query, count, None)
        rest = kept_search(STORE, ctx, query, count - len(found.items), None)
        return Found(items=[*found.items, *rest.items], next_cursor=f"k.{rest.next_cursor}" if rest.next_cursor
                     else None)
    rest = kept_search(STORE, ctx, query, count, cursor[2:])
    return Found(items=rest.items, next_cursor=f"k.{rest.next_cursor}" if rest.next_cursor else None)


def update(ctx: Context, body: dict[str, Any], rid: uuid.UUID | None, if_match: str | None) -> Stored:
    """Only a kept Provenance changes: a signature's is the prescription's record, and no id is taken over."""
    if rid is None or not _kept(ctx, rid):
        raise FhirError(405, "only a Provenance kept as JSON can be updated (no update-as-create): a signed "
                             "prescription's Provenance is read-only", code="not-supported")
    return STORE.update(ctx, body, rid, if_match)


def delete(ctx: Context, rid: uuid.UUID) -> None:
    if not _kept(ctx, rid):
        raise FhirError(405, "a signed prescription's Provenance cannot be deleted", code="not-supported")
    STORE.delete(ctx, rid)


MAPPER = Mapper(
    type="Provenance",
    documentation="The signatures on signed e-prescriptions (read-only; id = the prescription's), and Provenances "
                  "from elsewhere kept as validated JSON (staff-only; update and delete apply to these only).",
    search_params=(SearchParam("_id", "token", "A prescription's id, or a kept Provenance's."),
                   SearchParam("patient", "reference", "Patient/<id>: the signatures on their prescriptions."),
                   SearchParam("target", "reference", "MedicationRequest/<id> (or any reference, for kept ones)."),
                   SearchParam("recorded", "date", "When signed (recorded); eq, ne, gt, lt, ge, le, sa, eb."),
                   SearchParam("agent", "reference", "The prescriber's user id (urn:carebridge:user|<id>), or a "
                                                     "kept one's agent reference.")),
    search=search, read=read, create=STORE.create, update=update, delete=delete,
    patient_param="patient",
    references=(ReferenceParam("target", ("MedicationRequest",), "target"),),
    sort_params=(SortParam("recorded", lambda b: b.get("recorded")),))
