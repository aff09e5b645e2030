"""Properties of the checker that must hold for any regimen (Hypothesis).

* Adding a medicine never removes an alert between the other medicines.
* The order of the medicines does not change the set of alerts.
* Every input is either recognised or reported as unknown (never silently ignored).
* The JSON contract answers any text with JSON, never an exception.
* Every alert names the rule that fired, its source and the knowledge version.
"""

from __future__ import annotations

import json
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from carebridge.engines.interactions import CheckRequest, CheckResult, MedicationOrder, check, check_names
from carebridge.engines.interactions.cli_contract import run_json

# Names chosen to interact with each other through every kind of rule (ONC, curated, ANSM, OSCAR,
# three-drug, duplicates), plus brands and combination products.
NAMES = [
    "warfarin", "Warf", "aspirin", "Ecosprin", "ibuprofen", "Brufen", "Combiflam", "Crocin", "Dolo", "paracetamol",
    "simvastatin", "clarithromycin", "atorvastatin", "omeprazole", "Pan", "clopidogrel", "atazanavir", "citalopram",
    "haloperidol", "ondansetron", "azithromycin", "phenelzine", "sertraline", "tramadol", "fluoxetine", "risperidone",
    "ramipril", "Telma-H", "furosemide", "spironolactone", "lithium", "metformin", "Glycomet", "amoxicillin",
    "cefalexin", "Augmentin", "Septran", "methotrexate", "rifampicin", "dolutegravir", "Kaletra", "amlodipine",
    "atenolol", "insulin glargine", "levothyroxine", "calcium carbonate", "digoxin", "amiodarone", "sildenafil",
    "isosorbide mononitrate", "valproate", "lamotrigine", "carbamazepine", "B01AA03", "diazepam", "morphine",
]
ALLERGIES = ["penicillin", "sulfa", "aspirin", "NSAIDs", "cefalexin", "carbamazepine"]
CONDITIONS = ["N18.3", "N18.4", "K25.0", "I50.9", "O09.1", "D55.0", "J45.9", "G20"]

meds = st.lists(st.sampled_from(NAMES), min_size=0, max_size=7)
patient = st.fixed_dictionaries({
    "allergies": st.lists(st.sampled_from(ALLERGIES), max_size=2),
    "conditions": st.lists(st.sampled_from(CONDITIONS), max_size=2),
    "age_years": st.one_of(st.none(), st.integers(0, 95)),
    "egfr": st.one_of(st.none(), st.integers(5, 120)),
    "pregnant": st.booleans(),
})


def identities(result: CheckResult) -> Counter[tuple[object, ...]]:
    return Counter(a.identity() for a in result.alerts)


@settings(max_examples=80, deadline=None)
@given(regimen=meds, extra=st.sampled_from(NAMES), ctx=patient)
def test_adding_a_drug_never_removes_an_alert(regimen: list[str], extra: str, ctx: dict[str, object]) -> None:
    before = identities(check_names(regimen, **ctx))  # type: ignore[arg-type]
    after = identities(check_names([*regimen, extra], **ctx))  # type: ignore[arg-type]
    missing = before - after
    assert not missing, missing


@settings(max_examples=80, deadline=None)
@given(regimen=meds, ctx=patient, data=st.data())
def test_medication_order_does_not_change_the_alerts(regimen: list[str], ctx: dict[str, object],
                                                     data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(regimen))
    a = check_names(regimen, **ctx)  # type: ignore[arg-type]
    b = check_names(list(shuffled), **ctx)  # type: ignore[arg-type]
    assert identities(a) == identities(b)
    assert sorted(a.unknown) == sorted(b.unknown)


nonsense = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=30)


@settings(max_examples=80, deadline=None)
@given(known=meds, junk=st.lists(st.builds(lambda s: "zz" + s, nonsense), min_size=1, max_size=3),
       bad_allergy=st.builds(lambda s: "qq" + s, nonsense), bad_code=st.builds(lambda s: "not a code " + s, nonsense))
def test_unknown_names_are_always_reported(known: list[str], junk: list[str], bad_allergy: str, bad_code: str) -> None:
    result = check_names([*known, *junk], allergies=[bad_allergy], conditions=[bad_code])
    for name in [*junk, bad_allergy, bad_code]:
        assert name in result.unknown
        assert any(a.kind == "unknown" and a.items == [name] for a in result.alerts)


@settings(max_examples=80, deadline=None)
@given(names=st.lists(st.one_of(st.sampled_from(NAMES), nonsense), max_size=6))
def test_every_medicine_is_resolved_or_unknown(names: list[str]) -> None:
    result = check_names(names)
    assert len(result.resolved) + sum(1 for a in result.alerts if a.inputs.get("field") == "medication") == len(names)


@settings(max_examples=80, deadline=None)
@given(text=st.one_of(nonsense, st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(
        st.sampled_from(["medications", "allergies", "conditions", "age", "egfr", "weight_kg", "id", "x"]),
        children, max_size=4)), max_leaves=10).map(json.dumps)))
def test_contract_always_answers_json(text: str) -> None:
    out = json.loads(run_json(text))
    assert "error" in out or "alerts" in out


orders = st.builds(
    MedicationOrder, name=st.sampled_from([*NAMES, "gabapentin", "enoxaparin", "cetirizine", "Calpol", "nitrofurantoin"]),
    dose_mg=st.one_of(st.none(), st.floats(0.01, 100_000)), doses_per_day=st.one_of(st.none(), st.floats(0.1, 48)),
    route=st.one_of(st.none(), st.sampled_from(["oral", "iv", "rectal", "Oral", "xx"])))


@settings(max_examples=100, deadline=None)
@given(meds=st.lists(orders, max_size=8), allergies=st.lists(st.sampled_from([*ALLERGIES, "J01", "zz"]), max_size=3),
       conditions=st.lists(st.sampled_from([*CONDITIONS, "N18.5", "N18.31", "Z39.1", "foo"]), max_size=3),
       age=st.one_of(st.none(), st.floats(0, 130)), weight=st.one_of(st.none(), st.floats(0.5, 400)),
       egfr=st.one_of(st.none(), st.floats(0, 250)), pregnant=st.booleans(), breastfeeding=st.booleans())
def test_every_alert_says_what_fired_and_where_from(meds: list[MedicationOrder], allergies: list[str],
                                                    conditions: list[str], age: float | None, weight: float | None,
                                                    egfr: float | None, pregnant: bool, breastfeeding: bool) -> None:
    result = check(CheckRequest(medications=meds, allergies=allergies, conditions=conditions, age_years=age,
                                weight_kg=weight, egfr=egfr, pregnant=pregnant, breastfeeding=breastfeeding))
    assert result.knowledge_version
    for alert in result.alerts:
        assert alert.rule_ids and alert.sources and alert.message and alert.items
        assert alert.knowledge_version == result.knowledge_version
