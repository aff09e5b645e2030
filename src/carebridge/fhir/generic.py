"""The store for resource types no context owns: validated against R4, kept as JSON, nothing dropped.

An import must not lose a resource because CareBridge has no table for it (a `Basic`, a `Goal`, a
`QuestionnaireResponse`). Such a resource is validated with fhir.resources and kept whole. Its patient
(`patient`, `subject` or `beneficiary` naming a Patient) is a column, and access to it is the patients
policy's decision on that patient (record read/write, clinical category), audited like any clinical read;
a resource about no patient is readable by staff and writable by those who may write the record.
Search: `_id`, `_lastUpdated`, `patient`, `subject` (a Patient reference), `_sort=_lastUpdated`.
"""

from __future__ import annotations

import copy
import importlib.util
import uuid
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, not_, or_, select, tuple_
from sqlalchemy.orm import Session

from carebridge.contexts import audit, patients
from carebridge.fhir import history
from carebridge.fhir.history import iso
from carebridge.fhir.models import FhirGenericResource
from carebridge.fhir.outcome import FhirError, bad_param, not_found
from carebridge.fhir.references import rewrite, split
from carebridge.fhir.registry import Context, Found, Mapper, Query, ReferenceParam, SearchParam, Stored
from carebridge.fhir.search import InstantTest, instant_param, uuid_param
from carebridge.fhir.validate import check
from carebridge.kernel import deferred_rows
from carebridge.kernel.errors import ValidationProblem
from carebridge.kernel.pagination import decode_cursor, encode_cursor
from carebridge.security import (
    STAFF_ROLES,
    DataCategory,
    Permission,
    Principal,
    decide_patient_access,
    require,
)

_G = FhirGenericResource

# The resource types of FHIR R4 (4.0.1). Those the R4B models cannot validate (the MedicinalProduct family and
# others R4B replaced) are left out, and so are the two that are messages rather than records.
_R4_NAMES = """
Account ActivityDefinition AdverseEvent AllergyIntolerance Appointment AppointmentResponse AuditEvent Basic Binary
BiologicallyDerivedProduct BodyStructure Bundle CapabilityStatement CarePlan CareTeam CatalogEntry ChargeItem
ChargeItemDefinition Claim ClaimResponse ClinicalImpression CodeSystem Communication CommunicationRequest
CompartmentDefinition Composition ConceptMap Condition Consent Contract Coverage CoverageEligibilityRequest
CoverageEligibilityResponse DetectedIssue Device DeviceDefinition DeviceMetric DeviceRequest DeviceUseStatement
DiagnosticReport DocumentManifest DocumentReference EffectEvidenceSynthesis Encounter Endpoint EnrollmentRequest
EnrollmentResponse EpisodeOfCare EventDefinition Evidence EvidenceVariable ExampleScenario ExplanationOfBenefit
FamilyMemberHistory Flag Goal GraphDefinition Group GuidanceResponse HealthcareService ImagingStudy Immunization
ImmunizationEvaluation ImmunizationRecommendation ImplementationGuide InsurancePlan Invoice Library Linkage List
Location Measure MeasureReport Media Medication MedicationAdministration MedicationDispense MedicationKnowledge
MedicationRequest MedicationStatement MedicinalProduct MedicinalProductAuthorization
MedicinalProductContraindication MedicinalProductIndication MedicinalProductIngredient MedicinalProductInteraction
MedicinalProductManufactured MedicinalProductPackaged MedicinalProductPharmaceutical
MedicinalProductUndesirableEffect MessageDefinition MessageHeader MolecularSequence NamingSystem NutritionOrder
Observation ObservationDefinition OperationDefinition OperationOutcome Organization OrganizationAffiliation
Parameters Patient PaymentNotice PaymentReconciliation Person PlanDefinition Practitioner PractitionerRole
Procedure Provenance Questionnaire QuestionnaireResponse RelatedPerson RequestGroup ResearchDefinition
ResearchElementDefinition ResearchStudy ResearchSubject RiskAssessment RiskEvidenceSynthesis Schedule
SearchParameter ServiceRequest Slot Specimen SpecimenDefinition StructureDefinition StructureMap Subscription
Substance SubstanceNucleicAcid SubstancePolymer SubstanceProtein SubstanceReferenceInformation
SubstanceSourceMaterial SubstanceSpecification SupplyDelivery SupplyRequest Task TerminologyCapabilities
TestReport TestScript ValueSet VerificationResult VisionPrescription
"""
R4_TYPES = frozenset(_R4_NAMES.split())
NOT_STORED = frozenset({"OperationOutcome", "Parameters"})
PATIENT_ELEMENTS = ("patient", "subject", "beneficiary")


