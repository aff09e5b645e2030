"""The triage decision: findings -> red flags + likely conditions -> one level.

Two independent sources vote on urgency and the higher vote wins:

* red-flag rules (knowledge/rules.json): guideline danger signs that force a
  minimum level regardless of what the likely condition is;
* condition matching (knowledge/conditions.json): a weighted overlap score
  between the findings and each condition's typical findings; the level of
  the best match, rounded up when a more serious condition scores nearly as
  well.

Sending an emergency home is the worst possible error, so every tie and every
uncertainty is resolved upwards, and no rule can lower a level.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .kb import ConditionSpec, Knowledge, News2Band, RuleSpec, VitalCondition, load_knowledge
from .models import (
    AgeSource,
    ConditionMatch,
    Consciousness,
    Finding,
    FindingSource,
    Level,
    ParsedFindings,
    RedFlag,
    Sex,
    TriageInput,
    TriageResult,
    Vitals,
)
from .text import Mention, ParsedText, Severity, read_text

MAX_CONDITIONS = 5
MIN_REPORTED_SCORE = 0.15
MIN_LEVEL_SCORE = 0.2
ROUND_UP_RATIO = 0.8
ROUND_UP_FLOOR = 0.25
LOW_CONFIDENCE = 0.35
COVERAGE_CAP = 7.0
DURATION_PENALTY = 0.4
UNKNOWN_DURATION_PENALTY = 0.6
MILD_WEIGHT = 0.5
PAEDIATRIC_ONLY_MAX_AGE = 16.0

ACTIONS: Mapping[Level, str] = {
    Level.EMERGENCY: (
        "EMERGENCY: call an ambulance (112 or 108 in India) or go to the nearest "
        "emergency department now. Do not wait and do not drive yourself."
    ),
    Level.URGENT: "URGENT: see a doctor or clinic today, within the next few hours.",
    Level.NON_URGENT: "Book an appointment with a doctor within the next few days.",
    Level.SELF_CARE: "This can usually be looked after at home with the advice below.",
}

SAFETY_NET: Mapping[Level, str] = {
    Level.EMERGENCY: (
        "While you wait: stay with the person, keep them still and comfortable, and "
        "do not give food or drink unless told to. If they stop breathing or become "
        "unresponsive, start CPR if you know how."
    ),
    Level.URGENT: (
        "If things get worse while you wait (difficulty breathing, chest pain, "
        "confusion or drowsiness, fits, heavy bleeding), call 112/108 at once."
    ),
    Level.NON_URGENT: (
        "Seek care the same day if symptoms get worse before your appointment; call "
        "112/108 for difficulty breathing, chest pain, confusion, fits or heavy bleeding."
    ),
    Level.SELF_CARE: (
        "Get medical help urgently if you get worse or develop difficulty breathing, "
        "chest pain, confusion or unusual drowsiness, fits, bleeding, a rash that does "
        "not fade when pressed, or if you are not improving within 3 days "
        "(within 24 hours for a baby or an older person)."
    ),
}

DISCLAIMER = (
    "This is automated guidance based on published triage guidelines, not a "
    "diagnosis. If you are worried, contact a doctor or call 112/108."
)

_EMERGENCY_DEFAULT_SPECIALTY = "emergency_medicine"
_PAEDS_FROM = frozenset(
    {
        "general_practice",
        "internal_medicine",
        "geriatrics",
        "infectious_disease",
        "pulmonology",
        "gastroenterology",
        "nephrology",
        "endocrinology",
        "cardiology",
    }
)
_NEONATE_FROM = frozenset({"general_practice", "internal_medicine", "paediatrics", "geriatrics"})
_OBSTETRIC_FROM = frozenset({"general_practice", "internal_medicine", "infectious_disease"})
_NEONATE_MAX_AGE = 28.0 / 365.0
# Injury emergencies stay with emergency medicine even for children.
_INJURY_RULES = frozenset(
    {
        "rf.major_trauma",
        "rf.drowning",
        "rf.electric_shock",
        "rf.uncontrolled_bleeding",
        "rf.bleeding_unrelenting",
        "rf.head_injury_danger",
        "rf.head_injury_age",
        "rf.chest_injury_breathless",
        "rf.spinal_injury_neuro",
        "rf.choking",
        "rf.battery",
        "rf.carbon_monoxide",
    }
)


@dataclass(slots=True)
class _Info:
    source: FindingSource
    evidence: str
    severity: Severity | None = None


@dataclass(slots=True)
class Context:
    """Everything known about the person, merged from text, codes and vitals."""

    present: dict[str, _Info]
    negated: dict[str, str]
    historical: dict[str, str]
    age: float | None
    age_source: AgeSource
    age_hint: str | None
    sex: Sex
    pregnant: bool | None
    duration: float | None
    vitals: dict[str, float]
    consciousness: Consciousness | None
    news2: int | None = None
    news2_any_three: bool = False
    trace: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def has(self, symptom: str) -> bool:
        return symptom in self.present

    def is_severe(self, symptom: str) -> bool:
        info = self.present.get(symptom)
        return info is not None and info.severity == "severe"


def triage(inp: TriageInput) -> TriageResult:
    """Triage one complaint. Pure and deterministic: same input, same output."""
    kb = load_knowledge()
    parsed = read_text(inp.text, kb)
    ctx = _build_context(inp, parsed, kb)

    hits = [kb.rules[i] for i in _candidates(ctx, kb.rule_index, kb.unconditional_rules) if _fires(kb.rules[i], ctx)]
    matches = _score_conditions(ctx, kb)
    level = _decide_level(ctx, hits, matches, kb)
    specialty = _choose_specialty(ctx, level, hits, matches)

    red_flags = tuple(
        RedFlag(id=r.id, level=r.level, text=r.text, source=r.source) for r in hits if r.level.rank >= Level.URGENT.rank
    )
    rule_ids = (
        [f"symptom:{sid}" for sid in sorted(ctx.present)]
        + [f"rule:{r.id}" for r in hits]
        + [f"condition:{m.id}" for m in matches[:MAX_CONDITIONS]]
        + ctx.trace
    )
    return TriageResult(
        level=level,
        action=ACTIONS[level],
        red_flags=red_flags,
        conditions=tuple(matches[:MAX_CONDITIONS]),
        specialty=specialty,
        specialty_name=kb.specialties[specialty],
        safety_net=_safety_net(level, hits, matches),
        rule_ids=tuple(dict.fromkeys(rule_ids)),
        findings=_parsed_findings(ctx, parsed, kb),
        warnings=tuple(ctx.warnings),
        disclaimer=DISCLAIMER,
    )


# --- context -------------------------------------------------------------------


def _merge_mentions(mentions: Iterable[Mention]) -> tuple[dict[str, _Info], dict[str, str], dict[str, str]]:
    present: dict[str, _Info] = {}
    negated: dict[str, str] = {}
    historical: dict[str, str] = {}
    for m in mentions:
        if m.status == "present":
            info = present.get(m.symptom)
            if info is None:
                present[m.symptom] = _Info("text", m.evidence, m.severity)
            elif m.severity == "severe" or (m.severity == "mild" and info.severity is None):
                info.severity = m.severity
        elif m.status == "negated":
            negated.setdefault(m.symptom, m.evidence)
        else:
            historical.setdefault(m.symptom, m.evidence)
    for sid in present:
        negated.pop(sid, None)
        historical.pop(sid, None)
    return present, negated, historical


def _build_context(inp: TriageInput, parsed: ParsedText, kb: Knowledge) -> Context:
    present, negated, historical = _merge_mentions(parsed.mentions)
    warnings: list[str] = []
    trace: list[str] = []
    for sid in parsed.extra_findings:
        present.setdefault(sid, _Info("text", "reading in text"))
    for code in inp.symptoms:
        if code in kb.symptoms:
            present.setdefault(code, _Info("code", code))
            negated.pop(code, None)
        else:
            warnings.append(f"unknown symptom code ignored: {code!r}")

    age: float | None
    age_source: AgeSource
    if inp.age_months is not None:
        age, age_source = inp.age_months / 12.0, "input"
    elif inp.age is not None:
        age, age_source = inp.age, "input"
    elif parsed.age_years is not None:
        age, age_source = parsed.age_years, parsed.age_source or "text"
    else:
        age, age_source = None, "unknown"
    age_hint = parsed.age_hint if age_source in ("text", "assumed") else None
    if age_source == "assumed":
        trace.append(f"policy:assumed_age_{parsed.age_hint}")

    sex = inp.sex if inp.sex is not Sex.UNKNOWN else (parsed.sex or Sex.UNKNOWN)

    pregnant = inp.pregnant
    if pregnant is None:
        if "pregnant" in present or parsed.pregnant_from_gestation:
            pregnant = True
        elif "pregnant" in negated:
            pregnant = False
    obstetric = {"reduced_fetal_movement", "leaking_fluid", "labour_pains"} & present.keys()
    is_child = age is not None and age < 10
    if obstetric and (is_child or sex is Sex.MALE or pregnant is False):
        if "reduced_fetal_movement" in present:
            info = present.pop("reduced_fetal_movement")
            present.setdefault("lethargic", info)
            trace.append("policy:baby_not_moving_read_as_lethargic_child")
    elif obstetric and pregnant is None:
        pregnant = True
        trace.append("policy:pregnancy_inferred_from_obstetric_symptom")
    if sex is Sex.MALE or (age is not None and age < 9):
        pregnant = False if pregnant is None else pregnant
        if pregnant:
            warnings.append("pregnancy reported for a male or a young child; ignored")
            pregnant = False
    if pregnant and sex is Sex.UNKNOWN:
        sex = Sex.FEMALE

    duration = inp.duration_days if inp.duration_days is not None else parsed.duration_days

    # A child who swallowed someone's tablets or a household liquid is poisoned until
    # proven otherwise; for adults the amount decides (see the overdose pattern).
    child = (age is not None and age < 12) or parsed.age_hint in ("newborn", "infant", "child")
    if "possible_ingestion" in present and child:
        present.setdefault("accidental_ingestion", present["possible_ingestion"])
        trace.append("policy:child_ingestion_is_poisoning")

    vitals: dict[str, float] = dict(parsed.vitals)
    consciousness: Consciousness | None = None
    if inp.vitals is not None:
        for name in ("temperature_c", "heart_rate", "respiratory_rate", "spo2", "systolic_bp"):
            value = getattr(inp.vitals, name)
            if value is not None:
                vitals[name] = float(value)
        consciousness = inp.vitals.consciousness
    _vital_findings(vitals, consciousness, present, age)
    _imply(present, kb)

    ctx = Context(
        present=present,
        negated=negated,
        historical=historical,
        age=age,
        age_source=age_source,
        age_hint=age_hint,
        sex=sex,
        pregnant=pregnant,
        duration=duration,
        vitals=vitals,
        consciousness=consciousness,
        trace=trace,
        warnings=warnings,
    )
    adult = (age is not None and age >= kb.news2.min_age) or (age is None and age_hint is None)
    if adult and (vitals or consciousness is not None):
        ctx.news2, ctx.news2_any_three = _news2(vitals, consciousness, kb)
    return ctx


def _vital_findings(
    vitals: Mapping[str, float],
    consciousness: Consciousness | None,
    present: dict[str, _Info],
    age: float | None,
) -> None:
    """Measured values become findings so rules and conditions can use them."""
    temp = vitals.get("temperature_c")
    if temp is not None:
        young_infant = age is not None and age < 2.0 / 12.0
        if temp >= 38.0 or (young_infant and temp >= 37.5):
            present.setdefault("fever", _Info("vitals", f"temperature {temp:g} C"))
        if temp >= 39.0:
            present.setdefault("high_fever", _Info("vitals", f"temperature {temp:g} C"))
        if temp < 35.5:
            present.setdefault("cold_to_touch", _Info("vitals", f"temperature {temp:g} C"))
    if consciousness is Consciousness.CONFUSED:
        present.setdefault("confusion", _Info("vitals", "ACVPU: new confusion"))
    elif consciousness is Consciousness.VOICE:
        present.setdefault("lethargic", _Info("vitals", "ACVPU: responds to voice only"))
    elif consciousness in (Consciousness.PAIN, Consciousness.UNRESPONSIVE):
        present.setdefault("unresponsive", _Info("vitals", f"ACVPU: {consciousness.value}"))


def _imply(present: dict[str, _Info], kb: Knowledge) -> None:
    queue = sorted(present)
    while queue:
        sid = queue.pop(0)
        info = present[sid]
        for implied in kb.symptoms[sid].implies:
            if implied not in present:
                present[implied] = _Info("implied", kb.label(sid), info.severity)
                queue.append(implied)
            elif info.severity == "severe":
                present[implied].severity = "severe"


def _band_points(value: float, bands: tuple[News2Band, ...]) -> int:
    for band in bands:
        if value <= band.high:
            return band.points
    return bands[-1].points


def _news2(vitals: Mapping[str, float], consciousness: Consciousness | None, kb: Knowledge) -> tuple[int, bool]:
    spec = kb.news2
    points: list[int] = []
    for name, bands in (
        ("respiratory_rate", spec.respiratory_rate),
        ("spo2", spec.spo2),
        ("systolic_bp", spec.systolic_bp),
        ("heart_rate", spec.heart_rate),
        ("temperature_c", spec.temperature_c),
    ):
        value = vitals.get(name)
        if value is not None:
            points.append(_band_points(value, bands))
    if consciousness is not None and consciousness is not Consciousness.ALERT:
        points.append(spec.consciousness_not_alert_points)
    return sum(points), any(p >= 3 for p in points)


def _candidates(ctx: Context, index: Mapping[str, tuple[int, ...]], always: tuple[int, ...]) -> list[int]:
    """Positions of entries that could apply, in file order (keeps results deterministic)."""
    found = set(always)
    for sid in ctx.present:
        found.update(index.get(sid, ()))
    return sorted(found)


# --- rules -----------------------------------------------------------------------


def _compare(value: float, cond: VitalCondition) -> bool:
    if cond.op == "<":
        return value < cond.value
    if cond.op == "<=":
        return value <= cond.value
    if cond.op == ">":
        return value > cond.value
    return value >= cond.value


def _fires(rule: RuleSpec, ctx: Context) -> bool:
    w = rule.when
    if w.all and not all(ctx.has(s) for s in w.all):
        return False
    if w.any and sum(1 for s in w.any if ctx.has(s)) < w.any_min:
        return False
    if w.any2 and not any(ctx.has(s) for s in w.any2):
        return False
    if w.none and any(ctx.has(s) for s in w.none):
        return False
    if w.severe and not any(ctx.is_severe(s) for s in w.severe):
        return False
    if w.age is not None:
        if ctx.age is None:
            if not w.age_unknown:
                return False
        elif not w.age[0] <= ctx.age < w.age[1]:
            return False
    if w.sex is not None and ctx.sex is not Sex.UNKNOWN and ctx.sex is not w.sex:
        return False
    if w.pregnant is not None and bool(ctx.pregnant) is not w.pregnant:
        return False
    if w.duration is not None:
        if ctx.duration is None:
            if not w.duration_unknown:
                return False
        elif not w.duration[0] <= ctx.duration < w.duration[1]:
            return False
    for cond in w.vitals:
        value = ctx.vitals.get(cond.name)
        if value is None or not _compare(value, cond):
            return False
    if w.consciousness_not_alert and (ctx.consciousness is None or ctx.consciousness is Consciousness.ALERT):
        return False
    if w.news2_min is not None and (ctx.news2 is None or ctx.news2 < w.news2_min):
        return False
    return not (w.news2_any_three and not ctx.news2_any_three)


# --- conditions --------------------------------------------------------------------


def _eligible(cond: ConditionSpec, ctx: Context) -> bool:
    if cond.age is not None:
        if ctx.age is None:
            # Without any hint of a child, childhood-only conditions are not offered.
            if cond.age[1] <= PAEDIATRIC_ONLY_MAX_AGE:
                return False
        elif not cond.age[0] <= ctx.age < cond.age[1]:
            return False
    if cond.sex is not None and ctx.sex is not Sex.UNKNOWN and ctx.sex is not cond.sex:
        return False
    if cond.pregnancy == "required" and not ctx.pregnant:
        return False
    if cond.pregnancy == "required_or_postpartum" and not (ctx.pregnant or ctx.has("postpartum")):
        return False
    if cond.pregnancy == "excluded" and ctx.pregnant:
        return False
    return all(any(ctx.has(s) for s in group) for group in cond.requires)


def _score_conditions(ctx: Context, kb: Knowledge) -> list[ConditionMatch]:
    symptoms = [s for s in ctx.present if s not in kb.context_symptoms]
    matches: list[ConditionMatch] = []
    for position in _candidates(ctx, kb.condition_index, ()):
        cond = kb.conditions[position]
        if not _eligible(cond, ctx):
            continue
        total = sum(cond.findings.values())
        matched = [s for s in cond.findings if s in ctx.present]
        serious = cond.level.rank >= Level.URGENT.rank
        matched_weight = sum(
            cond.findings[s] * (MILD_WEIGHT if serious and ctx.present[s].severity == "mild" else 1.0) for s in matched
        )
        coverage = min(1.0, matched_weight / min(total, COVERAGE_CAP))
        explained_symptoms = [s for s in matched if s not in kb.context_symptoms]
        explained = len(explained_symptoms) / len(symptoms) if symptoms else 0.0
        negated_weight = sum(w for s, w in cond.findings.items() if s in ctx.negated)
        score = cond.prior * (0.5 * coverage + 0.5 * explained) - 0.5 * negated_weight / total
        if cond.duration is not None:
            if ctx.duration is None:
                if cond.duration[0] > 0:
                    # Conditions defined by how long symptoms last need that duration stated.
                    score *= UNKNOWN_DURATION_PENALTY
            elif not cond.duration[0] <= ctx.duration < cond.duration[1]:
                score *= DURATION_PENALTY
        score = round(max(0.0, min(1.0, score)), 3)
        if score < MIN_REPORTED_SCORE:
            continue
        labels = tuple(kb.label(s) for s in matched)
        matches.append(
            ConditionMatch(
                id=cond.id,
                code=cond.icd10,
                name=cond.name,
                score=score,
                level=cond.level,
                specialty=cond.specialty,
                explanation=f"{cond.explain} Matched: {', '.join(labels)}.",
                supporting=tuple(matched),
                source=cond.source,
            )
        )
    matches.sort(key=lambda m: (-m.score, -m.level.rank, m.id))
    return matches


# --- decisions ----------------------------------------------------------------------


def _decide_level(ctx: Context, hits: list[RuleSpec], matches: list[ConditionMatch], kb: Knowledge) -> Level:
    symptoms = [s for s in ctx.present if s not in kb.context_symptoms]
    rank = max((r.level.rank for r in hits), default=-1)
    if matches and matches[0].score >= MIN_LEVEL_SCORE:
        top = matches[0]
        floor = max(ROUND_UP_FLOOR, ROUND_UP_RATIO * top.score)
        near = [m for m in matches if m.score >= floor and m is not top]
        cond_rank = top.level.rank
        if any(m.level is Level.EMERGENCY for m in near):
            # A nearly-as-likely emergency cannot be ruled out from text: go all the way.
            cond_rank = Level.EMERGENCY.rank
        elif any(m.level.rank > cond_rank for m in near):
            # Otherwise round up one step only, so one plausible serious cause does not
            # turn every mild self-limiting complaint into a same-day visit.
            cond_rank += 1
        if cond_rank > top.level.rank:
            ctx.trace.append("policy:round_up_close_condition")
        if cond_rank == Level.SELF_CARE.rank and top.score < LOW_CONFIDENCE:
            cond_rank = Level.NON_URGENT.rank
            ctx.trace.append("policy:low_confidence_round_up")
        rank = max(rank, cond_rank)
    if rank < 0:
        if not symptoms and not ctx.present and not ctx.negated and not ctx.vitals:
            ctx.trace.append("policy:unrecognised_complaint")
            ctx.warnings.append("No symptoms were recognised; a clinician should assess this complaint today.")
            return Level.URGENT
        ctx.trace.append("policy:no_condition_match")
        return Level.NON_URGENT
    return Level.from_rank(rank)


def _choose_specialty(ctx: Context, level: Level, hits: list[RuleSpec], matches: list[ConditionMatch]) -> str:
    specialty: str | None = None
    first_at_level = next((r for r in hits if r.level is level), None)
    if first_at_level is not None:
        # Rules are ordered most specific first; the first one that fired at the final
        # level decides where to go (its own specialty, or emergency medicine).
        specialty = first_at_level.specialty
        if specialty is None and level is Level.EMERGENCY:
            specialty = _EMERGENCY_DEFAULT_SPECIALTY
    if specialty is None:
        at_level = [m for m in matches if m.level is level]
        if level is Level.EMERGENCY and any(r.level is level for r in hits):
            specialty = _EMERGENCY_DEFAULT_SPECIALTY
        elif at_level:
            specialty = at_level[0].specialty
        elif level is Level.EMERGENCY:
            specialty = _EMERGENCY_DEFAULT_SPECIALTY
        elif matches:
            specialty = matches[0].specialty
        else:
            specialty = "general_practice"
    age = ctx.age
    if age is not None and age < _NEONATE_MAX_AGE and specialty in _NEONATE_FROM | {_EMERGENCY_DEFAULT_SPECIALTY}:
        ctx.trace.append("policy:specialty_neonate")
        return "neonatology"
    if age is not None and age < 18 and specialty in _PAEDS_FROM:
        ctx.trace.append("policy:specialty_child")
        return "paediatrics"
    if (
        age is not None
        and age < 16
        and specialty == _EMERGENCY_DEFAULT_SPECIALTY
        and not any(r.level is level and r.specialty is None and r.id in _INJURY_RULES for r in hits)
    ):
        ctx.trace.append("policy:specialty_child_emergency")
        return "paediatrics"
    if age is not None and age >= 18 and specialty in ("paediatrics", "neonatology"):
        return "general_practice"
    if ctx.pregnant and level.rank >= Level.URGENT.rank and specialty in _OBSTETRIC_FROM:
        ctx.trace.append("policy:specialty_pregnancy")
        return "obstetrics_gynaecology"
    return specialty


def _safety_net(level: Level, hits: list[RuleSpec], matches: list[ConditionMatch]) -> str:
    kb = load_knowledge()
    parts: list[str] = []
    for rule in hits:
        if rule.advice and rule.advice not in parts:
            parts.append(rule.advice)
        if len(parts) >= 3:
            break
    if matches:
        by_id = {c.id: c for c in kb.conditions}
        advice = by_id[matches[0].id].advice
        if advice and advice not in parts:
            parts.append(advice)
    parts.append(SAFETY_NET[level])
    return " ".join(parts)


def _finding(sid: str, info: _Info, kb: Knowledge) -> Finding:
    return Finding(
        id=sid,
        label=kb.label(sid),
        source=info.source,
        evidence=info.evidence,
        severity=info.severity,
    )


def _parsed_findings(ctx: Context, parsed: ParsedText, kb: Knowledge) -> ParsedFindings:
    present = tuple(_finding(s, ctx.present[s], kb) for s in sorted(ctx.present))
    negated = tuple(Finding(id=s, label=kb.label(s), source="text", evidence=e) for s, e in sorted(ctx.negated.items()))
    historical = tuple(
        Finding(id=s, label=kb.label(s), source="text", evidence=e) for s, e in sorted(ctx.historical.items())
    )
    vitals = None
    if ctx.vitals or ctx.consciousness is not None:
        vitals = Vitals(
            temperature_c=ctx.vitals.get("temperature_c"),
            heart_rate=ctx.vitals.get("heart_rate"),
            respiratory_rate=ctx.vitals.get("respiratory_rate"),
            spo2=ctx.vitals.get("spo2"),
            systolic_bp=ctx.vitals.get("systolic_bp"),
            consciousness=ctx.consciousness,
        )
    return ParsedFindings(
        present=present,
        negated=negated,
        historical=historical,
        duration_days=ctx.duration,
        age_years=None if ctx.age is None else round(ctx.age, 3),
        age_source=ctx.age_source,
        sex=ctx.sex,
        pregnant=ctx.pregnant,
        corrections=parsed.corrections,
        unknown_terms=parsed.unknown_terms,
        vitals=vitals,
    )
