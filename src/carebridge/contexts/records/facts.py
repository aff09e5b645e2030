"""What decision support needs from the record, in one read: active allergies and problems, the latest kidney
function and weight.

No policy check and no audit entry here: the caller (prescribing) has already been let in to this patient for
a prescription, or is the system re-checking prescriptions after a record change, and it audits the check that
used these facts. The read is three small indexed queries, so a check stays well inside a request's budget.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from carebridge.contexts.records.models import Allergy, Condition, Observation
from carebridge.contexts.records.vocab import ACTIVE_CLINICAL

CREATININE_CODES = ("2160-0", "38483-4", "14682-9")  # serum/plasma/blood creatinine (mass and substance)
EGFR_CODES = ("98979-8", "33914-3", "62238-1", "48642-3", "48643-1", "50044-7", "69405-9", "88293-6", "88294-4")
WEIGHT_CODES = ("29463-7",)
DECISION_CODES = frozenset({*CREATININE_CODES, *EGFR_CODES, *WEIGHT_CODES})
_VALID = ("final", "amended", "corrected")
_NOT_TRUE = ("refuted", "entered-in-error")


@dataclass(frozen=True, slots=True)
class LabValue:
    code: str
    value: float
    unit: str
    at: datetime
    observation_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class DecisionFacts:
    allergies: list[str] = field(default_factory=list)  # substances of active allergies and intolerances
    conditions: list[str] = field(default_factory=list)  # ICD-10 codes of active, not refuted, problems
    creatinine: LabValue | None = None
    egfr: LabValue | None = None
    weight: LabValue | None = None


def _latest(session: Session, patient_id: uuid.UUID, codes: tuple[str, ...]) -> LabValue | None:
    row = session.scalars(select(Observation).where(
        Observation.patient_id == patient_id, Observation.code.in_(codes), Observation.status.in_(_VALID),
        Observation.value.is_not(None)).order_by(Observation.effective_at.desc(), Observation.id.desc())
        .limit(1)).first()
    if row is None or row.value is None:
        return None
    return LabValue(code=row.code, value=row.value, unit=row.unit, at=row.effective_at, observation_id=row.id)


def decision_facts(session: Session, *, patient_id: uuid.UUID) -> DecisionFacts:
    """The record's facts for prescribing decision support (see the module note on access)."""
    allergies = session.scalars(select(Allergy.substance).where(
        Allergy.patient_id == patient_id, Allergy.clinical_status == "active").order_by(Allergy.recorded_at))
    conditions = session.scalars(select(Condition.code).where(
        Condition.patient_id == patient_id, Condition.clinical_status.in_([s.value for s in ACTIVE_CLINICAL]),
        Condition.verification_status.not_in(_NOT_TRUE)).order_by(Condition.recorded_at))
    return DecisionFacts(allergies=list(dict.fromkeys(allergies)), conditions=list(dict.fromkeys(conditions)),
                         creatinine=_latest(session, patient_id, CREATININE_CODES),
                         egfr=_latest(session, patient_id, EGFR_CODES),
                         weight=_latest(session, patient_id, WEIGHT_CODES))
