"""Checks between the ordered medicines: pairwise interactions, three-drug rules, duplicate therapy.

Interactions are looked up per pair of ingredients from different orders (never within one fixed-dose
product, whose combination is intended). When several sources speak about the same pair the worst
severity leads and every source stays cited. Alert tiering: contraindicated and ONC high-priority pairs
always interrupt; pairs on the non-interruptive list (Phansalkar et al., JAMIA 2013) and minor
interactions (Paterno et al., JAMIA 2009) are shown as quiet notes.
"""

from __future__ import annotations

from itertools import combinations, product

from carebridge.engines.interactions._draft import Draft, Order, merge
from carebridge.engines.interactions.knowledge import KnowledgeBase, PairRule
from carebridge.engines.interactions.models import SEVERITY_RANK

_ORIGIN_RANK = {"onc-high-priority": 3, "curated": 2, "public": 1}


def _rule_order(r: PairRule) -> tuple[int, int, str]:
    return (-SEVERITY_RANK[r.severity], -_ORIGIN_RANK[r.origin], r.id)


def interactions(kb: KnowledgeBase, orders: list[Order]) -> tuple[list[Draft], int]:
    drafts: dict[tuple[object, ...], Draft] = {}
    evaluated = 0
    for oa, ob in combinations(orders, 2):
        for x in oa.ingredients:
            for y in ob.ingredients:
                if x == y:
                    continue
                key = (x, y) if x <= y else (y, x)
                evaluated += 1
                rules = kb.pairs.get(key)
                if not rules:
                    continue
                evaluated += len(rules)
                ranked = sorted(rules, key=_rule_order)
                top = ranked[0]
                first, second = (oa, ob) if oa.show(x) <= ob.show(y) else (ob, oa)
                fx, sy = (x, y) if first is oa else (y, x)
                quiet = kb.quiet.get(key, ())
                onc = any(r.origin == "onc-high-priority" for r in rules)
                sources = [kb.cite(r.source, r.ref if r.origin != "public" else "") for r in ranked]
                inputs: dict[str, str | float | int | bool | None] = {
                    "ingredients": f"{x} + {y}",
                    "source_severities": "; ".join(f"{r.id}: {r.severity}" for r in ranked),
                }
                if onc:
                    interruptive = True
                    inputs["onc_high_priority"] = True
                elif top.severity == "contraindicated":
                    interruptive = True
                elif quiet:
                    interruptive = False
                    inputs["non_interruptive"] = "; ".join(f"{q.id}: {q.reason}" for q in quiet)
                    sources.extend(kb.cite(q.source, q.ref) for q in quiet)
                elif top.severity == "minor":
                    interruptive = False
                    inputs["non_interruptive"] = "minor severity (tiered alerting)"
                    sources.append(kb.cite("paterno-2009"))
                else:
                    interruptive = True
                management = top.management or next((r.management for r in ranked if r.management), "")
                draft = Draft(
                    kind="interaction", severity=top.severity, items=[oa.name, ob.name], ingredients=[x, y],
                    message=f"{first.show(fx)} + {second.show(sy)}: {top.mechanism}", mechanism=top.mechanism,
                    management=management, rule_ids=[r.id for r in ranked], sources=list(dict.fromkeys(sources)),
                    interruptive=interruptive, inputs=inputs,
                )
                merge(drafts, (oa.index, ob.index, key), draft)
    return list(drafts.values()), evaluated


def triples(kb: KnowledgeBase, orders: list[Order]) -> tuple[list[Draft], int]:
    """Three-drug rules, reported once per minimal set of orders that completes them.

    A fixed-dose product may supply two members (telmisartan + hydrochlorothiazide), but at least two
    different orders are needed. Only minimal order sets are reported, so adding a medicine never
    replaces an existing alert with a larger one.
    """
    drafts: list[Draft] = []
    evaluated = 0
    for rule in kb.triples:
        evaluated += 1
        slots = [[(o, i) for o in orders for i in o.ingredients if i in members] for members in rule.members]
        if not all(slots):
            continue
        found: dict[frozenset[int], list[tuple[Order, str]]] = {}
        for combo in product(*slots):
            order_ids = frozenset(o.index for o, _ in combo)
            if len({(o.index, i) for o, i in combo}) != 3 or len(order_ids) < 2:
                continue
            candidate: list[tuple[Order, str]] = sorted(combo, key=lambda oi: (oi[0].index, oi[1]))
            best = found.get(order_ids)
            if best is None or sorted(i for _, i in candidate) < sorted(i for _, i in best):
                found[order_ids] = candidate
        for order_ids, chosen in sorted(found.items(), key=lambda kv: sorted(kv[0])):
            if any(other < order_ids for other in found):
                continue
            involved = [o for o in orders if o.index in order_ids]
            parts = []
            for o in involved:
                ings = [i for oo, i in chosen if oo.index == o.index]
                parts.append(o.show(ings[0]) if len(ings) == 1 else f"{o.name} ({' + '.join(ings)})")
            shown = " + ".join(sorted(parts))
            drafts.append(Draft(
                kind="interaction", severity=rule.severity, items=[o.name for o in involved],
                ingredients=sorted({i for _, i in chosen}), message=f"{shown}: {rule.mechanism}",
                mechanism=rule.mechanism, management=rule.management, rule_ids=[rule.id],
                sources=[kb.cite(rule.source, rule.ref)], interruptive=rule.severity != "minor",
                inputs={"ingredients": shown},
            ))
    return drafts, evaluated


def _classes(kb: KnowledgeBase, order: Order) -> dict[str, str]:
    """ATC level-4 classes of an order's ingredients (never an 'other ...' X group), class -> ingredient."""
    out: dict[str, str] = {}
    for ing in order.ingredients:
        for code in kb.catalogue.atc_codes(ing):
            if len(code) >= 5 and code[4] != "X":
                out.setdefault(code[:5], ing)
    return out


def duplicates(kb: KnowledgeBase, orders: list[Order]) -> tuple[list[Draft], int]:
    drafts: list[Draft] = []
    evaluated = 0
    exempt = {e.atc for e in kb.duplicate_exempt}
    classes = {o.index: _classes(kb, o) for o in orders}
    for oa, ob in combinations(orders, 2):
        evaluated += 1
        shared = sorted(set(oa.ingredients) & set(ob.ingredients))
        if shared:
            names = ", ".join(shared)
            drafts.append(Draft(
                kind="duplicate", severity="major", items=[oa.name, ob.name], ingredients=shared,
                message=f"Same ingredient ordered twice: {names} is in both {oa.name} and {ob.name}.",
                management="Stop one of them, or give an override reason if both are intended.",
                rule_ids=["dup-same-ingredient"], sources=[kb.cite("carebridge-duplicates")],
                inputs={"shared_ingredients": names},
            ))
            continue
        ca, cb = classes[oa.index], classes[ob.index]
        common = sorted(c for c in set(ca) & set(cb) if not any(c.startswith(e) for e in exempt))
        if common:
            cls = common[0]
            pair = sorted([oa.show(ca[cls]), ob.show(cb[cls])])
            drafts.append(Draft(
                kind="duplicate", severity="moderate", items=[oa.name, ob.name], ingredients=[ca[cls], cb[cls]],
                message=f"Same therapeutic class (ATC {cls}): {pair[0]} and {pair[1]}.",
                management="Check that both are intended; give an override reason to proceed.",
                rule_ids=[f"dup-class-{cls}"], sources=[kb.cite("carebridge-duplicates"), kb.cite("who-atc")],
                inputs={"atc_class": cls},
            ))
    return drafts, evaluated
