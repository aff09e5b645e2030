"""MedicationRequest and MedicationDispense <- the prescribing context (read and search).

A prescription holds several medicines; FHIR's MedicationRequest holds one, so each prescribed medicine is
one MedicationRequest (its id is the item's), grouped by `groupIdentifier` = the prescription. A search page
is one page of the patient's prescriptions, so it may hold more than `_count` requests when prescriptions
carry several medicines. Create is not offered: a prescription is signed by a prescriber with decision
support (`/api/v1/prescriptions`), which an imported order cannot have been through.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from carebridge.contexts import prescribing
from carebridge.contexts.prescribing import DispenseEntry, PrescriptionRead, RxStatus
from carebridge.fhir.mappers.common import NONE, UCUM, Window, by_id, iso, one_code, patient_id, prune, stored, window
from carebridge.fhir.registry import Context, Found, Mapper, Query, ReferenceParam, SearchParam, SortParam, Stored
from carebridge.fhir.search import collect

RX_SYSTEM = "urn:carebridge:prescription"
STATUS = {RxStatus.draft: "draft", RxStatus.signed: "active", RxStatus.partially_dispensed: "active",
          RxStatus.dispensed: "active", RxStatus.completed: "completed", RxStatus.cancelled: "cancelled",
          RxStatus.expired: "stopped"}


def _requests(rx: PrescriptionRead) -> list[Stored]:
    out = []
    for item in rx.items:
        body = {
            "resourceType": "MedicationRequest", "id": str(item.id), "status": STATUS[rx.status], "intent": "order",
            "groupIdentifier": {"system": RX_SYSTEM, "value": str(rx.id)},
            "medicationCodeableConcept": {"text": item.medication},
            "subject": {"reference": f"Patient/{rx.patient_id}"}, "authoredOn": iso(rx.signed_at or rx.created_at),
            "dosageInstruction": [prune({
                "text": item.instructions or None,
                "timing": {"repeat": {"frequency": item.times_per_day, "period": 1, "periodUnit": "d",
                                      "boundsDuration": {"value": item.duration_days, "unit": "d", "system": UCUM,
                                                         "code": "d"}}},
                "route": {"text": item.route},
                "doseAndRate": [{"doseQuantity": {"value": item.dose, "unit": item.unit}}]})],
            "dispenseRequest": {"quantity": {"value": item.quantity}, "numberOfRepeatsAllowed": item.refills},
            "note": [{"text": rx.note}] if rx.note else None,
        }
        out.append(stored(prune(body), rx.signed_at or rx.created_at, rx.created_at))
    return out


def read_request(ctx: Context, rid: uuid.UUID) -> Stored:
    rx = prescribing.prescription_of_item(ctx.session, ctx.principal, item_id=rid, now=ctx.now)
    return next(s for s in _requests(rx) if s.body["id"] == str(rid))


def _text_test(element: str, wanted: str) -> Callable[[Stored], bool]:
    def test(s: Stored) -> bool:
        return bool(wanted in str((s.body.get(element) or {}).get("text") or "").casefold())
    return test


def search_requests(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    if (found := by_id(ctx, query, read_request)) is not None:
        return found
    pid = patient_id(query, "patient", "subject")
    status_ok, status = one_code(query, "status", None)
    intent_ok, intent = one_code(query, "intent", None)
    when = window(query, "authoredon")
    if pid is None or not (status_ok and intent_ok) or intent not in (None, "order") or when.empty:
        return NONE
    wanted = [s for s, f in STATUS.items() if f == status] if status else []
    if status and not wanted:
        return NONE
    tests = [_text_test("medicationCodeableConcept", v.rpartition("|")[2].strip().casefold())
             for v in query.params.get("code", [])]
    if status:
        tests.append(lambda s: s.body["status"] == status)
    tests.append(_when_test("authoredOn", when))
    if count == 0:
        return NONE
    page = prescribing.list_for_patient(ctx.session, ctx.principal, patient_id=pid,
                                        status=wanted[0] if len(wanted) == 1 else None, limit=count, cursor=cursor,
                                        now=ctx.now)
    items = [s for rx in page.items for s in _requests(rx) if all(t(s) for t in tests)]
    return Found(items=items, next_cursor=page.next_cursor)


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _when_test(element: str, when: Window) -> Callable[[Stored], bool]:
    def test(s: Stored) -> bool:
        value = str(s.body[element])
        return _within(value, when.since, when.before) and when.keep(_at(value))
    return test


def _within(value: str, since: datetime | None, before: datetime | None) -> bool:
    at = _at(value)
    return (since is None or at >= since) and (before is None or at < before)


MEDICATION_REQUEST = Mapper(
    type="MedicationRequest", documentation="Each medicine of a signed (or draft) e-prescription, per patient.",
    search_params=(SearchParam("_id", "token", "The prescribed medicine's id."),
                   SearchParam("patient", "reference", "Patient/<id>: required (or subject)."),
                   SearchParam("subject", "reference", "Patient/<id>."),
                   SearchParam("status", "token", "draft | active | completed | cancelled | stopped."),
                   SearchParam("intent", "token", "order (the only intent kept)."),
                   SearchParam("code", "token", "Words of the medicine's name (case-insensitive)."),
                   SearchParam("authoredon", "date", "When signed (or drafted); eq, ne, gt, lt, ge, le, sa, eb.")),
    search=search_requests, read=read_request, patient_param="patient",
    references=(ReferenceParam("patient", ("Patient",), "subject"), ReferenceParam("subject", ("Patient",), "subject")),
    sort_params=(SortParam("authoredon", lambda b: b.get("authoredOn")),),
    not_kept=("(read only) requester (a user account, not a Practitioner resource), the signature and content "
              "hash (GET /api/v1/prescriptions/{id}/verify), decision-support alerts, refill requests",))


# --- MedicationDispense ---------------------------------------------------------------------------------------


def dispense(d: DispenseEntry) -> Stored:
    body = {"resourceType": "MedicationDispense", "id": str(d.id), "status": "completed",
            "medicationCodeableConcept": {"text": d.medication}, "subject": {"reference": f"Patient/{d.patient_id}"},
            "authorizingPrescription": [{"reference": f"MedicationRequest/{d.item_id}"}],
            "quantity": {"value": d.quantity, "unit": d.unit}, "whenHandedOver": iso(d.at),
            "performer": [{"actor": {"reference": f"Organization/{d.organization_id}"}}] if d.organization_id else None}
    return stored(prune(body), d.at, d.at)


def read_dispense(ctx: Context, rid: uuid.UUID) -> Stored:
    return dispense(prescribing.get_dispense(ctx.session, ctx.principal, dispense_id=rid, now=ctx.now))


def search_dispenses(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
    if (found := by_id(ctx, query, read_dispense)) is not None:
        return found
    pid = patient_id(query, "patient", "subject")
    status_ok, status = one_code(query, "status", None)
    when = window(query, "whenhandedover")
    if pid is None or not status_ok or status not in (None, "completed") or when.empty:
        return NONE
    tests: list[Callable[[Stored], bool]] = [_when_test("whenHandedOver", when)]
    tests += [_text_test("medicationCodeableConcept", v.rpartition("|")[2].strip().casefold())
              for v in query.params.get("code", [])]
    for v in query.params.get("prescription", []):
        wanted = f"MedicationRequest/{v.rpartition('/')[2]}"
        tests.append(lambda s, w=wanted: s.body["authorizingPrescription"][0]["reference"] == w)  # type: ignore[misc]

    def fetch(cur: str | None, limit: int) -> tuple[list[Any], str | None]:
        page = prescribing.list_dispenses(ctx.session, ctx.principal, patient_id=pid, limit=limit, cursor=cur,
                                          now=ctx.now)
        return list(page.items), page.next_cursor

    filtered = bool(when.since or when.before or when.holes) or len(tests) > 1
    return collect(fetch, lambda d: all(t(dispense(d)) for t in tests), dispense, count, cursor, filtered=filtered)


MEDICATION_DISPENSE = Mapper(
    type="MedicationDispense", documentation="Medicines handed over by a pharmacy against a prescription.",
    search_params=(SearchParam("_id", "token", "The dispensing's id."),
                   SearchParam("patient", "reference", "Patient/<id>: required (or subject)."),
                   SearchParam("subject", "reference", "Patient/<id>."),
                   SearchParam("status", "token", "completed (the only status kept)."),
                   SearchParam("code", "token", "Words of the medicine's name."),
                   SearchParam("prescription", "reference", "MedicationRequest/<id>."),
                   SearchParam("whenhandedover", "date", "When handed over; eq, ne, gt, lt, ge, le, sa, eb.")),
    search=search_dispenses, read=read_dispense, patient_param="patient",
    references=(ReferenceParam("patient", ("Patient",), "subject"),
                ReferenceParam("prescription", ("MedicationRequest",), "authorizingPrescription")),
    not_kept=("(read only) the pharmacist (a user account)",))