def _validatable(resource_type: str) -> bool:
    """Whether the R4B models have this type, without importing all of them (the module is the name, lowercased)."""
    return importlib.util.find_spec(f"fhir.resources.R4B.{resource_type.lower()}") is not None


@cache
def storable_types() -> frozenset[str]:
    return frozenset(t for t in R4_TYPES - NOT_STORED if _validatable(t))


PARAMS = (
    SearchParam("_id", "token", "The resource id."),
    SearchParam("_lastUpdated", "date", "When it was last written here; eq, ne, gt, lt, ge, le, sa, eb prefixes."),
    SearchParam("patient", "reference", "The patient it is about (Patient/<id>), from patient/subject/beneficiary."),
    SearchParam("subject", "reference", "The same as patient: only Patient subjects are indexed."),
)
REFERENCES = (ReferenceParam("patient", ("Patient",), "patient"), ReferenceParam("subject", ("Patient",), "subject"))


def _patient_of(resource_type: str, body: dict[str, Any]) -> uuid.UUID | None:
    """The patient the resource is about; 422 if it names a Patient that cannot be on this server."""
    for key in PATIENT_ELEMENTS:
        value = body.get(key)
        refs = [value] if isinstance(value, dict) else []
        for ref in refs:
            text = ref.get("reference")
            parsed = split(text) if isinstance(text, str) else None
            if parsed is None or parsed[0] != "Patient":
                continue
            try:
                return uuid.UUID(parsed[1])
            except ValueError:
                raise FhirError(422, f"{key} names Patient/{parsed[1][:64]}, which is not a patient here",
                                code="value", expression=[f"{resource_type}.{key}"]) from None
    return None


def _stored(row: FhirGenericResource) -> Stored:
    return Stored(body=row.body, version=str(row.version), last_updated=row.last_updated)


def _record(ctx: Context, action: str, resource_type: str, resource_id: uuid.UUID,
            patient_id: uuid.UUID | None) -> None:
    audit.record(ctx.session, ctx.principal, action=action, resource_type=resource_type, resource_id=resource_id,
                 patient_id=patient_id, purpose=ctx.purpose, at=ctx.now)


def _authorize(ctx: Context, resource_type: str, resource_id: uuid.UUID, patient_id: uuid.UUID | None, *,
               write: bool, action: str) -> None:
    """The patients policy on the resource's patient (refusals audited there); staff-only when there is none."""
    if patient_id is None:
        if write:
            require(ctx.principal, Permission.record_write)
        elif ctx.principal.role not in STAFF_ROLES:
            raise FhirError(403, f"a {resource_type} about no patient is readable by staff only", code="forbidden")
        return
    patients.load_patient_for(ctx.session, ctx.principal, patient_id,
                              Permission.record_write if write else Permission.record_read,
                              purpose=ctx.purpose, now=ctx.now, audit_success=False, action=action,
                              category=DataCategory.clinical)
    _record(ctx, action, resource_type, resource_id, patient_id)


