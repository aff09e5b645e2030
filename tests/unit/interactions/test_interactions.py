"""Drug-drug interactions, three-drug rules, tiering and duplicate therapy, case by case from the sources.

Sources (full citations in knowledge/sources.json):
  ONC high-priority pairs - Phansalkar S et al. J Am Med Inform Assoc 2012;19:735-743, Table 2.
  Simvastatin - FDA Drug Safety Communication, 8 June 2011.
  Coumarins with aspirin/NSAIDs, ACE inhibitors with potassium-sparing diuretics - BNF Appendix 1.
  PDE5 inhibitors with nitrates - Viagra/Cialis SmPC 4.3. Clopidogrel with omeprazole - EMA 2010.
  ANSM thesaurus (2016) and OSCAR drugref rows - ddi_pairs_public.csv (Ayvaz et al. 2015), by row.
  Triple whammy - Lapi F et al. BMJ 2013;346:e8525.
  Non-interruptive pairs - Phansalkar S et al. JAMIA 2013;20:489-493; tiering - Paterno MD et al. JAMIA 2009.
"""

from __future__ import annotations

import pytest

from carebridge.engines.interactions import CheckRequest, MedicationOrder, Override, check, check_names
from tests.unit.interactions.conftest import alerts_of, only, pair_alert

ONC_CASES = [
    ("onc-01", ["methylphenidate", "selegiline"]),
    ("onc-02", ["atazanavir", "omeprazole"]),
    ("onc-03", ["febuxostat", "azathioprine"]),
    ("onc-04", ["sertraline", "phenelzine"]),
    ("onc-05", ["irinotecan", "ketoconazole"]),
    ("onc-06", ["pethidine", "tranylcypromine"]),
    ("onc-07", ["amitriptyline", "phenelzine"]),
    ("onc-08", ["haloperidol", "citalopram"]),
    ("onc-09", ["ramelteon", "fluvoxamine"]),
    ("onc-10", ["rifampicin", "Kaletra"]),
    ("onc-11", ["simvastatin", "clarithromycin"]),
    ("onc-12", ["ergotamine", "clarithromycin"]),
    ("onc-13", ["tizanidine", "ciprofloxacin"]),
    ("onc-14", ["tranylcypromine", "procarbazine"]),
    ("onc-15", ["sumatriptan", "phenelzine"]),
]


@pytest.mark.parametrize(("rule_id", "meds"), ONC_CASES)
def test_onc_high_priority_pairs_are_contraindicated_and_interrupt(rule_id: str, meds: list[str]) -> None:
    result = check_names(meds)
    hits = [a for a in alerts_of(result, "interaction") if rule_id in a.rule_ids]
    assert hits, [(a.items, a.rule_ids) for a in result.alerts]
    assert all(a.severity == "contraindicated" and a.interruptive and not a.overridable for a in hits)
    assert any("Phansalkar" in s for a in hits for s in a.sources)


def test_all_fifteen_onc_pairs_are_covered_by_a_case(kb) -> None:  # type: ignore[no-untyped-def]
    ids = {r.id for rules in kb.pairs.values() for r in rules if r.origin == "onc-high-priority"}
    assert ids == {rid for rid, _ in ONC_CASES}


