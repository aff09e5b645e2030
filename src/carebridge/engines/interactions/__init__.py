"""Offline prescribing decision support: drug-drug, drug-allergy, drug-condition, duplicate therapy, dose.

Pure functions over bundled knowledge (knowledge/*.json, *.csv; every entry cites its source):

    from carebridge.engines.interactions import check_names, search
    result = check_names(["Warf", "Ecosprin"], allergies=["penicillin"], conditions=["N18.3"], age_years=70)
    for alert in result.alerts: print(alert.severity, alert.message)

`check` takes a full CheckRequest (doses, weight, eGFR, pregnancy, override reasons); `search` is the
medicine picker; cli_contract.run_json / run_jsonl are the stable JSON contract behind
`carebridge interactions`. The design, knowledge format, sources and limits are in docs/prescribing_engine.md.
"""

from __future__ import annotations

from carebridge.engines.interactions.catalogue import PickerHit, load_catalogue, search
from carebridge.engines.interactions.engine import check, check_names
from carebridge.engines.interactions.knowledge import load_knowledge, preload
from carebridge.engines.interactions.models import (
    Alert,
    CheckRequest,
    CheckResult,
    MedicationOrder,
    Override,
)

__all__ = [
    "Alert",
    "CheckRequest",
    "CheckResult",
    "MedicationOrder",
    "Override",
    "PickerHit",
    "check",
    "check_names",
    "knowledge_version",
    "load_catalogue",
    "load_knowledge",
    "preload",
    "search",
]


def knowledge_version() -> str:
    """The version of the bundled knowledge, e.g. "2025.1+sha256:0123456789ab"."""
    return load_knowledge().version
