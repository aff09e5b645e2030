"""The knowledge files: coverage, cited sources, valid codes, consistent references."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from carebridge.engines.triage import Level, load_knowledge

SPECIALTIES = Path(__file__).resolve().parents[3] / "src" / "carebridge" / "engines" / "knowledge" / "specialties.csv"


def _specialty_codes() -> set[str]:
    with SPECIALTIES.open(encoding="utf-8", newline="") as handle:
        return {row["code"] for row in csv.DictReader(handle)}


def test_knowledge_loads_once() -> None:
    assert load_knowledge() is load_knowledge()


def test_every_specialty_is_a_project_code() -> None:
    kb = load_knowledge()
    codes = _specialty_codes()
    used = {c.specialty for c in kb.conditions} | {r.specialty for r in kb.rules if r.specialty}
    assert used <= codes, used - codes


def test_at_least_150_conditions_with_icd10_and_sources() -> None:
    kb = load_knowledge()
    assert len(kb.conditions) >= 150
    for cond in kb.conditions:
        assert re.fullmatch(r"[A-Z][0-9]{2}(\.[0-9A-Z]{1,2})?", cond.icd10), cond.id
        assert cond.source.split(":")[0] in kb.sources, cond.id
        assert cond.explain


def test_every_entry_cites_a_known_source() -> None:
    kb = load_knowledge()
    for spec in kb.symptoms.values():
        assert spec.source.split(":")[0] in kb.sources, spec.id
    for rule in kb.rules:
        assert rule.source.split(":")[0] in kb.sources, rule.id


def test_all_levels_are_represented() -> None:
    kb = load_knowledge()
    assert {c.level for c in kb.conditions} == set(Level)


def test_south_asian_and_priority_coverage() -> None:
    ids = {c.id for c in load_knowledge().conditions}
    required = {
        "dengue",
        "dengue_warning",
        "malaria",
        "severe_malaria",
        "typhoid",
        "chikungunya",
        "tuberculosis",
        "snakebite",
        "heat_stroke",
        "scorpion_sting",
        "rabies_exposure",
        "leptospirosis",
        "scrub_typhus",
        "suicidal_crisis",
        "pre_eclampsia",
        "reduced_fetal_movements",
        "serious_infection_young_infant",
        "anaphylaxis",
        "stroke",
        "meningitis",
        "upper_gi_bleed",
    }
    assert required <= ids, required - ids


def test_danger_sign_rules_are_emergencies() -> None:
    rules = {r.id: r for r in load_knowledge().rules}
    for rid in (
        "rf.imci_unable_to_feed",
        "rf.imci_vomits_everything",
        "rf.seizure",
        "rf.lethargic",
        "rf.chest_indrawing",
        "rf.pregnancy_bleeding",
        "rf.reduced_fetal_movement",
        "rf.leaking_fluid",
        "rf.suicidal",
        "rf.spo2_low",
        "rf.stroke_fast",
        "rf.anaphylaxis",
    ):
        assert rules[rid].level is Level.EMERGENCY, rid


def test_synonyms_cover_hinglish() -> None:
    kb = load_knowledge()
    for sid, word in (("fever", "bukhar"), ("cough", "khansi"), ("headache", "sar dard"), ("vomiting", "ulti")):
        assert word in kb.symptoms[sid].synonyms


def test_rule_and_condition_indexes_skip_nothing() -> None:
    """The finding->entry indexes must give exactly what a full scan would."""
    from carebridge.engines.triage import TriageInput
    from carebridge.engines.triage.engine import _build_context, _candidates, _eligible, _fires
    from carebridge.engines.triage.text import read_text

    kb = load_knowledge()
    texts = [
        "crushing chest pain and sweating",
        "my 2 year old has fever, vomits everything and the chest is pulling in",
        "pregnant, bleeding and severe headache with blurred vision",
        "feeling unwell",
        "bukhar 4 din se, pet dard, masoodon se khoon",
        "",
    ]
    for text in texts:
        inp = TriageInput(text=text, vitals={"spo2": 90, "respiratory_rate": 32})
        ctx = _build_context(inp, read_text(text, kb), kb)
        full_rules = [r.id for r in kb.rules if _fires(r, ctx)]
        indexed_rules = [
            kb.rules[i].id for i in _candidates(ctx, kb.rule_index, kb.unconditional_rules) if _fires(kb.rules[i], ctx)
        ]
        assert indexed_rules == full_rules, text
        full_conditions = [c.id for c in kb.conditions if _eligible(c, ctx)]
        indexed_conditions = [
            kb.conditions[i].id for i in _candidates(ctx, kb.condition_index, ()) if _eligible(kb.conditions[i], ctx)
        ]
        assert indexed_conditions == full_conditions, text
