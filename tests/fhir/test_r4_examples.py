"""Every example published with FHIR R4 (4.0.1, /work/shared/data/fhir/r4_examples) goes in through the API
and comes back out unchanged.

Each file is created the way the API allows: a resource by `POST /fhir/R4/<type>`, a `transaction` or
`batch` Bundle by `POST /fhir/R4`, any other Bundle (collection, document, message, searchset, …) as a
Bundle resource. It is then read back and compared with what was sent, modulo `id`, `meta` and the few
elements a mapping documents as normalised (`NORMALISED`, per type, each with its reason). The examples'
`Patient/<id>` references are rewritten to a patient created here first (the examples' ids are not ids of
this server), and the comparison uses the rewritten resource, so the rewrite is not a difference.

A file whose POST the record refuses by design but `import-fhir` keeps as JSON (405: no create for the type;
422 `code-invalid`: codes the record does not hold) is listed in `KEPT_BY_IMPORT_TYPES` / `_FILES`: the test
checks the refusal, imports the file, reads each resource back through the API (the mapped type serves what
the importer kept) and compares it, references the importer resolved counting as equal. A file that neither
path can take is listed in `REFUSED` with the reason; the test checks that the refusal is the documented one
(an OperationOutcome with that status), so a refusal that goes away, or a new one, fails.

One app, one client and one database transaction serve the whole module (rolled back at the end): 314
fresh apps would be most of the run time.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from carebridge.fhir.cli import import_principal
from carebridge.fhir.import_state import FhirImportKey
from carebridge.fhir.importer import Importer
from carebridge.kernel.clock import FixedClock
from carebridge.kernel.db import Database
from carebridge.main import create_app
from carebridge.security import Role
from carebridge.settings import Settings
from tests.conftest import TEST_SECRET
from tests.factories import Factory

EXAMPLES = Path("/work/shared/data/fhir/r4_examples")
FILES = sorted(p.name for p in EXAMPLES.glob("*.json")) if EXAMPLES.is_dir() else []
FHIR = "application/fhir+json"

# type -> {dotted path: why}: where the served resource may differ from the one sent. Mostly elements the record
# adds (derived, or the record's own value); the few removals are references to things not stored here.
NORMALISED: dict[str, dict[str, str]] = {
    "AllergyIntolerance": {
        "type": "the record holds a type for every entry (allergy unless sent otherwise)",
        "criticality": "the record holds a criticality for every entry (its default unless sent)",
        "code.text": "the substance's words, which the record keeps as the entry's name",
        "reaction.manifestation.text": "the record keeps the manifestations as words",
    },
    "CarePlan": {
        "title": "the record needs a title: the category's words (or 'Care plan') when none was sent",
        "activity.detail.description": "the record keeps each activity as words",
    },
    "Encounter": {
        "serviceProvider": "the organization that recorded the encounter (one not stored here is replaced)",
        "participant": "a practitioner not registered here is dropped (the record links registered ones)",
        "location": "a facility not registered here is dropped",
        "appointment": "an appointment not booked here is dropped",
        "partOf": "an encounter not recorded here is dropped",
    },
    "Observation": {
        "interpretation": "derived from the shipped reference range of the LOINC code",
        "referenceRange": "the shipped reference range of the LOINC code",
        "referenceRange.high.system": "the range's UCUM unit",
        "referenceRange.high.code": "the range's UCUM unit",
        "category": "derived from the LOINC code (vital-signs or laboratory)",
        "category.text": "the category's words",
        "code.text": "the LOINC code's name from the shipped list",
        "effectiveDateTime": "the record keeps one instant per observation (the start of an effectivePeriod)",
        "encounter": "an encounter that is not open here is dropped (the record freezes closed encounters)",
    },
    "Patient": {
        "active": "every registered patient is active or not",
        "gender": "the record holds a sex for every patient (unknown unless sent)",
        "name.use": "the name the record keeps is the official one",
        "name.given": "given names split from the name's text",
        "contact.relationship.text": "the record keeps the relationship as words",
        "contact.name.text": "the record keeps the contact's name as words",
    },
}

# The API answers these by design with a refusal that `import-fhir` turns into "kept as JSON" (the record cannot
# hold them); the test checks the refusal, imports the file and reads the resource back through the API.
KEPT_BY_IMPORT_TYPES: dict[str, str] = {
    "MedicationRequest": "405: a prescription is signed here with decision support; an order from elsewhere is kept",
    "Practitioner": "405: the directory registers practitioners through the REST API",
    "PractitionerRole": "405: the directory registers roles through the REST API (no read: found by search)",
    "Organization": "405: organizations are registered through the REST API",
    "Location": "405: facilities are registered through the REST API",
    "HealthcareService": "405: a facility's services are registered through the REST API",
    "Schedule": "405: availability rules are managed through /api/v1/availability",
    "Slot": "405: slots are computed from availability rules (no read: found by search)",
    "Condition": "422 code-invalid: the problem list is coded in ICD-10; these examples are SNOMED CT",
    "Immunization": "422 code-invalid: vaccines are the national schedule's codes; these examples are CVX",
    "Consent": "422 code-invalid: each example says more than a directive (lapsed periods, nested provisions, "
               "custodian roles, no provision type)",
}
CODE_INVALID_OBSERVATIONS = {f"Observation-{n}.json" for n in (
    "656", "abdo-tender", "alcohol-type", "bgpanel", "blood-pressure-cancel", "blood-pressure-dar",
    "blood-pressure", "bloodgroup", "bmd", "clinical-gender", "date-lastmp", "ekg", "example-TPMT-diplotype",
    "example-TPMT-haplotype-one", "example-TPMT-haplotype-two", "example-diplotype1", "example-genetics-1",
    "example-genetics-2", "example-genetics-3", "example-genetics-4", "example-genetics-5",
    "example-genetics-brcapat", "example-haplotype1", "example-haplotype2", "example-phenotype", "eye-color",
    "f001", "f002", "f003", "f203", "f204", "f206", "gcs-qa", "glasgow", "head-circumference", "map-sitting",
    "mbp", "rhstatus", "satO2", "secondsmoke", "trachcare", "unsat", "vitals-panel", "vomiting",
)}  # not LOINC, or a LOINC code outside the shipped list (panels, genetics, scores): 422 code-invalid
KEPT_BY_IMPORT_FILES = CODE_INVALID_OBSERVATIONS | {"Bundle-hla-1.json"}  # a transaction with such observations

_START = "the record needs a start (period.start); the example has none"
_GIVEN = "the record needs a given name; the example has none (an animal, a fetus, a name as text only)"
_SUBJECT = "the record keeps observations of a patient registered here; the example's subject is none of those"
# file -> (status, why): refused by design, and not kept by import-fhir either.
REFUSED: dict[str, tuple[int, str]] = {
    **{f"AuditEvent-{n}.json": (405, "the audit trail is the server's own: an AuditEvent from elsewhere is not "
                                     "evidence of anything here") for n in (
        "example-disclosure", "example-error", "example-login", "example-logout", "example-media",
        "example-pixQuery", "example-rest", "example-search", "example")},
    **{f"Appointment-{n}.json": (405, "booking needs a free seat (/api/v1/appointments); a kept Appointment's "
                                      "patient (a participant) could not be checked by the store")
       for n in ("2docs", "example", "examplereq")},
    **{f"Encounter-{n}.json": (422, _START) for n in ("example", "f001", "f002", "f003", "f201", "f202", "xcda")},
    **{f"CarePlan-{n}.json": (422, _START) for n in ("example", "f202", "integrate", "obesity-narrative")},
    **{f"AllergyIntolerance-{n}.json": (422, "the record needs a category; a 'no known allergy' statement has "
                                             "none") for n in ("nka", "nkda", "nkla")},
    **{f"Observation-{n}.json": (422, _SUBJECT) for n in (
        "10minute-apgar-score", "1minute-apgar-score", "20minute-apgar-score", "2minute-apgar-score",
        "5minute-apgar-score", "decimal", "herd1", "vp-oyster")},
    "Observation-f205.json": (422, "the record keeps an observation's value; the example has none"),
    **{f"Patient-{n}.json": (422, _GIVEN) for n in ("animal", "dicom", "f001", "infant-fetal", "newborn", "proband")},
    "Patient-mom.json": (409, "its identifier (us-ssn 444222222) already belongs to another example patient"),
    "Patient-xcda.json": (409, "duplicate detection: it looks like an example patient registered before it"),
    "Questionnaire-qs1.json": (422, "the example lacks item.linkId, which R4 requires (1..1)"),
    "Bundle-bundle-transaction.json": (400, "entry 7 is POST ValueSet/$lookup: operations are not Bundle entries "
                                            "here"),
    "Bundle-xds.json": (422, "entry 0 is a DocumentReference linking its content by url, and the record holds a "
                             "document's bytes (code-invalid); import-fhir would keep it, but entry 1's "
                             "request.ifNoneExist is `Patient?identifier=…`, where R4 defines the query alone"),
}


class World:
    """The module's one client, a staff member's headers and the patient the examples' references name."""

    def __init__(self, client: TestClient, factory: Factory, tmp: Path) -> None:
        clinic = factory.clinic()
        self.client, self.database, self.clock, self.tmp = client, factory.database, factory.clock, tmp
        self.headers = {**factory.headers(clinic.users[Role.practitioner]), "Content-Type": FHIR}
        self.patient = str(clinic.patient_id)
        self.importer = Importer(self.database, import_principal(self.database, clinic.org, self.clock.now()),
                                 self.clock)

    def imported(self, name: str, body: dict[str, Any]) -> dict[str, str]:
        """Runs import-fhir on one file; its source keys -> `Type/<id>` here."""
        path = self.tmp / name
        path.write_text(json.dumps(body))
        report = self.importer.run([path])
        assert not report.rejected, report.rejected
        with self.database.unit_of_work() as s:
            rows = s.scalars(select(FhirImportKey)).all()
            return {r.source: f"{r.resource_type}/{r.resource_id}" for r in rows}


