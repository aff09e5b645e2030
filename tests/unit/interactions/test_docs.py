"""The knowledge README and the engine's doc state the numbers and commands the code actually has."""

from __future__ import annotations

import json
from pathlib import Path

from carebridge.engines.interactions.catalogue import KNOWLEDGE_DIR

DOC = Path(__file__).resolve().parents[3] / "docs" / "prescribing_engine.md"


def test_sources_md_counts_match_the_knowledge(kb) -> None:  # type: ignore[no-untyped-def]
    text = (KNOWLEDGE_DIR / "SOURCES.md").read_text()
    public = json.loads((KNOWLEDGE_DIR / "ddi_public.json").read_text())
    curated = json.loads((KNOWLEDGE_DIR / "ddi_curated.json").read_text())
    c = kb.counts
    for phrase in (f"{c['ingredients']} ingredients", f"{c['products']} brands", f"{len(public['entries']):,} entries",
                   f"{len(curated['curated'])} curated pairs", f"{c['allergy_classes']} allergy classes",
                   f"{c['cross_sensitivity_rules']} cross-sensitivity rules", f"{c['condition_rules']} drug-condition",
                   f"{c['dose_rules']} dose rules", f"{c['renal_rules']} kidney-function rules"):
        assert phrase in text, phrase


def test_engine_doc_names_its_commands_and_contract() -> None:
    text = DOC.read_text()
    for phrase in ("python benchmarks/interactions.py", "python scripts/build_ddi_knowledge.py --check",
                   "run_json", "run_jsonl", '"unknown"', "Bar: p99 < 5 ms"):
        assert phrase in text, phrase