@pytest.mark.parametrize(("meds", "severity", "rule", "source_word"), [
    # BNF Appendix 1: coumarins + aspirin "severe"; OSCAR rates it moderate - the worse one leads
    (["warfarin", "aspirin"], "major", "cur-vka-aspirin", "British National Formulary"),
    (["Warf", "Ecosprin"], "major", "cur-vka-aspirin", "British National Formulary"),
    # FDA 2011: simvastatin contraindicated with clarithromycin (also ONC pair 11)
    (["simvastatin", "clarithromycin"], "contraindicated", "onc-11", "Phansalkar"),
    (["simvastatin", "gemfibrozil"], "contraindicated", "cur-simvastatin-fda", "FDA"),
    (["simvastatin", "amlodipine"], "moderate", "cur-simvastatin-20mg", "FDA"),
    (["Combiflam", "Warf"], "major", "cur-vka-nsaids", "British National Formulary"),
    (["sildenafil", "isosorbide mononitrate"], "contraindicated", "cur-pde5-nitrates", "Summary of Product"),
    (["clopidogrel", "omeprazole"], "major", "cur-clopidogrel-ppi", "European Medicines Agency"),
    (["lisinopril", "spironolactone"], "major", "cur-raas-potassium", "British National Formulary"),
    (["lithium", "ibuprofen"], "major", "cur-lithium-renal", "British National Formulary"),
    (["rifampicin", "dolutegravir"], "major", "cur-rifampicin-dolutegravir", "World Health Organization"),
    (["methotrexate", "Septran"], "major", "cur-methotrexate-antifolate", "British National Formulary"),
    (["tramadol", "sertraline"], "major", "cur-tramadol-serotonergic", "British National Formulary"),
    (["morphine", "diazepam"], "major", "cur-opioid-benzodiazepine", "FDA"),
    # ANSM thesaurus, ddi_pairs_public.csv row 4: fluoxetine + risperidone, "Precaution for use"
    (["fluoxetine", "risperidone"], "moderate", "ansm-", "ANSM"),
    # ANSM contraindication: QT (also ONC pair 8)
    (["haloperidol", "citalopram"], "contraindicated", "ansm-", "ANSM"),
    # OSCAR drugref: cimetidine augments warfarin, significance 3 (evidence good)
    (["cimetidine", "warfarin"], "major", "oscar-", "OSCAR"),
    # OSCAR drugref: colestyramine inhibits digoxin, significance 2
    (["colestyramine", "digoxin"], "moderate", "oscar-", "OSCAR"),
])
def test_pair_cases(meds: list[str], severity: str, rule: str, source_word: str) -> None:
    alert = pair_alert(meds)
    assert alert is not None, meds
    assert alert.severity == severity
    assert any(r.startswith(rule) for r in alert.rule_ids), alert.rule_ids
    assert any(source_word.lower() in s.lower() for s in alert.sources), alert.sources
    assert alert.items == meds and alert.knowledge_version
    assert alert.message and alert.mechanism


@pytest.mark.parametrize("meds", [
    ["clopidogrel", "pantoprazole"],  # pantoprazole is the recommended PPI with clopidogrel (EMA 2010)
    ["paracetamol", "amoxicillin"],
    ["Combiflam"],  # ibuprofen + paracetamol in one product: intended combination
    ["metformin", "atorvastatin"],
])
def test_no_interaction(meds: list[str]) -> None:
    assert alerts_of(check_names(meds), "interaction") == []


def test_worst_severity_leads_and_every_source_is_kept() -> None:
    alert = pair_alert(["warfarin", "aspirin"])
    assert alert is not None
    assert "cur-vka-aspirin" in alert.rule_ids and any(r.startswith("oscar-") for r in alert.rule_ids)
    assert "cur-vka-aspirin: major" in str(alert.inputs["source_severities"])
    assert len(alert.sources) >= 2


def test_combination_product_checks_each_ingredient() -> None:
    result = check_names(["Combiflam", "Warf"])
    by_ingredients = {tuple(sorted(a.ingredients)): a for a in alerts_of(result, "interaction")}
    assert by_ingredients[("ibuprofen", "warfarin")].severity == "major"
    assert ("paracetamol", "warfarin") in by_ingredients  # OSCAR: minor, high doses only


def test_triple_whammy_needs_all_three_classes() -> None:
    result = check_names(["ramipril", "furosemide", "ibuprofen"])
    triple = [a for a in result.alerts if "tri-triple-whammy" in a.rule_ids]
    assert len(triple) == 1 and triple[0].severity == "major"
    assert sorted(triple[0].items) == ["furosemide", "ibuprofen", "ramipril"]
    assert any("Lapi" in s for s in triple[0].sources)
    assert not [a for a in check_names(["ramipril", "ibuprofen"]).alerts if "tri-triple-whammy" in a.rule_ids]