@pytest.fixture(scope="module")
def world(engine: Engine, db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    conn = engine.connect()
    outer = conn.begin()
    database = Database(db_url, engine=engine, bind=conn)
    clock = FixedClock(datetime(2026, 3, 10, 9, 30, tzinfo=UTC))
    settings = Settings(env="test", data_dir=tmp_path_factory.mktemp("r4") / "data", database_url=db_url,
                        secret_key=TEST_SECRET, log_json=True, log_level="WARNING")
    app = create_app(settings, database=database, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield World(client, Factory(app=app, database=database, clock=clock), tmp_path_factory.mktemp("files"))
    outer.rollback()
    conn.close()


def _patients_to(node: Any, target: str) -> Any:
    """The example with every `Patient/<x>` reference naming `target` instead."""
    if isinstance(node, dict):
        out = {k: _patients_to(v, target) for k, v in node.items()}
        ref = out.get("reference")
        if isinstance(ref, str) and "?" not in ref and (ref.startswith("Patient/") or "/Patient/" in ref):
            out["reference"] = f"Patient/{target}"
        return out
    if isinstance(node, list):
        return [_patients_to(v, target) for v in node]
    return node


def _without(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("id", "meta")}


def _diff(sent: Any, served: Any, at: str = "", refs: dict[str, str] | None = None) -> list[str]:
    """The paths where the served resource differs from the one sent (`+` only served, `-` only sent, `~` both).
    `refs`: references the importer resolved (source key -> `Type/<id>` here), which are not differences."""
    if isinstance(sent, dict) and isinstance(served, dict):
        out = [f"-{at}.{k}" for k in sent if k not in served] + [f"+{at}.{k}" for k in served if k not in sent]
        return out + [d for k in sent if k in served for d in _diff(sent[k], served[k], f"{at}.{k}", refs)]
    if isinstance(sent, list) and isinstance(served, list) and len(sent) == len(served):
        return [d for i, (a, b) in enumerate(zip(sent, served, strict=True))
                for d in _diff(a, b, f"{at}[{i}]", refs)]
    if sent == served or (at.endswith(".reference") and refs and refs.get(sent) == served):
        return []
    return [f"~{at}: sent {json.dumps(sent)[:120]} served {json.dumps(served)[:120]}"]


def _covered(path: str, listed: dict[str, str]) -> bool:
    """A listed path covers the elements inside it."""
    return any(path == p or path.startswith(f"{p}.") for p in listed)


def _same(resource_type: str, sent: dict[str, Any], served: dict[str, Any],
          refs: dict[str, str] | None = None) -> None:
    added = NORMALISED.get(resource_type, {})
    differences = [d for d in _diff(_without(sent), _without(served), refs=refs)
                   if not _covered(re.sub(r"\[\d+\]", "", d[2:].split(":")[0]), added)]
    assert not differences, f"{resource_type}: {differences}"


def _read(world: World, location: str) -> dict[str, Any]:
    path = location.split("/fhir/R4/", 1)[-1].split("/_history/", 1)[0]
    r = world.client.get(f"/fhir/R4/{path}", headers=world.headers)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _found(world: World, resource_type: str, rid: str, sent: dict[str, Any], refs: dict[str, str]) -> dict[str, Any]:
    """A kept resource read back: by id, or for a type without a read by the reference it is found by."""
    if resource_type == "Slot":
        path = f"Slot?schedule={refs[sent['schedule']['reference']]}&_count=100"
    elif resource_type == "PractitionerRole":
        path = f"PractitionerRole?practitioner={refs[sent['practitioner']['reference']]}&_count=100"
    else:
        return _read(world, f"{resource_type}/{rid}")
    r = world.client.get(f"/fhir/R4/{path}", headers=world.headers)
    assert r.status_code == 200, r.text
    found = [e["resource"] for e in r.json().get("entry", []) if e["resource"]["id"] == rid]
    assert len(found) == 1, (path, r.json())
    out: dict[str, Any] = found[0]
    return out


def _kept_by_import(world: World, name: str, sent: dict[str, Any]) -> None:
    refs = world.imported(name, sent)
    if sent["resourceType"] == "Bundle":
        pairs = [(e["fullUrl"], e["resource"]) for e in sent["entry"]]
    else:
        pairs = [(f"{sent['resourceType']}/{sent['id']}", sent)]
    for key, resource in pairs:
        rtype, _, rid = refs[key].partition("/")
        assert rtype == resource["resourceType"]
        _same(rtype, resource, _found(world, rtype, rid, resource, refs), refs)


@pytest.mark.parametrize("name", FILES)
def test_example_round_trips(world: World, name: str) -> None:
    original = json.loads((EXAMPLES / name).read_text())
    sent = _patients_to(copy.deepcopy(original), world.patient)
    kind = sent["resourceType"]
    is_exchange = kind == "Bundle" and sent.get("type") in ("transaction", "batch")
    url = "/fhir/R4" if is_exchange else f"/fhir/R4/{kind}"
    r = world.client.post(url, content=json.dumps(sent), headers=world.headers)
    if name in REFUSED:
        status, why = REFUSED[name]
        assert r.status_code == status, f"{name}: expected the documented refusal ({why}); got {r.text[:400]}"
        assert r.json()["resourceType"] == "OperationOutcome"
        return
    if kind in KEPT_BY_IMPORT_TYPES or name in KEPT_BY_IMPORT_FILES:
        assert r.status_code in (405, 422), r.text[:400]
        if r.status_code == 422:
            assert r.json()["issue"][0]["code"] == "code-invalid", r.text[:400]
        _kept_by_import(world, name, sent)
        return
    assert r.status_code in (200, 201), r.text[:1000]
    if not is_exchange:
        _same(kind, sent, _read(world, r.headers["Location"]))
        return
    answer = r.json()
    assert answer["type"] == f"{sent['type']}-response"
    for i, (entry, got) in enumerate(zip(sent.get("entry", []), answer["entry"], strict=True)):
        method = entry["request"]["method"]
        if method == "GET":  # a batch of reads: answered entry by entry (the examples' ids are not ids here)
            assert got["response"]["status"][:1] in ("2", "4"), (i, got)
            continue
        assert got["response"]["status"][:1] == "2", (i, got)
        if method in ("POST", "PUT") and "resource" in entry:
            served = _read(world, got["response"]["location"])
            _same(served["resourceType"], entry["resource"], served)
