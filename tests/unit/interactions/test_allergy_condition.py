"""Drug-allergy (with cross-sensitivity) and drug-condition checks, case by case from the sources.

Allergy: BNF (all penicillins cross-react); Zagursky & Pichichero, J Allergy Clin Immunol Pract
2018;6:72-81 (R1 side chains); Pichichero & Casey 2007 and Khan et al. 2022 practice parameter (low
penicillin-cephalosporin cross-reactivity); Romano et al. Ann Intern Med 2007 (carbapenems <1%);
Strom et al. N Engl J Med 2003;349:1628 (no sulfonamide antibiotic/non-antibiotic cross-reactivity);
Kowalski et al. Allergy 2013 (EAACI/ENDA NSAID hypersensitivity); Tegretol/Trileptal SmPC 4.4.
Conditions: KDIGO 2012 ch. 4.4; NSAID SmPCs 4.3; EMA metformin 2016; SmPCs 4.3/4.6 for pregnancy;
MHRA valproate 2018; EMA isotretinoin 2018; EMA codeine 2013; WHO malaria guidelines 2023; BNF.
"""

from __future__ import annotations

import pytest

from carebridge.engines.interactions import check_names, icd10
from tests.unit.interactions.conftest import alerts_of, only


@pytest.mark.parametrize(("allergy", "med", "severity", "rule", "says"), [
    ("penicillin", "amoxicillin", "contraindicated", "allergy-direct", "penicillins"),
    ("penicillin", "Augmentin", "contraindicated", "allergy-direct", "penicillins"),
    ("amoxicillin", "benzylpenicillin", "contraindicated", "x-penicillin-class", "all penicillins"),
    ("penicillin", "cefalexin", "major", "x-penicillin-ceph-similar", "1-2%"),
    ("penicillin", "ceftriaxone", "moderate", "x-penicillin-ceph-dissimilar", "Low cross-reactivity"),
    ("penicillin", "meropenem", "minor", "x-penicillin-carbapenem", "below 1%"),
    ("cefalexin", "amoxicillin", "major", "x-ceph-similar-penicillin", "side chain"),
    ("ceftazidime", "aztreonam", "major", "x-ceftazidime-aztreonam", "side chain"),
    ("sulfa", "Septran", "contraindicated", "allergy-direct", "sulfonamide"),
    ("sulfamethoxazole", "sulfasalazine", "contraindicated", "x-sulfa-antibiotic-class", "sulfapyridine"),
    ("sulfa", "furosemide", "minor", "x-sulfa-nonantibiotic", "No evidence of cross-reactivity"),
    ("aspirin", "ibuprofen", "major", "x-nsaid-cox1", "COX-1"),
    ("aspirin", "meloxicam", "moderate", "x-nsaid-preferential-cox2", "Preferential COX-2"),
    ("aspirin", "celecoxib", "minor", "x-nsaid-coxib", "tolerated"),
    ("AERD", "diclofenac", "contraindicated", "allergy-direct", "NSAIDs"),
    ("NSAIDs", "paracetamol", "minor", "x-nsaid-paracetamol", "1000 mg"),
    ("carbamazepine", "oxcarbazepine", "major", "x-carbamazepine-oxcarbazepine", "25-30%"),
    ("J01C", "amoxicillin", "contraindicated", "allergy-direct", "ATC J01C"),
])
def test_allergy_cases(allergy: str, med: str, severity: str, rule: str, says: str) -> None:
    alert = only(check_names([med], allergies=[allergy]), "allergy")
    assert alert.severity == severity
    assert rule in alert.rule_ids
    assert says.lower() in alert.message.lower()
    assert alert.items == [med, allergy]
    assert alert.interruptive is (severity != "minor")


def test_no_allergy_alert_for_unrelated_medicine() -> None:
    assert alerts_of(check_names(["azithromycin", "paracetamol"], allergies=["penicillin"]), "allergy") == []


def test_unknown_allergy_is_reported() -> None:
    result = check_names(["amoxicillin"], allergies=["bee stings"])
    assert result.unknown == ["bee stings"]
    assert only(result, "unknown").items == ["bee stings"]


# --- conditions --------------------------------------------------------------------------------

