"""check(): one prescribing decision-support pass over a regimen and a patient.

Steps: resolve every medicine (generic, synonym, brand, ATC code, '+' combination), every allergy
(allergy class, medicine or ATC class) and every condition (ICD-10); report what could not be
recognised; then run the drug-drug, three-drug, duplicate, allergy, condition, kidney and dose checks
against the compiled knowledge; finally apply the prescriber's override reasons and sort.

Nothing is silently dropped: an unrecognised input appears in `unknown` and as an alert of kind
"unknown" (an unchecked medicine is itself a safety problem), and a check that could not run (no
weight for a per-kilogram dose, a dose range not in the table) is listed in `not_checked`.
"""

from __future__ import annotations

from carebridge.engines import prescribing_rules
from carebridge.engines.interactions import _text, checks_drugs, checks_patient, icd10
from carebridge.engines.interactions._draft import AllergyInput, Draft, Order
from carebridge.engines.interactions.knowledge import KnowledgeBase, load_knowledge
from carebridge.engines.interactions.models import (
    KIND_ORDER,
    SEVERITY_RANK,
    Alert,
    CheckRequest,
    CheckResult,
    InputValue,
    MedicationOrder,
    ResolvedMedication,
)

UNKNOWN_SOURCE = "CareBridge medication catalogue (knowledge/ingredients.csv, brands.csv)"


def _resolve_allergy(kb: KnowledgeBase, index: int, name: str) -> AllergyInput | None:
    cls = kb.allergy_classes.get(_text.key(name))
    if cls is not None:
        return AllergyInput(index=index, name=name, members=cls.members, class_name=cls.name)
    res = kb.catalogue.resolve(name)
    if res is not None:
        return AllergyInput(index=index, name=name, members=frozenset(res.ingredients), class_name=None)
    if kb.catalogue.is_atc_code(name):
        members = kb.catalogue.atc_members(name.strip())
        if members:
            return AllergyInput(index=index, name=name, members=members, class_name=f"ATC {name.strip().upper()}")
    return None


def _unknown(kind_of_input: str, name: str) -> Draft:
    what = {
        "medication": "was not recognised as a medicine: it has NOT been checked for interactions, allergies, "
                      "conditions, duplicates or dose. Choose it from the medicine list or enter the generic name.",
        "allergy": "was not recognised as an allergen: medicines were NOT checked against it. Record the medicine "
                   "or class (e.g. penicillins, sulfonamide antibiotics, NSAIDs).",
        "condition": "is not an ICD-10 code: it was NOT used in condition checks.",
    }[kind_of_input]
    return Draft(kind="unknown", severity="moderate", items=[name], ingredients=[], message=f"'{name}' {what}",
                 rule_ids=[f"unknown-{kind_of_input}"], sources=[UNKNOWN_SOURCE], interruptive=True,
                 inputs={"field": kind_of_input})


def _patient(kb: KnowledgeBase, req: CheckRequest, unknown: list[str],
             drafts: list[Draft]) -> checks_patient.Patient:
    codes: list[tuple[str, str]] = []
    for given in req.conditions:
        canonical = icd10.parse(given)
        if canonical is None:
            unknown.append(given)
            drafts.append(_unknown("condition", given))
        else:
            codes.append((given, canonical))
    pregnant = (["pregnant"] if req.pregnant else []) + [
        g for g, c in codes if icd10.matches_any(c, kb.pregnancy_codes)]
    breastfeeding = (["breastfeeding"] if req.breastfeeding else []) + [
        g for g, c in codes if icd10.matches_any(c, kb.breastfeeding_codes)]
    band = prescribing_rules.egfr_band(req.egfr, [c for _, c in codes])
    band_item: str | None = None
    if band is not None:
        band_item = f"eGFR {req.egfr:g}" if req.egfr is not None else next(
            g for g, c in codes if band.basis.startswith(c + " "))
    return checks_patient.Patient(
        codes=tuple(codes), pregnant=tuple(pregnant), breastfeeding=tuple(breastfeeding), age_years=req.age_years,
        weight_kg=req.weight_kg, egfr=req.egfr, band=band, band_item=band_item)