def _with_meta(body: dict[str, Any], resource_id: uuid.UUID, version: int, at: datetime) -> dict[str, Any]:
    meta = {k: v for k, v in (body.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")}
    return {**body, "id": str(resource_id), "meta": {**meta, "versionId": str(version), "lastUpdated": iso(at)}}


def _row(session: Session, resource_type: str, resource_id: uuid.UUID, *, lock: bool = False
         ) -> FhirGenericResource | None:
    """The row; `lock` takes it FOR UPDATE (PostgreSQL), so two writers of one resource take turns."""
    row = session.get(_G, resource_id, with_for_update=lock)
    return row if row is not None and row.resource_type == resource_type else None


class GenericStore:
    """The mapper functions for one resource type kept as JSON."""

    def __init__(self, resource_type: str) -> None:
        self.type = resource_type

    def read(self, ctx: Context, resource_id: uuid.UUID) -> Stored:
        row = _row(ctx.session, self.type, resource_id)
        if row is None:
            raise not_found(f"no {self.type} with id {resource_id}")
        _authorize(ctx, self.type, resource_id, row.patient_id, write=False, action="read")
        if row.deleted:  # only after the policy allowed the read: the history behind it is theirs to see
            raise FhirError(410, f"{self.type}/{resource_id} was deleted", code="deleted",
                            headers={"ETag": f'W/"{row.version}"'})
        return _stored(row)

    def create(self, ctx: Context, body: dict[str, Any], resource_id: uuid.UUID | None,
               if_match: str | None) -> Stored:
        check(self.type, body)
        patient_id = _patient_of(self.type, body)
        rid = uuid.uuid4()
        _authorize(ctx, self.type, rid, patient_id, write=True, action="create")
        kept = _with_meta(body, rid, 1, ctx.now)
        deferred_rows.add(ctx.session, _G, {"id": rid, "resource_type": self.type, "version": 1,
                                            "last_updated": ctx.now, "patient_id": patient_id, "body": kept,
                                            "deleted": False})  # written with the rest of an import's batch
        return Stored(body=kept, version="1", last_updated=ctx.now)

    def update(self, ctx: Context, body: dict[str, Any], resource_id: uuid.UUID | None,
               if_match: str | None) -> Stored:
        """Replaces the resource; a new id from the client creates it (update-as-create keeps import ids)."""
        check(self.type, body)
        if resource_id is None or body.get("id") != str(resource_id):
            raise FhirError(400, "the resource's id must equal the id in the URL", code="invalid",
                            expression=[f"{self.type}.id"])
        patient_id = _patient_of(self.type, body)
        row = ctx.session.get(_G, resource_id, with_for_update=True)
        if row is not None and row.resource_type != self.type:
            raise FhirError(409, f"id {resource_id} is taken by another resource type", code="conflict")
        if row is None:
            if if_match is not None:
                raise not_found(f"no {self.type} with id {resource_id} to match If-Match against")
            _authorize(ctx, self.type, resource_id, patient_id, write=True, action="create")
            row = _G(id=resource_id, resource_type=self.type, version=1, last_updated=ctx.now,
                     patient_id=patient_id, body=_with_meta(body, resource_id, 1, ctx.now))
            ctx.session.add(row)
            ctx.session.flush()
            return _stored(row)
        _authorize(ctx, self.type, resource_id, row.patient_id, write=True, action="update")
        if patient_id != row.patient_id:
            _authorize(ctx, self.type, resource_id, patient_id, write=True, action="update")
        if if_match is not None and if_match != str(row.version):
            raise FhirError(412, f"{self.type}/{resource_id} is at version {row.version}, not {if_match}",
                            code="conflict")
        row.version += 1
        row.last_updated = ctx.now
        row.patient_id = patient_id
        row.deleted = False
        row.body = _with_meta(body, resource_id, row.version, ctx.now)
        ctx.session.flush()
        return _stored(row)

    def delete(self, ctx: Context, resource_id: uuid.UUID) -> None:
        row = _row(ctx.session, self.type, resource_id, lock=True)
        if row is None:
            raise not_found(f"no {self.type} with id {resource_id}")
        _authorize(ctx, self.type, resource_id, row.patient_id, write=True, action="delete")
        if not row.deleted:
            row.deleted = True
            row.version += 1
            row.last_updated = ctx.now
            ctx.session.flush()

    # --- search -----------------------------------------------------------------------------------------------

    def _conditions(self, ctx: Context, query: Query) -> tuple[list[ColumnElement[bool]], bool]:
        """SQL conditions, and whether rows still need the per-patient policy test (staff over many patients)."""
        where: list[ColumnElement[bool]] = [_G.resource_type == self.type, not_(_G.deleted)]
        for value in query.params.get("_id", []):
            rid = uuid_param("_id", value)
            where.append(_G.id == rid if rid is not None else false())
        for value in query.params.get("_lastUpdated", []):
            where.append(_instant_sql(instant_param("_lastUpdated", value)))
        wanted: set[uuid.UUID | None] = set()
        for name in ("patient", "subject"):
            for value in query.params.get(name, []):
                parsed = split(value) if "/" in value else ("Patient", value)
                if parsed is None or parsed[0] != "Patient":
                    raise bad_param(name, "only Patient references are indexed here (Patient/<id>)")
                wanted.add(uuid_param(name, parsed[1]))
        if wanted:
            if len(wanted) > 1 or None in wanted:
                return [false()], False
            pid = next(iter(wanted))
            assert pid is not None  # noqa: S101 - None excluded above
            patients.load_patient_for(ctx.session, ctx.principal, pid, Permission.record_read, purpose=ctx.purpose,
                                      now=ctx.now, audit_success=False, action="search",
                                      category=DataCategory.clinical)
            where.append(_G.patient_id == pid)
            return where, False
        principal = ctx.principal
        if principal.role not in STAFF_ROLES:
            mine = _reachable(principal)
            where.append(_G.patient_id.in_(mine) if mine else false())
            return where, True
        return where, True

    def _fetch(self, ctx: Context, query: Query, cursor: str | None, limit: int,
               where: list[ColumnElement[bool]]) -> tuple[list[FhirGenericResource], str | None]:
        descending = query.sort == ("-_lastUpdated",)
        stmt: Select[FhirGenericResource] = select(_G).where(and_(*where))
        keys = _cursor(cursor)
        if keys is not None:
            key = tuple_(_G.last_updated, _G.id)
            stmt = stmt.where(key < tuple_(*keys) if descending else key > tuple_(*keys))
        order = (_G.last_updated.desc(), _G.id.desc()) if descending else (_G.last_updated, _G.id)
        rows = list(ctx.session.scalars(stmt.order_by(*order).limit(limit + 1)))
        nxt = encode_cursor([rows[limit - 1].last_updated.isoformat(), str(rows[limit - 1].id)]) \
            if len(rows) > limit and limit > 0 else None
        return rows[:limit], nxt

    def search(self, ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
        where, per_row = self._conditions(ctx, query)
        items: list[Stored] = []
        scanned = 0
        while count > 0:
            rows, cursor = self._fetch(ctx, query, cursor, count - len(items), where)
            scanned += len(rows)
            allowed = _allowed(ctx, rows) if per_row else {r.id for r in rows}
            kept = [r for r in rows if r.id in allowed]
            for pid in dict.fromkeys(r.patient_id for r in kept if r.patient_id is not None):
                audit.record(ctx.session, ctx.principal, action="search", resource_type=self.type,
                             patient_id=pid, purpose=ctx.purpose, at=ctx.now)
            items.extend(_stored(r) for r in kept)
            if cursor is None or len(items) >= count or scanned >= 2_000:
                break
        return Found(items=items, next_cursor=cursor if count > 0 else None)

    def total(self, ctx: Context, query: Query) -> int | None:
        where, per_row = self._conditions(ctx, query)
        total, cursor, scanned = 0, None, 0
        while True:
            rows, cursor = self._fetch(ctx, query, cursor, 100, where)
            scanned += len(rows)
            total += len(_allowed(ctx, rows)) if per_row else len(rows)
            if cursor is None:
                return total
            if scanned >= 10_000:
                return None

    def mapper(self) -> Mapper:
        return Mapper(type=self.type, documentation=f"{self.type} without a CareBridge home: kept as validated "
                      "JSON; access by the patients policy on its patient, staff-only when it has none.",
                      search_params=PARAMS, search=self.search, read=self.read, create=self.create,
                      update=self.update, delete=self.delete, total=self.total, patient_param="patient",
                      references=REFERENCES, native_sort=frozenset({"_lastUpdated", "-_lastUpdated"}), generic=True)


def _reachable(principal: Principal) -> list[uuid.UUID]:
    """The patients a patient or caregiver may reach at all; the policy still decides each one."""
    ids = list(principal.caregiver_of)
    if principal.patient_id is not None:
        ids.append(principal.patient_id)
    return ids


def _allowed(ctx: Context, rows: Iterable[FhirGenericResource]) -> set[uuid.UUID]:
    rows = list(rows)
    facts = patients.facts_for(ctx.session, {r.patient_id for r in rows if r.patient_id is not None})
    out = set()
    for r in rows:
        if r.patient_id is None:
            if ctx.principal.role in STAFF_ROLES:
                out.add(r.id)
        elif r.patient_id in facts and decide_patient_access(ctx.principal, Permission.record_read,
                                                             facts[r.patient_id], DataCategory.clinical).allowed:
            out.add(r.id)
    return out


def _cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    try:
        keys = decode_cursor(cursor, arity=2)
        return None if keys is None else (datetime.fromisoformat(str(keys[0])), uuid.UUID(str(keys[1])))
    except (ValidationProblem, ValueError):
        raise bad_param("_cursor", "not a cursor this server issued") from None


def _instant_sql(test: InstantTest) -> ColumnElement[bool]:
    col = _G.last_updated
    match test.prefix:
        case "eq":
            return and_(col >= test.low, col < test.high)
        case "ne":
            return or_(col < test.low, col >= test.high)
        case "gt" | "sa":
            return col >= test.high
        case "lt" | "eb":
            return col < test.low
        case "ge":
            return col >= test.low
        case _:
            return col < test.high


@cache
def mapper_for(resource_type: str) -> Mapper | None:
    """The registry's fallback: a JSON store for any R4 type that no mapper claims."""
    if resource_type not in R4_TYPES or resource_type in NOT_STORED or not _validatable(resource_type):
        return None
    return GenericStore(resource_type).mapper()


@patients.on_patient_merged("fhir_generic")
def move_on_merge(session: Session, *, source_id: uuid.UUID, target_id: uuid.UUID, now: datetime) -> dict[str, int]:
    """A merge moves the resources kept as JSON to the survivor too: column, references and a new version."""
    rows = list(session.scalars(select(_G).where(_G.patient_id == source_id).with_for_update()))
    mapping = {f"Patient/{source_id}": f"Patient/{target_id}"}
    for row in rows:
        body = copy.deepcopy(row.body)
        rewrite(body, mapping)
        row.version += 1
        row.last_updated = now
        row.patient_id = target_id
        row.body = _with_meta(body, row.id, row.version, now)
        session.flush()
        history.record(session, row.resource_type, str(row.id), method="PUT", stored=_stored(row), now=now)
    return {"fhir_generic_resources": len(rows)}


def by_patient(session: Session, patient_id: uuid.UUID, *, types: Iterable[str] | None = None,
               limit: int = 1_000) -> list[Stored]:
    """Every live generic resource about one patient (for `$everything`; the caller authorized the patient)."""
    stmt = select(_G).where(_G.patient_id == patient_id, not_(_G.deleted))
    if types is not None:
        stmt = stmt.where(_G.resource_type.in_(list(types)))
    rows = session.scalars(stmt.order_by(_G.resource_type, _G.last_updated, _G.id).limit(limit))
    return [_stored(r) for r in rows]
