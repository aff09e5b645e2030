"""The shipped code lists (ICD-10, LOINC, UIP vaccines) in memory, and the picker search over them.

Lists are small (a few thousand entries), read once per process from `codes/`, and searched in memory:
a query matches a code by its code prefix, by words of its title or synonyms (word prefixes), and, when
nothing matches exactly, by words within a small edit distance, so "diabtes" and "hypertention" still find
their codes. Scores favour code matches, then synonym matches, then title-word coverage.
"""

from __future__ import annotations

import csv
import difflib
import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources

from unidecode import unidecode


class CodeSystem(StrEnum):
    icd10 = "icd10"
    loinc = "loinc"
    vaccines = "vaccines"


SYSTEM_URI = {
    CodeSystem.icd10: "http://hl7.org/fhir/sid/icd-10",
    CodeSystem.loinc: "http://loinc.org",
    CodeSystem.vaccines: "urn:carebridge:in-uip-vaccine",
}


@dataclass(frozen=True, slots=True)
class LabDefinition:
    code: str
    display: str
    category: str
    unit: str
    ref_low: float | None
    ref_high: float | None
    critical_low: float | None
    critical_high: float | None


@dataclass(slots=True)
class Concept:
    code: str
    display: str
    synonyms: tuple[str, ...] = ()
    detail: str = ""
    words: frozenset[str] = field(default_factory=frozenset)
    synonym_words: frozenset[str] = field(default_factory=frozenset)


_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    return _WORD.findall(unidecode(text).lower())


def _data(name: str) -> str:
    return (resources.files("carebridge.contexts.records") / "codes" / name).read_text(encoding="utf-8")


def _rows(name: str) -> list[dict[str, str]]:
    lines = [line for line in _data(name).splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


def _concept(code: str, display: str, synonyms: tuple[str, ...], detail: str = "") -> Concept:
    syn_words = frozenset(w for s in synonyms for w in words(s))
    return Concept(code=code, display=display, synonyms=synonyms, detail=detail,
                   words=frozenset(words(display)) | syn_words, synonym_words=syn_words)


@cache
def concepts(system: CodeSystem) -> dict[str, Concept]:
    if system is CodeSystem.icd10:
        synonyms: dict[str, list[str]] = {}
        for row in _rows("icd10_synonyms.tsv"):
            synonyms.setdefault(row["code"], []).append(row["synonym"])
        return {r["code"]: _concept(r["code"], r["title"], tuple(synonyms.get(r["code"], ())))
                for r in _rows("icd10_who2019.tsv")}
    if system is CodeSystem.loinc:
        return {c["code"]: _concept(c["code"], c["display"], tuple(c["synonyms"]), c["unit"])
                for c in json.loads(_data("loinc_subset.json"))["codes"]}
    return {c["code"]: _concept(c["code"], c["display"], tuple(c["synonyms"]), c["due"])
            for c in json.loads(_data("uip_vaccines.json"))["codes"]}


@cache
def lab_definitions() -> dict[str, LabDefinition]:
    return {c["code"]: LabDefinition(code=c["code"], display=c["display"], category=c["category"], unit=c["unit"],
                                     ref_low=c["ref_low"], ref_high=c["ref_high"],
                                     critical_low=c["critical_low"], critical_high=c["critical_high"])
            for c in json.loads(_data("loinc_subset.json"))["codes"]}


@cache
def _vocabulary(system: CodeSystem) -> tuple[str, ...]:
    return tuple(sorted({w for c in concepts(system).values() for w in c.words if len(w) > 2}))


def lookup(system: CodeSystem, code: str) -> Concept | None:
    return concepts(system).get(code.strip().upper() if system is CodeSystem.icd10 else code.strip())


def _expand(system: CodeSystem, word: str) -> set[str]:
    """Vocabulary words this query word may mean: prefix matches, else close spellings."""
    vocab = _vocabulary(system)
    hits = {v for v in vocab if v.startswith(word)}
    if hits or len(word) < 4:
        return hits | {word}
    return set(difflib.get_close_matches(word, vocab, n=5, cutoff=0.78))


def search(system: CodeSystem, query: str, *, limit: int = 20) -> list[Concept]:
    """The best matches for a picker, best first."""
    table = concepts(system)
    q = query.strip()
    if not q:
        return []
    scored: dict[str, float] = {}
    code_q = q.upper().replace(" ", "")
    for code in table:
        key = code.upper()
        if key == code_q or key.replace(".", "") == code_q.replace(".", ""):
            scored[code] = 100.0
        elif key.startswith(code_q) or key.replace(".", "").startswith(code_q.replace(".", "")):
            scored[code] = 80.0 - len(key) * 0.1
    qwords = words(q)
    if qwords:
        expansions = [_expand(system, w) for w in qwords]
        for code, concept in table.items():
            matched = [bool(exp & concept.words) for exp in expansions]
            if not all(matched):
                continue
            in_synonyms = sum(bool(exp & concept.synonym_words) for exp in expansions)
            score = 40.0 + 10.0 * in_synonyms + 5.0 * len(qwords) / max(len(concept.words), 1)
            exact = sum(w in concept.words for w in qwords)
            score += 3.0 * exact - len(code) * 0.05
            scored[code] = max(scored.get(code, 0.0), score)
    best = sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return [table[code] for code, _ in best]