def _finalise(d: Draft, req: CheckRequest, version: str) -> Alert:
    interruptive = d.interruptive if d.interruptive is not None else d.severity != "minor"
    overridable = d.kind != "unknown" and d.severity != "contraindicated"
    reason = None
    if overridable:
        wanted = frozenset(i.casefold() for i in d.items)
        for o in req.overrides:
            if o.kind == d.kind and frozenset(i.casefold() for i in o.items) == wanted:
                reason = o.reason
                interruptive = False
                break
    return Alert(kind=d.kind, severity=d.severity, items=d.items, ingredients=d.ingredients,
                 message=d.message, mechanism=d.mechanism, management=d.management, rule_ids=d.rule_ids,
                 sources=d.sources, interruptive=interruptive, overridable=overridable, override_reason=reason,
                 inputs=d.inputs, knowledge_version=version)


def _sort_key(a: Alert) -> tuple[int, int, tuple[str, ...], str]:
    return (-SEVERITY_RANK[a.severity], KIND_ORDER[a.kind], tuple(sorted(i.casefold() for i in a.items)), a.message)


def check(request: CheckRequest, kb: KnowledgeBase | None = None) -> CheckResult:
    """Run every check for one regimen and patient."""
    kb = kb or load_knowledge()
    unknown: list[str] = []
    drafts: list[Draft] = []
    orders: list[Order] = []
    resolved: list[ResolvedMedication] = []
    for i, med in enumerate(request.medications):
        res = kb.catalogue.resolve(med.name)
        if res is None:
            unknown.append(med.name)
            drafts.append(_unknown("medication", med.name))
            continue
        orders.append(Order(index=i, name=med.name, ingredients=res.ingredients, dose_mg=med.dose_mg,
                            doses_per_day=med.doses_per_day, route=med.route))
        resolved.append(ResolvedMedication(input=med.name, ingredients=list(res.ingredients),
                                           matched_by=res.matched_by, label=res.label))
    recorded: list[AllergyInput] = []
    for j, name in enumerate(request.allergies):
        allergy = _resolve_allergy(kb, j, name)
        if allergy is None:
            unknown.append(name)
            drafts.append(_unknown("allergy", name))
        else:
            recorded.append(allergy)
    patient = _patient(kb, request, unknown, drafts)

    evaluated = 0
    found, n = checks_drugs.interactions(kb, orders)
    drafts += found
    evaluated += n
    found, n = checks_drugs.triples(kb, orders)
    drafts += found
    evaluated += n
    found, n = checks_drugs.duplicates(kb, orders)
    drafts += found
    evaluated += n
    found, n = checks_patient.allergies(kb, orders, recorded)
    drafts += found
    evaluated += n
    found, n = checks_patient.conditions(kb, orders, patient)
    drafts += found
    evaluated += n
    found, not_checked, n = checks_patient.kidney_and_dose(kb, orders, patient)
    drafts += found
    evaluated += n

    alerts = sorted((_finalise(d, request, kb.version) for d in drafts), key=_sort_key)
    inputs: dict[str, InputValue] = {
        "medications": "; ".join(m.name for m in request.medications),
        "allergies": "; ".join(request.allergies), "conditions": "; ".join(request.conditions),
        "age_years": request.age_years, "weight_kg": request.weight_kg, "egfr": request.egfr,
        "pregnant": bool(patient.pregnant), "breastfeeding": bool(patient.breastfeeding),
        "egfr_band": patient.band.basis if patient.band else None,
    }
    return CheckResult(alerts=alerts, unknown=unknown, resolved=resolved, not_checked=not_checked,
                       knowledge_version=kb.version, rules_evaluated=evaluated, inputs=inputs)


def check_names(medications: list[str], *, allergies: list[str] | None = None, conditions: list[str] | None = None,
                age_years: float | None = None, weight_kg: float | None = None, egfr: float | None = None,
                pregnant: bool = False, breastfeeding: bool = False) -> CheckResult:
    """Convenience wrapper: medicines by name only."""
    return check(CheckRequest(
        medications=[MedicationOrder(name=m) for m in medications], allergies=allergies or [],
        conditions=conditions or [], age_years=age_years, weight_kg=weight_kg, egfr=egfr, pregnant=pregnant,
        breastfeeding=breastfeeding))
