"""Checks between the medicines and the patient: allergies, conditions, kidney function and dose.

Allergy: a medicine whose ingredient was recorded as an allergen, or belongs to a recorded allergy
class, is contraindicated; otherwise cross-sensitivity rules (allergy.json, each cited) decide, e.g.
penicillin -> cephalosporins with a shared side chain (major) or a dissimilar one (moderate, low
cross-reactivity), sulfonamide antibiotics -> non-antibiotic sulfonamides (minor, no cross-reactivity
shown by Strom et al. 2003), NSAID hypersensitivity -> other COX-1 inhibitors (major).
"""

from __future__ import annotations

from dataclasses import dataclass

from carebridge.engines import prescribing_rules
from carebridge.engines.interactions import icd10
from carebridge.engines.interactions._draft import AllergyInput, Draft, Order, merge
from carebridge.engines.interactions.knowledge import ConditionRule, KnowledgeBase
from carebridge.engines.interactions.models import SEVERITY_RANK, InputValue, NotChecked

_STATE_WORDS = {"pregnant": "pregnancy"}


@dataclass(frozen=True, slots=True)
class Patient:
    codes: tuple[tuple[str, str], ...]  # (as given, canonical)
    pregnant: tuple[str, ...]  # what says so: "pregnant" flag and/or codes as given
    breastfeeding: tuple[str, ...]
    age_years: float | None
    weight_kg: float | None
    egfr: float | None
    band: prescribing_rules.EgfrBand | None
    band_item: str | None  # the input that gave the band ("eGFR 25" or the N18 code as given)


def allergies(kb: KnowledgeBase, orders: list[Order], recorded: list[AllergyInput]) -> tuple[list[Draft], int]:
    drafts: dict[tuple[object, ...], Draft] = {}
    evaluated = 0
    for order in orders:
        for ing in order.ingredients:
            for allergy in recorded:
                evaluated += 1
                what = f"{allergy.name} (class: {allergy.class_name})" if allergy.class_name else allergy.name
                key = (order.index, allergy.index)
                if ing in allergy.members:
                    merge(drafts, key, Draft(
                        kind="allergy", severity="contraindicated", items=[order.name, allergy.name], ingredients=[ing],
                        message=f"{order.show(ing)}: recorded allergy to {what}.",
                        management="Do not give; choose an unrelated alternative.", rule_ids=["allergy-direct"],
                        sources=[kb.cite("recorded-allergy", f"class {allergy.class_name}" if allergy.class_name
                                         else "same substance")],
                        inputs={"allergy": allergy.name, "ingredient": ing},
                    ))
                    continue
                for rule in kb.cross:
                    evaluated += 1
                    if ing in rule.to and not allergy.members.isdisjoint(rule.from_):
                        merge(drafts, key, Draft(
                            kind="allergy", severity=rule.severity, items=[order.name, allergy.name], ingredients=[ing],
                            message=f"{order.show(ing)} with recorded allergy to {what}: {rule.message}",
                            management=rule.message, rule_ids=[rule.id], sources=[kb.cite(rule.source, rule.ref)],
                            interruptive=rule.severity != "minor", inputs={"allergy": allergy.name, "ingredient": ing},
                        ))
    return list(drafts.values()), evaluated


def _condition_hits(rule: ConditionRule, patient: Patient) -> list[str]:
    """The inputs (as given) that make this rule apply to the patient."""
    if rule.icd10:
        return [given for given, code in patient.codes if icd10.matches_any(code, rule.icd10)]
    if rule.state == "pregnancy":
        return list(patient.pregnant[:1])
    if rule.state == "breastfeeding":
        return list(patient.breastfeeding[:1])
    if rule.age_below_years is not None and patient.age_years is not None and patient.age_years < rule.age_below_years:
        return [f"age {patient.age_years:g}"]
    return []


def conditions(kb: KnowledgeBase, orders: list[Order], patient: Patient) -> tuple[list[Draft], int]:
    drafts: dict[tuple[object, ...], Draft] = {}
    evaluated = 0
    for order in orders:
        for ing in order.ingredients:
            for rule in kb.conditions.get(ing, ()):
                evaluated += 1
                for item in _condition_hits(rule, patient):
                    merge(drafts, (order.index, item.casefold()), Draft(
                        kind="condition", severity=rule.severity, items=[order.name, item], ingredients=[ing],
                        message=f"{order.show(ing)} with {_STATE_WORDS.get(item, item)}: {rule.message}",
                        management=rule.management,
                        rule_ids=[rule.id], sources=[kb.cite(rule.source, rule.ref)],
                        inputs={"condition": item, "ingredient": ing},
                    ))
    return list(drafts.values()), evaluated


def kidney_and_dose(kb: KnowledgeBase, orders: list[Order],
                    patient: Patient) -> tuple[list[Draft], list[NotChecked], int]:
    drafts: dict[tuple[object, ...], Draft] = {}
    not_checked: list[NotChecked] = []
    evaluated = 0
    for order in orders:
        daily = order.dose_mg * order.doses_per_day if order.dose_mg and order.doses_per_day else None
        single = len(order.ingredients) == 1
        for ing in order.ingredients:
            drug = prescribing_rules.DrugRef(ingredient=ing, atc=kb.catalogue.atc_codes(ing))
            if patient.band is not None and patient.band_item is not None:
                findings, tested = prescribing_rules.check_renal(drug, patient.band, daily_mg=daily if single else None,
                                                                 weight_kg=patient.weight_kg)
                evaluated += tested
                for f in findings:
                    inputs: dict[str, InputValue] = {**f.inputs, "ingredient": ing}
                    merge(drafts, (order.index, ing, f.kind, "kidney"), Draft(
                        kind=f.kind, severity=f.severity, items=[order.name, patient.band_item], ingredients=[ing],
                        message=f"{order.show(ing)} with {patient.band.basis}: {f.message}", management=f.management,
                        rule_ids=[f.rule_id], sources=[f"{f.source} [{f.ref}]"], inputs=inputs,
                    ))
        if order.dose_mg is None:
            continue
        if not single:
            not_checked.append(NotChecked(item=order.name, check="dose",
                                          reason="dose of a combination product is not checked (strength per "
                                                 "ingredient unknown)"))
            continue
        ing = order.ingredients[0]
        result = prescribing_rules.check_dose(ing, dose_mg=order.dose_mg, doses_per_day=order.doses_per_day,
                                              route=order.route, age_years=patient.age_years,
                                              weight_kg=patient.weight_kg)
        evaluated += result.rules_evaluated
        not_checked.extend(NotChecked(item=order.name, check="dose", reason=r) for r in result.not_checked)
        if result.findings:
            problems = [f.message.split(": ", 1)[-1] for f in result.findings]
            worst = max(result.findings, key=lambda f: SEVERITY_RANK[f.severity])
            drafts[(order.index, "dose-range")] = Draft(
                kind="dose", severity=worst.severity, items=[order.name], ingredients=[ing],
                message=f"{order.show(ing)}: " + "; ".join(problems) + ".", management=worst.management,
                rule_ids=list(dict.fromkeys(f.rule_id for f in result.findings)),
                sources=list(dict.fromkeys(f"{f.source} [{f.ref}]" for f in result.findings)),
                inputs=dict(worst.inputs),
            )
    return list(drafts.values()), not_checked, evaluated