@pytest.mark.parametrize(("meds", "kw", "kind", "severity", "rule"), [
    # KDIGO 2012 ch. 4.4: NSAIDs - avoid with GFR < 30; prolonged use not recommended with GFR < 60
    (["ibuprofen"], {"conditions": ["N18.4"]}, "condition", "major", "renal-nsaid-lt30"),
    (["diclofenac"], {"conditions": ["N18.3"]}, "condition", "moderate", "renal-nsaid-30-60"),
    (["Brufen"], {"egfr": 25}, "condition", "major", "renal-nsaid-lt30"),
    # NSAID SmPC 4.3: peptic ulcer K25-K28
    (["naproxen"], {"conditions": ["K25.9"]}, "condition", "major", "cond-nsaid-peptic-ulcer"),
    (["Ecosprin"], {"conditions": ["K27"]}, "condition", "major", "cond-nsaid-peptic-ulcer"),
    # EMA 2016: metformin contraindicated below GFR 30
    (["metformin"], {"egfr": 25}, "condition", "contraindicated", "renal-metformin-lt30"),
    (["Glycomet"], {"conditions": ["N18.4"]}, "condition", "contraindicated", "renal-metformin-lt30"),
    (["metformin"], {"egfr": 40}, "dose", "moderate", "renal-metformin-30-45"),
    # MHRA 2014: nitrofurantoin
    (["nitrofurantoin"], {"egfr": 40}, "condition", "major", "renal-nitrofurantoin-30-45"),
    # pregnancy by flag or ICD-10 (O09, Z33.1)
    (["warfarin"], {"pregnant": True}, "condition", "contraindicated", "preg-vka"),
    (["isotretinoin"], {"conditions": ["Z33.1"]}, "condition", "contraindicated", "preg-retinoids"),
    (["valproate"], {"conditions": ["O09.3"]}, "condition", "contraindicated", "preg-valproate"),
    (["enalapril"], {"pregnant": True}, "condition", "contraindicated", "preg-raas"),
    (["Telma"], {"pregnant": True}, "condition", "contraindicated", "preg-raas"),
    # breastfeeding: EMA PRAC 2013 (codeine)
    (["codeine"], {"breastfeeding": True}, "condition", "contraindicated", "bf-codeine"),
    (["codeine"], {"conditions": ["Z39.1"]}, "condition", "contraindicated", "bf-codeine"),
    # WHO malaria guidelines 2023: primaquine in G6PD deficiency
    (["primaquine"], {"conditions": ["D55.0"]}, "condition", "contraindicated", "cond-primaquine-g6pd"),
    # BNF: aspirin under 16 (Reye's syndrome); EMA 2013: codeine under 12
    (["aspirin"], {"age_years": 10}, "condition", "major", "cond-aspirin-child"),
    (["codeine"], {"age_years": 8}, "condition", "contraindicated", "cond-codeine-child"),
    # ESC HF 2021 / SmPC: heart failure
    (["pioglitazone"], {"conditions": ["I50.9"]}, "condition", "contraindicated", "cond-pioglitazone-heart-failure"),
    # UKMEC 2016 category 4
    (["Mala-D"], {"conditions": ["G43.1"]}, "condition", "contraindicated", "cond-coc-migraine-aura"),
])
def test_condition_cases(meds: list[str], kw: dict[str, object], kind: str, severity: str, rule: str) -> None:
    result = check_names(meds, **kw)  # type: ignore[arg-type]
    hits = [a for a in result.alerts if a.kind == kind and rule in a.rule_ids]
    assert hits, [(a.kind, a.severity, a.rule_ids) for a in result.alerts]
    assert hits[0].severity == severity
    assert hits[0].sources


@pytest.mark.parametrize(("meds", "kw"), [
    (["ibuprofen"], {"egfr": 75}),
    (["ibuprofen"], {"conditions": ["K29.7"]}),  # gastritis is not peptic ulcer
    (["paracetamol"], {"pregnant": True}),
    (["warfarin"], {"breastfeeding": True}),  # compatible with breastfeeding
    (["metformin"], {"egfr": 60}),
    (["aspirin"], {"age_years": 16}),
])
def test_no_condition_alert(meds: list[str], kw: dict[str, object]) -> None:
    result = check_names(meds, **kw)  # type: ignore[arg-type]
    assert [a for a in result.alerts if a.kind in ("condition", "dose")] == []


def test_ckd_code_without_egfr_uses_the_gfr_category() -> None:
    result = check_names(["metformin"], conditions=["N18.3"])
    alert = only(result, "dose")
    assert set(alert.rule_ids) == {"renal-metformin-30-45", "renal-metformin-45-60"}
    assert result.inputs["egfr_band"] == "N18.3 (GFR category 30-59)"


def test_measured_egfr_wins_over_the_ckd_code() -> None:
    result = check_names(["metformin"], conditions=["N18.4"], egfr=50)
    assert [a.rule_ids for a in result.alerts] == [["renal-metformin-45-60"]]


def test_invalid_condition_code_is_reported() -> None:
    result = check_names(["ibuprofen"], conditions=["diabetes", "N18.4"])
    assert result.unknown == ["diabetes"]
    assert only(result, "unknown").items == ["diabetes"]
    assert only(result, "condition").items == ["ibuprofen", "N18.4"]


@pytest.mark.parametrize(("text", "canonical"), [
    ("N18.4", "N18.4"), ("n184", "N18.4"), (" K25.0 ", "K25.0"), ("I50", "I50"), ("Z3A.20", "Z3A.20"),
    ("O09.512", "O09.512"), ("12", None), ("diabetes", None), ("N18.", None), ("", None),
])
def test_icd10_parse(text: str, canonical: str | None) -> None:
    assert icd10.parse(text) == canonical


@pytest.mark.parametrize(("code", "pattern", "expected"), [
    ("K25.0", "K25-K28", True), ("K28.9", "K25-K28", True), ("K29.0", "K25-K28", False),
    ("I50.9", "I50", True), ("I51.0", "I50", False), ("G70.00", "G70.0", True), ("G70.1", "G70.0", False),
    ("Z33.1", "Z33.1", True), ("Z33.2", "Z33.1", False),
])
def test_icd10_matches(code: str, pattern: str, expected: bool) -> None:
    assert icd10.matches(code, pattern) is expected