def test_triple_whammy_through_a_fixed_dose_combination() -> None:
    # Telma-H is telmisartan + hydrochlorothiazide: with an NSAID that completes the triple.
    triple = [a for a in check_names(["Telma-H", "Brufen"]).alerts if "tri-triple-whammy" in a.rule_ids]
    assert len(triple) == 1 and sorted(triple[0].items) == ["Brufen", "Telma-H"]


def test_minor_interactions_are_quiet_notes() -> None:
    # ANSM "take into account" only (ddi_pairs_public.csv): shown, but not interrupting (Paterno 2009)
    alert = pair_alert(["chlorpromazine", "fluoxetine"])
    assert alert is not None and alert.severity == "minor" and alert.interruptive is False
    assert any("Paterno" in s for s in alert.sources)


def test_non_interruptive_pair_list() -> None:
    # OSCAR rates beta-blocker + calcium-channel blocker moderate; the pair is on the quiet list.
    alert = pair_alert(["atenolol", "amlodipine"])
    assert alert is not None and alert.severity == "moderate"
    assert alert.interruptive is False
    assert "quiet-betablocker-dhp" in str(alert.inputs["non_interruptive"])
    assert any("Phansalkar" in s and "2013" in s for s in alert.sources)


def test_non_interruptive_list_never_silences_contraindicated_or_onc_pairs(kb) -> None:  # type: ignore[no-untyped-def]
    for key in kb.quiet:
        rules = kb.pairs.get(key, ())
        if any(r.severity == "contraindicated" or r.origin == "onc-high-priority" for r in rules):
            alert = pair_alert(list(key))
            assert alert is not None and alert.interruptive


# --- duplicate therapy -------------------------------------------------------------------------

def test_duplicate_ppis_is_a_warning_not_a_block() -> None:
    alert = only(check_names(["omeprazole", "Pan"]), "duplicate")
    assert alert.severity == "moderate" and alert.overridable and alert.interruptive
    assert "A02BC" in alert.message


def test_duplicate_same_ingredient_across_brands() -> None:
    alert = only(check_names(["Crocin", "Combiflam"]), "duplicate")
    assert alert.severity == "major" and alert.ingredients == ["paracetamol"] and alert.overridable


def test_duplicate_override_reason_is_recorded_and_quietens() -> None:
    request = CheckRequest(
        medications=[MedicationOrder(name="omeprazole"), MedicationOrder(name="Pan")],
        overrides=[Override(kind="duplicate", items=["PAN", "Omeprazole"], reason="switching today; stop omeprazole")],
    )
    alert = only(check(request), "duplicate")
    assert alert.override_reason == "switching today; stop omeprazole"
    assert alert.interruptive is False  # still present, for the record


def test_override_does_not_touch_contraindicated_alerts() -> None:
    request = CheckRequest(
        medications=[MedicationOrder(name="simvastatin"), MedicationOrder(name="clarithromycin")],
        overrides=[Override(kind="interaction", items=["simvastatin", "clarithromycin"], reason="short course")],
    )
    alert = only(check(request), "interaction")
    assert alert.override_reason is None and alert.interruptive


@pytest.mark.parametrize("meds", [
    ["aspirin", "clopidogrel"],  # dual antiplatelet therapy (ESC ACS 2023)
    ["isoniazid", "rifampicin", "pyrazinamide", "ethambutol"],  # WHO first-line TB regimen
    ["tenofovir", "lamivudine", "dolutegravir"],  # WHO first-line ART (two NRTIs)
    ["chloroquine", "primaquine"],  # vivax radical cure (WHO malaria guidelines)
    ["salbutamol", "formoterol"],  # reliever plus maintenance (GINA)
    ["levetiracetam", "lamotrigine"],  # ATC N03AX is an 'other' group, not one class
])
def test_deliberate_combinations_are_not_duplicates(meds: list[str]) -> None:
    assert alerts_of(check_names(meds), "duplicate") == []
