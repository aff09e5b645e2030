"""Prescribing rules as pure functions over data: dose ranges by age and weight, kidney-function rules.

The interactions engine calls these for its "dose" and kidney-related "condition" alerts; they can be
used alone (e.g. a dose calculator). Knowledge lives in knowledge/*.json, each rule citing its source.
"""

from __future__ import annotations

from carebridge.engines.prescribing_rules.dose import DoseCheck, check_dose, load_dose_knowledge
from carebridge.engines.prescribing_rules.models import DrugRef, EgfrBand, Finding
from carebridge.engines.prescribing_rules.renal import check_renal, egfr_band, load_renal_knowledge

__all__ = [
    "DoseCheck",
    "DrugRef",
    "EgfrBand",
    "Finding",
    "check_dose",
    "check_renal",
    "egfr_band",
    "knowledge_versions",
    "load_dose_knowledge",
    "load_renal_knowledge",
]


def knowledge_versions() -> dict[str, str]:
    return {"dose_ranges.json": load_dose_knowledge().version, "renal.json": load_renal_knowledge().version}
