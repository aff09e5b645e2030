"""Loading and validating the triage knowledge files.

All clinical facts live in knowledge/ as CSV/JSON so clinicians can review
them without reading Python. Everything is validated once at load time (ids
exist, specialties are project codes, sources are cited, synonyms do not
collide) so that a bad edit fails loudly in tests instead of silently
changing a triage answer.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..specialties import all_specialties
from .fuzzy import FuzzyMatcher
from .models import Level, Sex
from .normalize import phrase_tokens

KNOWLEDGE_DIR = Path(__file__).resolve().parent / "knowledge"

_ICD10 = re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,2})?$")
_ID = re.compile(r"^[a-z][a-z0-9_.]*$")
_OPEN_END = 1e9


class KnowledgeError(ValueError):
    """Raised when the knowledge files are inconsistent; never caught by the engine."""


class SymptomSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    label: str
    tags: frozenset[str]
    implies: tuple[str, ...]
    synonyms: tuple[str, ...]
    source: str


Op = Literal["<", "<=", ">", ">="]


class VitalCondition(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Literal["temperature_c", "heart_rate", "respiratory_rate", "spo2", "systolic_bp"]
    op: Op
    value: float


class When(BaseModel):
    """Conjunction of clauses; every clause given must hold for the rule to fire."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    all: tuple[str, ...] = ()
    any: tuple[str, ...] = ()
    any_min: int = Field(default=1, ge=1)
    any2: tuple[str, ...] = ()
    none: tuple[str, ...] = ()
    severe: tuple[str, ...] = ()
    age: tuple[float, float] | None = None
    age_months: tuple[float, float] | None = None
    age_unknown: bool = False
    sex: Sex | None = None
    pregnant: bool | None = None
    duration: tuple[float, float] | None = None
    duration_unknown: bool = False
    vitals: tuple[VitalCondition, ...] = ()
    consciousness_not_alert: bool = False
    news2_min: int | None = None
    news2_any_three: bool = False


class RuleSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    level: Level
    text: str
    source: str
    when: When
    specialty: str | None = None
    advice: str = ""

    @field_validator("id")
    @classmethod
    def _id_format(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"bad rule id {value!r}")
        return value


PregnancyRequirement = Literal["required", "required_or_postpartum", "excluded"]


class ConditionSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    icd10: str
    name: str
    level: Level
    specialty: str
    findings: dict[str, float]
    requires: tuple[tuple[str, ...], ...] = ()
    age: tuple[float, float] | None = None
    sex: Sex | None = None
    pregnancy: PregnancyRequirement | None = None
    duration: tuple[float, float] | None = None
    prior: float = Field(default=1.0, gt=0.0, le=1.0)
    explain: str
    advice: str = ""
    source: str

    @field_validator("icd10")
    @classmethod
    def _icd_format(cls, value: str) -> str:
        if not _ICD10.match(value):
            raise ValueError(f"bad ICD-10 code {value!r}")
        return value

    @field_validator("findings")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        if not value or any(w <= 0 for w in value.values()):
            raise ValueError("findings need positive weights")
        return value


class News2Band(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    low: float
    high: float
    points: int


class News2Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    min_age: float
    respiratory_rate: tuple[News2Band, ...]
    spo2: tuple[News2Band, ...]
    systolic_bp: tuple[News2Band, ...]
    heart_rate: tuple[News2Band, ...]
    temperature_c: tuple[News2Band, ...]
    consciousness_not_alert_points: int


@dataclass(frozen=True, slots=True)
class Phrase:
    tokens: tuple[str, ...]
    target: str


@dataclass(frozen=True, slots=True)
class ComposeEntry:
    symptom: str
    qualifier: str | None
    qualified_symptom: str | None


@dataclass(frozen=True, slots=True)
class Lexicon:
    fillers: frozenset[str]
    intensifiers: frozenset[str]
    cues: Mapping[str, tuple[Phrase, ...]]
    list_connectors: frozenset[str]
    clause_breakers: frozenset[str]
    male_words: frozenset[str]
    female_words: frozenset[str]
    male_pronouns: frozenset[str]
    female_pronouns: frozenset[str]
    newborn_words: tuple[tuple[str, ...], ...]
    infant_words: tuple[tuple[str, ...], ...]
    child_words: tuple[tuple[str, ...], ...]
    elderly_words: tuple[tuple[str, ...], ...]
    person_nouns: frozenset[str]
    number_words: Mapping[str, float]
    duration_units: Mapping[str, float]
    duration_phrases: Mapping[str, float]
    heads: Mapping[str, tuple[Phrase, ...]]
    sites: Mapping[str, tuple[Phrase, ...]]
    qualifiers: Mapping[str, frozenset[str]]
    compose: Mapping[tuple[str, str], ComposeEntry]
    head_default: Mapping[str, str]
    site_priority: Mapping[str, int]
    negation_words: frozenset[str]
    radiation_words: frozenset[str]
    canonical: Mapping[tuple[str, ...], str]
    duration_regex: re.Pattern[str]
    duration_phrase_regexes: tuple[tuple[re.Pattern[str], float], ...]


@dataclass(frozen=True, slots=True)
class Knowledge:
    """Everything the engine needs, validated and pre-indexed for fast lookup."""

    symptoms: Mapping[str, SymptomSpec]
    phrase_index: Mapping[str, tuple[Phrase, ...]]
    tags: Mapping[str, frozenset[str]]
    conditions: tuple[ConditionSpec, ...]
    rules: tuple[RuleSpec, ...]
    news2: News2Spec
    specialties: Mapping[str, str]
    sources: Mapping[str, str]
    lexicon: Lexicon
    fuzzy: FuzzyMatcher
    context_symptoms: frozenset[str]
    condition_index: Mapping[str, tuple[int, ...]]
    rule_index: Mapping[str, tuple[int, ...]]
    unconditional_rules: tuple[int, ...]

    def label(self, symptom_id: str) -> str:
        spec = self.symptoms.get(symptom_id)
        return spec.label if spec else symptom_id


def _read_json(name: str) -> object:
    with (KNOWLEDGE_DIR / name).open(encoding="utf-8") as handle:
        return json.load(handle)


def _read_entries(name: str, key: str) -> list[dict[str, object]]:
    """A knowledge file is {"_comment": ..., key: [entry, ...]} with one entry per line."""
    raw = _read_json(name)
    entries = raw.get(key) if isinstance(raw, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise KnowledgeError(f"{name}: expected an object with a list of objects under {key!r}")
    return entries


def read_specialties() -> dict[str, str]:
    """Project-wide specialty codes (engines/knowledge/specialties.csv), code -> English name."""
    return {s.code: s.name_en for s in all_specialties()}


def _check_source(source: str, sources: Mapping[str, str], where: str) -> None:
    key = source.split(":", 1)[0]
    if key not in sources:
        raise KnowledgeError(f"{where}: unknown source {source!r}")


def _load_symptoms(sources: Mapping[str, str]) -> dict[str, SymptomSpec]:
    symptoms: dict[str, SymptomSpec] = {}
    with (KNOWLEDGE_DIR / "symptoms.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            sid = row["id"]
            if sid in symptoms:
                raise KnowledgeError(f"symptoms.csv: duplicate id {sid}")
            spec = SymptomSpec(
                id=sid,
                label=row["label"],
                tags=frozenset(t for t in row["tags"].split(";") if t),
                implies=tuple(t for t in row["implies"].split(";") if t),
                synonyms=tuple(s for s in row["synonyms"].split("|") if s.strip()),
                source=row["source"],
            )
            _check_source(spec.source, sources, f"symptoms.csv:{sid}")
            symptoms[sid] = spec
    for spec in symptoms.values():
        for implied in spec.implies:
            if implied not in symptoms:
                raise KnowledgeError(f"symptoms.csv:{spec.id}: implies unknown {implied}")
    return symptoms


def canonicalize(tokens: tuple[str, ...], canonical: Mapping[tuple[str, ...], str]) -> tuple[str, ...]:
    """Rewrite variant spellings of the same idea to one token ("cannot", "unable to" -> "cant")."""
    if not canonical:
        return tokens
    longest = max(len(k) for k in canonical)
    # Repeat until stable: "is not able to" -> "not able to" -> "cant".
    for _ in range(3):
        out: list[str] = []
        i = 0
        while i < len(tokens):
            for n in range(min(longest, len(tokens) - i), 0, -1):
                replacement = canonical.get(tokens[i : i + n])
                if replacement is not None and (n > 1 or replacement != tokens[i]):
                    out.append(replacement)
                    i += n
                    break
            else:
                out.append(tokens[i])
                i += 1
        if tuple(out) == tokens:
            break
        tokens = tuple(out)
    return tokens


def _phrases(
    words: list[str], fillers: frozenset[str], canonical: Mapping[tuple[str, ...], str]
) -> tuple[tuple[str, ...], ...]:
    out: list[tuple[str, ...]] = []
    for word in words:
        tokens = tuple(t for t in canonicalize(phrase_tokens(word), canonical) if t not in fillers)
        if tokens:
            out.append(tokens)
    return tuple(out)


def _index_phrases(pairs: list[tuple[tuple[str, ...], str]], where: str) -> dict[str, tuple[Phrase, ...]]:
    """Index phrases by first token, longest first, rejecting ambiguous duplicates."""
    owner: dict[tuple[str, ...], str] = {}
    for tokens, target in pairs:
        previous = owner.get(tokens)
        if previous is not None and previous != target:
            raise KnowledgeError(f"{where}: phrase {' '.join(tokens)!r} maps to both {previous} and {target}")
        owner[tokens] = target
    index: dict[str, list[Phrase]] = {}
    for tokens, target in owner.items():
        index.setdefault(tokens[0], []).append(Phrase(tokens, target))
    return {first: tuple(sorted(items, key=lambda p: (-len(p.tokens), p.tokens))) for first, items in index.items()}


def _str_list(raw: Mapping[str, object], key: str) -> list[str]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise KnowledgeError(f"lexicon.json: {key} must be a list of strings")
    return [str(v) for v in value]


def _num_map(raw: Mapping[str, object], key: str) -> dict[str, float]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise KnowledgeError(f"lexicon.json: {key} must be an object")
    out: dict[str, float] = {}
    for k, v in value.items():
        if not isinstance(v, int | float):
            raise KnowledgeError(f"lexicon.json: {key}.{k} must be a number")
        out[" ".join(phrase_tokens(str(k)))] = float(v)
    return out


def _load_lexicon(symptoms: Mapping[str, SymptomSpec]) -> Lexicon:
    raw_obj = _read_json("lexicon.json")
    if not isinstance(raw_obj, dict):
        raise KnowledgeError("lexicon.json must be an object")
    raw: dict[str, object] = raw_obj
    fillers = frozenset(_str_list(raw, "fillers"))
    canonical_raw = raw.get("canonical", {})
    if not isinstance(canonical_raw, dict):
        raise KnowledgeError("lexicon.json: canonical must be an object")
    canonical = {phrase_tokens(str(k)): str(v) for k, v in canonical_raw.items()}

    def plain(key: str) -> tuple[tuple[str, ...], ...]:
        phrases = (canonicalize(phrase_tokens(w), canonical) for w in _str_list(raw, key))
        return tuple(p for p in phrases if p)

    cue_kinds = {
        "neg_pre": "negation_pre",
        "neg_post": "negation_post",
        "pseudo": "pseudo_negation",
        "terminator": "scope_terminators",
        "history": "history_cues",
        "severe": "severity_severe",
        "mild": "severity_mild",
    }
    cue_pairs: list[tuple[tuple[str, ...], str]] = []
    seen: dict[tuple[str, ...], str] = {}
    for kind, key in cue_kinds.items():
        for tokens in plain(key):
            if tokens in seen:
                continue  # first listed meaning wins (e.g. "denied" pre before post)
            seen[tokens] = kind
            cue_pairs.append((tokens, kind))
    cues = _index_phrases(cue_pairs, "lexicon.json cues")

    heads_raw = raw.get("heads", {})
    sites_raw = raw.get("sites", {})
    if not isinstance(heads_raw, dict) or not isinstance(sites_raw, dict):
        raise KnowledgeError("lexicon.json: heads and sites must be objects")
    head_pairs = [
        (tokens, str(cls))
        for cls, words in heads_raw.items()
        for tokens in _phrases([str(w) for w in words], fillers, canonical)
    ]
    site_pairs = [
        (tokens, str(cls))
        for cls, words in sites_raw.items()
        for tokens in _phrases([str(w) for w in words], fillers, canonical)
    ]
    heads = _index_phrases(head_pairs, "lexicon.json heads")
    sites = _index_phrases(site_pairs, "lexicon.json sites")

    qualifiers_raw = raw.get("qualifiers", {})
    if not isinstance(qualifiers_raw, dict):
        raise KnowledgeError("lexicon.json: qualifiers must be an object")
    qualifiers = {str(k): frozenset(" ".join(phrase_tokens(str(w))) for w in v) for k, v in qualifiers_raw.items()}

    compose: dict[tuple[str, str], ComposeEntry] = {}
    compose_raw = raw.get("compose", [])
    if not isinstance(compose_raw, list):
        raise KnowledgeError("lexicon.json: compose must be a list")
    for entry in compose_raw:
        head, site = str(entry["head"]), str(entry["site"])
        if head not in heads_raw or site not in sites_raw:
            raise KnowledgeError(f"lexicon.json compose: unknown head/site {head}/{site}")
        symptom = str(entry["symptom"])
        qualifier = entry.get("qualifier")
        qualified = entry.get("qualified_symptom")
        for sid in (symptom, qualified):
            if sid is not None and sid not in symptoms:
                raise KnowledgeError(f"lexicon.json compose: unknown symptom {sid}")
        if qualifier is not None and qualifier not in qualifiers:
            raise KnowledgeError(f"lexicon.json compose: unknown qualifier {qualifier}")
        if (head, site) in compose:
            raise KnowledgeError(f"lexicon.json compose: duplicate {head}/{site}")
        compose[(head, site)] = ComposeEntry(
            symptom,
            None if qualifier is None else str(qualifier),
            None if qualified is None else str(qualified),
        )
    head_default_raw = raw.get("head_default", {})
    if not isinstance(head_default_raw, dict):
        raise KnowledgeError("lexicon.json: head_default must be an object")
    head_default = {str(k): str(v) for k, v in head_default_raw.items()}
    for sid in head_default.values():
        if sid not in symptoms:
            raise KnowledgeError(f"lexicon.json head_default: unknown symptom {sid}")

    def word_set(key: str) -> frozenset[str]:
        return frozenset(" ".join(phrase_tokens(w)) for w in _str_list(raw, key))

    number_words = _num_map(raw, "number_words")
    duration_units = _num_map(raw, "duration_units")
    duration_phrases = _num_map(raw, "duration_phrases")
    number_alt = "|".join(re.escape(n) for n in sorted(number_words, key=len, reverse=True))
    unit_alt = "|".join(re.escape(u) for u in sorted(duration_units, key=len, reverse=True))
    duration_regex = re.compile(
        rf"\b(?P<num>\d+(?:\.\d+)?|{number_alt})\s*(?P<unit>{unit_alt})\b"
        r"(?!\s*(?:old|pregnant)\b)"
    )
    phrase_regexes = tuple(
        (re.compile(r"\b" + r"\s+(?:the\s+)?".join(re.escape(w) for w in p.split()) + r"\b"), v)
        for p, v in duration_phrases.items()
    )
    priority_raw = raw.get("site_priority", {})
    if not isinstance(priority_raw, dict):
        raise KnowledgeError("lexicon.json: site_priority must be an object")
    site_priority = {str(k): int(v) for k, v in priority_raw.items()}
    negation_words = frozenset(
        tokens[0] for tokens in plain("negation_pre") + plain("negation_post") if len(tokens) == 1
    )
    return Lexicon(
        fillers=fillers,
        intensifiers=frozenset(_str_list(raw, "intensifiers")),
        cues=cues,
        list_connectors=word_set("list_connectors"),
        clause_breakers=word_set("clause_breakers"),
        male_words=word_set("male_words"),
        female_words=word_set("female_words"),
        male_pronouns=word_set("male_pronouns"),
        female_pronouns=word_set("female_pronouns"),
        newborn_words=plain("newborn_words"),
        infant_words=plain("infant_words"),
        child_words=plain("child_words"),
        elderly_words=plain("elderly_words"),
        person_nouns=word_set("person_nouns_after_age"),
        number_words=number_words,
        duration_units=duration_units,
        duration_phrases=duration_phrases,
        heads=heads,
        sites=sites,
        qualifiers=qualifiers,
        compose=compose,
        head_default=head_default,
        site_priority=site_priority,
        negation_words=negation_words,
        radiation_words=word_set("radiation_words"),
        canonical=canonical,
        duration_regex=duration_regex,
        duration_phrase_regexes=phrase_regexes,
    )


def _expand(
    ids: tuple[str, ...], tags: Mapping[str, frozenset[str]], where: str, symptoms: Mapping[str, SymptomSpec]
) -> tuple[str, ...]:
    """Resolve '@tag' shorthands into symptom ids and check every id exists."""
    out: list[str] = []
    for item in ids:
        if item.startswith("@"):
            members = tags.get(item[1:])
            if members is None:
                raise KnowledgeError(f"{where}: unknown tag {item}")
            out.extend(sorted(members))
        elif item in symptoms:
            out.append(item)
        else:
            raise KnowledgeError(f"{where}: unknown symptom {item}")
    return tuple(dict.fromkeys(out))


def _load_rules(
    symptoms: Mapping[str, SymptomSpec],
    tags: Mapping[str, frozenset[str]],
    specialties: Mapping[str, str],
    sources: Mapping[str, str],
) -> tuple[RuleSpec, ...]:
    rules: list[RuleSpec] = []
    seen: set[str] = set()
    for raw in _read_entries("rules.json", "rules"):
        rule = RuleSpec.model_validate(raw)
        where = f"rules.json:{rule.id}"
        if rule.id in seen:
            raise KnowledgeError(f"{where}: duplicate id")
        seen.add(rule.id)
        _check_source(rule.source, sources, where)
        if rule.specialty is not None and rule.specialty not in specialties:
            raise KnowledgeError(f"{where}: unknown specialty {rule.specialty}")
        when = rule.when
        age = when.age
        if when.age_months is not None:
            age = (when.age_months[0] / 12.0, when.age_months[1] / 12.0)
        expanded = when.model_copy(
            update={
                "all": _expand(when.all, tags, where, symptoms),
                "any": _expand(when.any, tags, where, symptoms),
                "any2": _expand(when.any2, tags, where, symptoms),
                "none": _expand(when.none, tags, where, symptoms),
                "severe": _expand(when.severe, tags, where, symptoms),
                "age": age,
                "age_months": None,
            }
        )
        rules.append(rule.model_copy(update={"when": expanded}))
    return tuple(rules)


def _load_conditions(
    symptoms: Mapping[str, SymptomSpec],
    specialties: Mapping[str, str],
    sources: Mapping[str, str],
) -> tuple[ConditionSpec, ...]:
    conditions: list[ConditionSpec] = []
    seen: set[str] = set()
    for raw in _read_entries("conditions.json", "conditions"):
        cond = ConditionSpec.model_validate(raw)
        where = f"conditions.json:{cond.id}"
        if cond.id in seen:
            raise KnowledgeError(f"{where}: duplicate id")
        seen.add(cond.id)
        _check_source(cond.source, sources, where)
        if cond.specialty not in specialties:
            raise KnowledgeError(f"{where}: unknown specialty {cond.specialty}")
        requires = cond.requires or (tuple(cond.findings),)
        for group in requires:
            for sid in group:
                if sid not in symptoms:
                    raise KnowledgeError(f"{where}: requires unknown symptom {sid}")
        for sid in cond.findings:
            if sid not in symptoms:
                raise KnowledgeError(f"{where}: unknown finding {sid}")
        conditions.append(cond.model_copy(update={"requires": requires}))
    return tuple(conditions)


def _build() -> Knowledge:
    sources_raw = _read_json("sources.json")
    if not isinstance(sources_raw, dict):
        raise KnowledgeError("sources.json must be an object")
    sources = {str(k): str(v) for k, v in sources_raw.items()}
    specialties = read_specialties()
    symptoms = _load_symptoms(sources)
    lexicon = _load_lexicon(symptoms)

    phrase_pairs: list[tuple[tuple[str, ...], str]] = []
    for spec in symptoms.values():
        for synonym in spec.synonyms:
            tokens = tuple(
                t for t in canonicalize(phrase_tokens(synonym), lexicon.canonical) if t not in lexicon.fillers
            )
            if not tokens:
                raise KnowledgeError(f"symptoms.csv:{spec.id}: synonym {synonym!r} is empty")
            phrase_pairs.append((tokens, spec.id))
    head_tokens = {p.tokens for phrases in lexicon.heads.values() for p in phrases}
    for tokens, sid in phrase_pairs:
        if tokens in head_tokens:
            raise KnowledgeError(
                f"symptoms.csv:{sid}: synonym {' '.join(tokens)!r} is a composition head word; "
                "list it under lexicon.json head_default instead"
            )
    phrase_index = _index_phrases(phrase_pairs, "symptoms.csv")

    tags: dict[str, set[str]] = {}
    for spec in symptoms.values():
        for tag in spec.tags:
            tags.setdefault(tag, set()).add(spec.id)
    frozen_tags = {k: frozenset(v) for k, v in tags.items()}

    rules = _load_rules(symptoms, frozen_tags, specialties, sources)
    conditions = _load_conditions(symptoms, specialties, sources)
    news2_raw = _read_json("news2.json")
    if not isinstance(news2_raw, dict):
        raise KnowledgeError("news2.json must be an object")
    news2 = News2Spec.model_validate({k: v for k, v in news2_raw.items() if not k.startswith("_")})
    _check_source(news2.source, sources, "news2.json")

    vocabulary: set[str] = set()
    for tokens, _ in phrase_pairs:
        vocabulary.update(tokens)
    for group in (lexicon.cues, lexicon.heads, lexicon.sites):
        for phrases in group.values():
            for phrase in phrases:
                vocabulary.update(phrase.tokens)
    raw_lex = _read_json("lexicon.json")
    known: set[str] = set(lexicon.fillers) | set(lexicon.intensifiers)
    if isinstance(raw_lex, dict):
        for key in (
            "common_words",
            "list_connectors",
            "clause_breakers",
            "male_words",
            "female_words",
            "male_pronouns",
            "female_pronouns",
            "child_words",
            "radiation_words",
            "infant_words",
            "newborn_words",
            "elderly_words",
            "person_nouns_after_age",
        ):
            for word in _str_list(raw_lex, key):
                known.update(phrase_tokens(word))
    for source_tokens in lexicon.canonical:
        known.update(source_tokens)
    for mapping in (lexicon.number_words, lexicon.duration_units, lexicon.duration_phrases):
        for phrase_text in mapping:
            known.update(phrase_text.split())
    fuzzy = FuzzyMatcher(targets=vocabulary, known=known)

    condition_index, rule_index, unconditional = _indexes(conditions, rules)
    return Knowledge(
        symptoms=symptoms,
        phrase_index=phrase_index,
        tags=frozen_tags,
        conditions=conditions,
        rules=rules,
        news2=news2,
        specialties=specialties,
        sources=sources,
        lexicon=lexicon,
        fuzzy=fuzzy,
        context_symptoms=frozen_tags.get("context", frozenset()),
        condition_index=condition_index,
        rule_index=rule_index,
        unconditional_rules=unconditional,
    )


def _indexes(
    conditions: tuple[ConditionSpec, ...], rules: tuple[RuleSpec, ...]
) -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]], tuple[int, ...]]:
    """Which conditions/rules could apply when a finding is present.

    A condition needs a finding from its first `requires` group; a rule with symptom clauses needs
    one of them. Looking these up avoids testing ~470 entries against every complaint.
    """
    cond_index: dict[str, list[int]] = {}
    for position, cond in enumerate(conditions):
        for sid in cond.requires[0]:
            cond_index.setdefault(sid, []).append(position)
    rule_index: dict[str, list[int]] = {}
    unconditional: list[int] = []
    for position, rule in enumerate(rules):
        w = rule.when
        keys = (w.all[:1] or w.any) if (w.all or w.any) else w.severe
        if not keys:
            unconditional.append(position)
        for sid in keys:
            rule_index.setdefault(sid, []).append(position)
    return (
        {k: tuple(v) for k, v in cond_index.items()},
        {k: tuple(v) for k, v in rule_index.items()},
        tuple(unconditional),
    )


@lru_cache(maxsize=1)
def load_knowledge() -> Knowledge:
    """Parse, validate and index the knowledge files once per process."""
    return _build()
