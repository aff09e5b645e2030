"""Reading a free-text complaint into findings.

The reader is deliberately rule-based: every finding can be traced to the
words that produced it, which is what a clinician reviewing a triage answer
needs. Steps, in order:

1. normalise and tokenise, split into clauses at sentence punctuation and
   contrast words ("but", "lekin") so negation cannot leak across them;
2. correct misspelt words against the knowledge vocabulary (bounded edits);
3. match symptom phrases, longest first, skipping filler words ("pain in
   *the* chest") and intensifiers ("*very* high fever");
4. compose "head + body site" pairs not listed verbatim ("pain ... chest",
   "blood in ... stool") from the lexicon tables;
5. find negation/history/severity cues in the leftover words and give each
   mention a status with a bounded scope (NegEx-style);
6. pull age, sex, duration and measured vitals out with patterns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .kb import Knowledge, Lexicon, Phrase
from .models import Sex
from .normalize import fold, normalize_folded, tokenize

MentionStatus = Literal["present", "negated", "historical"]
Severity = Literal["severe", "mild"]

_PRE_WINDOW = 5
_POST_WINDOW = 2
_COMPOSE_WINDOW = 4
_MAX_SKIPS = 2
_SHAREABLE_SITES = frozenset({"vomit", "stool", "urine", "sputum", "wound", "ear", "eye"})
_LIST_OR = frozenset({"or", "nor", "neither", "ya"})
_INTERJECTION_MARKS = frozenset({",", "-", ":", "\u2013", "\u2014"})


@dataclass(slots=True)
class Tok:
    text: str
    original: str
    kind: str
    start: int
    end: int
    clause: int
    filler: bool


@dataclass(slots=True)
class Mention:
    symptom: str
    first: int
    last: int
    via: Literal["phrase", "compose", "default"]
    anchor_first: int = -1
    anchor_last: int = -1
    evidence: str = ""
    status: MentionStatus = "present"
    severity: Severity | None = None


@dataclass(frozen=True, slots=True)
class Cue:
    kind: str
    first: int
    last: int


@dataclass(frozen=True, slots=True)
class ParsedText:
    mentions: tuple[Mention, ...]
    age_years: float | None
    age_source: Literal["text", "assumed"] | None
    age_hint: str | None
    sex: Sex | None
    duration_days: float | None
    pregnant_from_gestation: bool
    vitals: Mapping[str, float]
    extra_findings: tuple[str, ...]
    corrections: tuple[tuple[str, str], ...]
    unknown_terms: tuple[str, ...]


@dataclass(slots=True)
class _Span:
    ci_first: int
    ci_last: int
    cls: str
    clause: int


@dataclass(slots=True)
class _State:
    toks: list[Tok]
    content: list[int]
    comma_before: list[bool]
    consumed: list[bool]
    mentions: list[Mention] = field(default_factory=list)


def read_text(text: str, kb: Knowledge) -> ParsedText:
    """Turn free text into mentions plus demographic and vital facts."""
    folded = fold(text)
    norm = normalize_folded(folded)
    lex = kb.lexicon
    toks, corrections, unknown = _tokens(norm, kb)
    content = [i for i, t in enumerate(toks) if t.kind in ("word", "num") and not t.filler]
    comma_before = [False] * len(content)
    for ci in range(1, len(content)):
        comma_before[ci] = any(toks[j].kind == "comma" for j in range(content[ci - 1] + 1, content[ci]))
    state = _State(toks, content, comma_before, [False] * len(toks))

    _match_phrases(state, kb)
    _compose(state, kb)
    cues = _find_cues(state, lex, folded)
    _assign_status(state, cues, lex)
    for mention in state.mentions:
        mention.evidence = norm[toks[mention.first].start : toks[mention.last].end]

    age, age_spans = _extract_age(norm, lex)
    gestation_spans = [m.span() for m in _GESTATION.finditer(norm)]
    duration = _extract_duration(norm, lex, age_spans + gestation_spans)
    vitals, extra, temp_spans = _extract_vitals(folded)
    mentions = [m for m in state.mentions if not (m.symptom == "fever" and _inside(toks[m.first].start, temp_spans))]
    present_ids = {m.symptom for m in mentions if m.status == "present"}
    pregnancy_context = bool(
        present_ids & {"pregnant", "reduced_fetal_movement", "leaking_fluid", "labour_pains"}
    ) or bool(gestation_spans)
    age_years, age_source, hint = age
    if age_years is None:
        age_years, age_source, hint = _age_hint(toks, lex, pregnancy_context)
    sex = _extract_sex(toks, lex, norm)
    return ParsedText(
        mentions=tuple(mentions),
        age_years=age_years,
        age_source=age_source,
        age_hint=hint,
        sex=sex,
        duration_days=duration,
        pregnant_from_gestation=bool(gestation_spans),
        vitals=vitals,
        extra_findings=tuple(extra),
        corrections=tuple(corrections),
        unknown_terms=tuple(unknown),
    )


def _tokens(norm: str, kb: Knowledge) -> tuple[list[Tok], list[tuple[str, str]], list[str]]:
    lex = kb.lexicon
    toks: list[Tok] = []
    corrections: list[tuple[str, str]] = []
    unknown: list[str] = []
    clause = 0
    for raw in tokenize(norm):
        if raw.kind == "stop":
            toks.append(Tok(raw.text, raw.text, "stop", raw.start, raw.end, clause, False))
            clause += 1
            continue
        word = raw.text
        if raw.kind == "word":
            if word in lex.clause_breakers:
                clause += 1
            if not kb.fuzzy.is_known(word):
                fixed = kb.fuzzy.correct(word)
                if fixed is not None:
                    corrections.append((word, fixed))
                    word = fixed
                elif word not in unknown and len(unknown) < 25:
                    unknown.append(word)
        toks.append(
            Tok(
                word,
                raw.text,
                raw.kind,
                raw.start,
                raw.end,
                clause,
                raw.kind == "word" and word in lex.fillers,
            )
        )
    return _canonical_tokens(toks, lex), corrections, unknown


def _canonical_tokens(toks: list[Tok], lex: Lexicon) -> list[Tok]:
    """Merge variant forms into one token ("can not" / "unable to" -> "cant").

    Repeated until stable so chains resolve ("is not able to" -> "not able to" -> "cant").
    """
    if not lex.canonical:
        return toks
    for _ in range(3):
        merged = _canonical_pass(toks, lex)
        if len(merged) == len(toks) and all(a.text == b.text for a, b in zip(merged, toks, strict=True)):
            return merged
        toks = merged
    return toks


def _canonical_pass(toks: list[Tok], lex: Lexicon) -> list[Tok]:
    longest = max(len(k) for k in lex.canonical)
    out: list[Tok] = []
    i = 0
    while i < len(toks):
        replaced = False
        if toks[i].kind == "word":
            for n in range(min(longest, len(toks) - i), 0, -1):
                window = toks[i : i + n]
                if any(t.kind != "word" or t.clause != toks[i].clause for t in window):
                    continue
                replacement = lex.canonical.get(tuple(t.text for t in window))
                if replacement is None or (n == 1 and replacement == window[0].text):
                    continue
                out.append(
                    Tok(
                        replacement,
                        " ".join(t.original for t in window),
                        "word",
                        window[0].start,
                        window[-1].end,
                        window[0].clause,
                        replacement in lex.fillers,
                    )
                )
                i += n
                replaced = True
                break
        if not replaced:
            out.append(toks[i])
            i += 1
    return out


def _match_sequence(
    state: _State,
    ci: int,
    candidates: Sequence[Phrase],
    skippable: frozenset[str],
    allow_consumed: bool,
    allow_commas: bool = False,
) -> tuple[int, Phrase] | None:
    """First (longest) phrase matching at content position ci, within one clause."""
    toks, content = state.toks, state.content
    clause = toks[content[ci]].clause
    for phrase in candidates:
        p, cj, skips = 1, ci + 1, 0
        ok = True
        while p < len(phrase.tokens):
            if cj >= len(content) or (state.comma_before[cj] and not allow_commas):
                ok = False
                break
            tok = toks[content[cj]]
            if tok.clause != clause or (state.consumed[content[cj]] and not allow_consumed):
                ok = False
                break
            if tok.text == phrase.tokens[p]:
                p += 1
                cj += 1
            elif tok.text in skippable and skips < _MAX_SKIPS:
                skips += 1
                cj += 1
            else:
                ok = False
                break
        if ok:
            return cj - 1, phrase
    return None


def _consume(state: _State, ci_first: int, ci_last: int) -> None:
    for i in range(state.content[ci_first], state.content[ci_last] + 1):
        state.consumed[i] = True


def _match_phrases(state: _State, kb: Knowledge) -> None:
    """Greedy longest match, except that a phrase opening with a negation word
    ("no breathing") yields when the following words start an equally long
    match ("no | breathing problem"), so the negation word stays a cue."""
    intensifiers = kb.lexicon.intensifiers
    negation_words = kb.lexicon.negation_words

    def match_at(ci: int) -> tuple[int, Phrase] | None:
        candidates = kb.phrase_index.get(state.toks[state.content[ci]].text)
        if state.consumed[state.content[ci]] or not candidates:
            return None
        return _match_sequence(state, ci, candidates, intensifiers, False, allow_commas=True)

    ci = 0
    while ci < len(state.content):
        found = match_at(ci)
        if found is None:
            ci += 1
            continue
        ci_last, phrase = found
        if phrase.tokens[0] in negation_words and ci + 1 < len(state.content):
            following = match_at(ci + 1)
            if following is not None and following[0] > ci_last:
                ci += 1
                continue
        _consume(state, ci, ci_last)
        index = state.content[ci]
        state.mentions.append(Mention(phrase.target, index, state.content[ci_last], "phrase"))
        ci = ci_last + 1


def _spans(state: _State, index: Mapping[str, Sequence[Phrase]], allow_consumed: bool) -> list[_Span]:
    spans: list[_Span] = []
    ci = 0
    while ci < len(state.content):
        raw_index = state.content[ci]
        candidates = index.get(state.toks[raw_index].text)
        if not candidates or (state.consumed[raw_index] and not allow_consumed):
            ci += 1
            continue
        found = _match_sequence(state, ci, candidates, frozenset(), allow_consumed)
        if found is None:
            ci += 1
            continue
        ci_last, phrase = found
        spans.append(_Span(ci, ci_last, phrase.target, state.toks[raw_index].clause))
        ci = ci_last + 1
    return spans


def _compose(state: _State, kb: Knowledge) -> None:
    lex = kb.lexicon
    heads = _spans(state, lex.heads, allow_consumed=False)
    sites = [
        s
        for s in _spans(state, lex.sites, allow_consumed=True)
        if s.cls in _SHAREABLE_SITES
        or not any(state.consumed[state.content[c]] for c in range(s.ci_first, s.ci_last + 1))
    ]
    head_positions = {c for h in heads for c in range(h.ci_first, h.ci_last + 1)}
    sites = [s for s in sites if s.ci_first not in head_positions]
    for head in heads:
        bound = _bind_sites(state, head, sites, lex)
        if bound:
            for site, symptom in bound:
                first = min(head.ci_first, site.ci_first)
                last = max(head.ci_last, site.ci_last)
                state.mentions.append(
                    Mention(
                        symptom,
                        state.content[first],
                        state.content[last],
                        "compose",
                        anchor_first=state.content[head.ci_first],
                        anchor_last=state.content[head.ci_last],
                    )
                )
        else:
            default = lex.head_default.get(head.cls)
            if default is not None:
                state.mentions.append(
                    Mention(
                        default,
                        state.content[head.ci_first],
                        state.content[head.ci_last],
                        "default",
                    )
                )
        _consume(state, head.ci_first, head.ci_last)


def _bind_sites(state: _State, head: _Span, sites: list[_Span], lex: Lexicon) -> list[tuple[_Span, str]]:
    """Nearest compatible body site in the clause, plus sites listed right after it."""
    best: tuple[int, int, int] | None = None  # (distance - priority, before/after, index)
    for position, site in enumerate(sites):
        if site.clause != head.clause or (head.cls, site.cls) not in lex.compose:
            continue
        if site.ci_first > head.ci_last:
            gap, after = site.ci_first - head.ci_last, 0
        else:
            gap, after = head.ci_first - site.ci_last, 1
        window = _COMPOSE_WINDOW + (2 if site.cls in _SHAREABLE_SITES else 0)
        if gap > window:
            continue
        key = (gap - lex.site_priority.get(site.cls, 0), after, position)
        if best is None or key < best:
            best = key
    if best is None:
        return []
    chosen = [sites[best[2]]]
    if best[1] == 0:
        position = best[2] + 1
        while position < len(sites):
            nxt, prev = sites[position], chosen[-1]
            between = range(prev.ci_last + 1, nxt.ci_first)
            joiners = lex.list_connectors | lex.radiation_words
            if (
                nxt.clause != head.clause
                or len(between) > 4
                or not all(state.toks[state.content[c]].text in joiners for c in between)
            ):
                break
            if (head.cls, nxt.cls) in lex.compose:
                chosen.append(nxt)
            position += 1
    out: list[tuple[_Span, str]] = []
    for site in chosen:
        entry = lex.compose[(head.cls, site.cls)]
        symptom = entry.symptom
        if entry.qualifier is not None and entry.qualified_symptom is not None:
            words = lex.qualifiers[entry.qualifier]
            lo = max(0, min(site.ci_first, head.ci_first) - 3)
            hi = min(len(state.content) - 1, max(site.ci_last, head.ci_last) + 3)
            for c in range(lo, hi + 1):
                tok = state.toks[state.content[c]]
                if tok.clause == head.clause and tok.text in words:
                    symptom = entry.qualified_symptom
                    break
        out.append((site, symptom))
    return out


def _find_cues(state: _State, lex: Lexicon, folded: str) -> list[Cue]:
    """Cue phrases over raw word tokens (fillers included) not used by a symptom.

    A negation word followed straight by a comma or dash is an interjection ("No, he has chest
    pain", "no - a dog bit him"), not a negation of what follows, so it is skipped.
    """
    toks = state.toks
    cues: list[Cue] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        candidates = lex.cues.get(tok.text) if tok.kind in ("word", "num") else None
        if state.consumed[i] or not candidates:
            i += 1
            continue
        matched: Cue | None = None
        for phrase in candidates:
            j = i
            ok = True
            for part in phrase.tokens:
                if (
                    j >= len(toks)
                    or toks[j].kind not in ("word", "num")
                    or toks[j].clause != tok.clause
                    or state.consumed[j]
                    or toks[j].text != part
                ):
                    ok = False
                    break
                j += 1
            if ok:
                matched = Cue(phrase.target, i, j - 1)
                break
        if matched is None:
            i += 1
            continue
        if matched.kind == "neg_pre" and folded[toks[matched.last].end :].lstrip()[:1] in _INTERJECTION_MARKS:
            i = matched.last + 1
            continue
        cues.append(matched)
        i = matched.last + 1
    return cues


def _assign_status(state: _State, cues: list[Cue], lex: Lexicon) -> None:
    toks = state.toks
    cue_by_last = {c.last: c for c in cues}
    cue_by_first = {c.first: c for c in cues}
    mention_by_last: dict[int, Mention] = {}
    mention_by_first: dict[int, Mention] = {}
    for m in state.mentions:
        mention_by_last.setdefault(m.last, m)
        mention_by_first.setdefault(m.first, m)
    skip_words = lex.list_connectors | lex.intensifiers
    single_severe = {c.first for c in cues if c.kind == "severe"}
    single_mild = {c.first for c in cues if c.kind == "mild"}
    severe_words = frozenset(
        p.tokens[0] for ps in lex.cues.values() for p in ps if p.target == "severe" and len(p.tokens) == 1
    )
    mild_words = frozenset(
        p.tokens[0] for ps in lex.cues.values() for p in ps if p.target == "mild" and len(p.tokens) == 1
    )

    for mention in state.mentions:
        clause = toks[mention.first].clause
        status = _pre_scope(mention, toks, clause, cue_by_last, mention_by_last, skip_words)
        if status is None:
            status = _post_scope(mention, toks, clause, cue_by_first, mention_by_first, skip_words)
        mention.status = status or "present"
        mention.severity = _severity(mention, toks, clause, cues, single_severe, single_mild, severe_words, mild_words)


def _pre_scope(
    mention: Mention,
    toks: list[Tok],
    clause: int,
    cue_by_last: Mapping[int, Cue],
    mention_by_last: Mapping[int, Mention],
    skip_words: frozenset[str],
) -> MentionStatus | None:
    units = 0
    crossed_comma = False
    j = (mention.anchor_first if mention.anchor_first >= 0 else mention.first) - 1
    while j >= 0 and toks[j].clause == clause:
        cue = cue_by_last.get(j)
        if cue is not None:
            if cue.kind in ("terminator", "pseudo", "neg_post"):
                return None
            if cue.kind in ("neg_pre", "history"):
                if crossed_comma and not _list_follows(toks, cue.last, clause):
                    return None
                return "negated" if cue.kind == "neg_pre" else "historical"
            j = cue.first - 1
            continue
        tok = toks[j]
        if tok.kind == "comma":
            crossed_comma = True
            j -= 1
            continue
        other = mention_by_last.get(j)
        if other is not None and other is not mention:
            units += 1
            if units > _PRE_WINDOW:
                return None
            j = other.first - 1
            continue
        if tok.filler or tok.text in skip_words:
            j -= 1
            continue
        units += 1
        if units > _PRE_WINDOW:
            return None
        j -= 1
    return None


def _list_follows(toks: list[Tok], after: int, clause: int) -> bool:
    """A comma only extends negation over an enumerated list ("no fever, cough or cold")."""
    j = after + 1
    while j < len(toks) and toks[j].clause == clause:
        if toks[j].text in _LIST_OR:
            return True
        j += 1
    return False


def _post_scope(
    mention: Mention,
    toks: list[Tok],
    clause: int,
    cue_by_first: Mapping[int, Cue],
    mention_by_first: Mapping[int, Mention],
    skip_words: frozenset[str],
) -> MentionStatus | None:
    units = 0
    j = (mention.anchor_last if mention.anchor_last >= 0 else mention.last) + 1
    while j < len(toks) and toks[j].clause == clause:
        cue = cue_by_first.get(j)
        if cue is not None:
            if cue.kind == "neg_post":
                return "negated"
            if cue.kind in ("severe", "mild"):
                j = cue.last + 1
                continue
            return None
        tok = toks[j]
        if tok.kind == "comma":
            return None
        other = mention_by_first.get(j)
        if other is not None and other is not mention:
            units += 1
            if units > _POST_WINDOW:
                return None
            j = other.last + 1
            continue
        if tok.filler or tok.text in skip_words:
            j += 1
            continue
        units += 1
        if units > _POST_WINDOW:
            return None
        j += 1
    return None


def _severity(
    mention: Mention,
    toks: list[Tok],
    clause: int,
    cues: list[Cue],
    severe_firsts: set[int],
    mild_firsts: set[int],
    severe_words: frozenset[str],
    mild_words: frozenset[str],
) -> Severity | None:
    for j in range(mention.first, mention.last + 1):
        if toks[j].text in severe_words:
            return "severe"
    best: tuple[int, Severity] | None = None
    for cue in cues:
        if cue.kind not in ("severe", "mild") or toks[cue.first].clause != clause:
            continue
        if cue.last < mention.first:
            distance = mention.first - cue.last
            if distance > 4:
                continue
        elif cue.first > mention.last:
            distance = cue.first - mention.last + 1
            if distance > 4:
                continue
        else:
            continue
        kind: Severity = "severe" if cue.first in severe_firsts else "mild"
        if cue.first not in severe_firsts and cue.first not in mild_firsts:
            continue
        if best is None or distance < best[0]:
            best = (distance, kind)
    if best is not None:
        return best[1]
    for j in range(mention.first, mention.last + 1):
        if toks[j].text in mild_words:
            return "mild"
    return None


# --- age, sex, duration, vitals -------------------------------------------------

_NUM = r"(\d{1,3}(?:\.\d+)?)"
_YEARS = r"(?:years?|yrs?|yr|y|saal|sal|baras|varsh)"
_MONTHS = r"(?:months?|mos?|mths?|mahine|mahina|maheene)"
_WEEKS = r"(?:weeks?|wks?|hafte|hafta)"
_DAYS = r"(?:days?|din)"
_AGE_LEAD = r"(?:aged?|age is|umar|umr|umra)\s*(?:of\s*|about\s*|around\s*)?"
_NOT_AGE_UNIT = rf"(?!\s*(?:{_MONTHS}|{_WEEKS}|{_DAYS}|kg|kgs|cm|times|minutes|mins|hours|hrs|ghante|baar|percent|%)\b)"
_PERSON_IS = r"(?:son|daughter|child|kid|boy|girl|baby|brother|sister|he|she|beta|beti)\s+is\s+(?:only\s+|just\s+)?"
_AGE_PATTERNS: tuple[tuple[re.Pattern[str], float], ...] = (
    (re.compile(rf"\b{_NUM}\s*{_YEARS}\s*(?:and\s*)?{_NUM}\s*{_MONTHS}\s*old\b"), -1.0),
    (re.compile(rf"\b{_NUM}\s*{_YEARS}\s*old\b"), 1.0),
    (re.compile(rf"\b{_NUM}\s*{_MONTHS}\s*old\b"), 1.0 / 12.0),
    (re.compile(rf"\b{_NUM}\s*{_WEEKS}\s*old\b"), 7.0 / 365.0),
    (re.compile(rf"\b{_NUM}\s*{_DAYS}\s*old\b"), 1.0 / 365.0),
    (re.compile(rf"\b{_NUM}\s*(?:yo|y o)\b"), 1.0),
    (re.compile(rf"\b{_AGE_LEAD}{_NUM}\s*{_MONTHS}\b"), 1.0 / 12.0),
    (re.compile(rf"\b{_AGE_LEAD}{_NUM}\b(?!\s*(?:{_MONTHS}|{_WEEKS}|{_DAYS})\b)"), 1.0),
    (re.compile(rf"^\s*{_NUM}\s*(?:m|f|male|female|man|woman|boy|girl)\b"), 1.0),
    (re.compile(rf"\b{_NUM}\s*(?:male|female)\b"), 1.0),
    (re.compile(rf"\b{_PERSON_IS}{_NUM}\b{_NOT_AGE_UNIT}"), 1.0),
    (re.compile(rf"\b(?:i am|im|i m|main|mai)\s+(?:a\s+)?{_NUM}\b{_NOT_AGE_UNIT}"), 1.0),
)
_HINDI_AGE = re.compile(rf"\b{_NUM}\s*({_YEARS}|{_MONTHS}|{_WEEKS}|{_DAYS})\s*(?:ka|ki|ke)\s+(\w+)")
_GESTATION = re.compile(
    r"\b\d{1,2}\s*(?:weeks?|wks?|months?|mahine|mahina)\s*"
    r"(?:pregnant|pregnancy|ki pregnancy|ka garbh|garbhvati|garbhwati|gone)\b"
    r"|\b(?:pregnant|pregnancy)[\s,:]*(?:of|for|since|at)?\s*\d{1,2}\s*(?:weeks?|wks?|months?|mahine|mahina)\b"
)


def _extract_age(
    norm: str, lex: Lexicon
) -> tuple[tuple[float | None, Literal["text", "assumed"] | None, str | None], list[tuple[int, int]]]:
    spans: list[tuple[int, int]] = []
    found: float | None = None
    for pattern, factor in _AGE_PATTERNS:
        for match in pattern.finditer(norm):
            spans.append(match.span())
            if found is not None:
                continue
            if factor < 0:
                found = float(match.group(1)) + float(match.group(2)) / 12.0
            else:
                found = float(match.group(1)) * factor
    for match in _HINDI_AGE.finditer(norm):
        if match.group(3) in lex.person_nouns:
            spans.append(match.span())
            if found is None:
                unit = match.group(2)
                factor = 1.0
                if re.fullmatch(_MONTHS, unit):
                    factor = 1.0 / 12.0
                elif re.fullmatch(_WEEKS, unit):
                    factor = 7.0 / 365.0
                elif re.fullmatch(_DAYS, unit):
                    factor = 1.0 / 365.0
                found = float(match.group(1)) * factor
    if found is not None and not 0 <= found <= 125:
        found = None
    hint = None
    if found is not None and found < 1.0 / 12.0:
        hint = "newborn"
    return (found, "text" if found is not None else None, hint), spans


def _contains_phrase(toks: list[Tok], phrases: tuple[tuple[str, ...], ...]) -> bool:
    words = [t.original for t in toks if t.kind == "word"]
    for phrase in phrases:
        n = len(phrase)
        for i in range(len(words) - n + 1):
            if tuple(words[i : i + n]) == phrase:
                return True
    return False


def _age_hint(
    toks: list[Tok], lex: Lexicon, pregnancy_context: bool
) -> tuple[float | None, Literal["text", "assumed"] | None, str | None]:
    """Assume a typical age from words like 'newborn' or 'toddler' when none is stated.

    Paediatric danger-sign rules depend on age, and parents often write "my
    baby" without a number; assuming an infant rounds the answer up.
    """
    if _contains_phrase(toks, lex.newborn_words):
        return 0.02, "assumed", "newborn"
    if not pregnancy_context and _contains_phrase(toks, lex.infant_words):
        return 0.5, "assumed", "infant"
    if _contains_phrase(toks, (("toddler",),)):
        return 2.0, "assumed", "child"
    if _contains_phrase(toks, lex.child_words):
        return 6.0, "assumed", "child"
    if _contains_phrase(toks, lex.elderly_words):
        return 72.0, "assumed", "elderly"
    return None, None, None


_SHORTHAND_SEX = re.compile(
    r"(?:^|\b(?:age|aged|pt|patient)\s*)\s*\d{1,3}\s*(?:y|yo|yrs?|years?)?\s*(?:old\s*)?([mf])\b"
)


def _extract_sex(toks: list[Tok], lex: Lexicon, norm: str = "") -> Sex | None:
    shorthand = _SHORTHAND_SEX.search(norm)
    if shorthand is not None:
        return Sex.MALE if shorthand.group(1) == "m" else Sex.FEMALE
    words = [t.original for t in toks if t.kind == "word"]
    for word in words:
        if word in lex.female_words:
            return Sex.FEMALE
        if word in lex.male_words:
            return Sex.MALE
    for word in words:
        if word in lex.female_pronouns:
            return Sex.FEMALE
        if word in lex.male_pronouns:
            return Sex.MALE
    return None


def _inside(position: int, spans: Sequence[tuple[int, int]]) -> bool:
    return any(lo <= position < hi for lo, hi in spans)


def _extract_duration(norm: str, lex: Lexicon, excluded: Sequence[tuple[int, int]]) -> float | None:
    """Longest duration mentioned; the oldest complaint sets how chronic this is."""
    pattern, phrases = lex.duration_regex, lex.duration_phrase_regexes
    best: float | None = None
    for match in pattern.finditer(norm):
        if _inside(match.start(), excluded):
            continue
        raw_num = match.group("num")
        number = lex.number_words.get(raw_num)
        value = float(raw_num) if number is None else number
        days = value * lex.duration_units[match.group("unit")]
        if days > 36_500:
            continue
        best = days if best is None else max(best, days)
    for phrase_pattern, days in phrases:
        if phrase_pattern.search(norm):
            best = days if best is None else max(best, days)
    return None if best is None else round(best, 4)


_NOT_A_READING = (
    r"(?!\s*(?:days?|din|weeks?|hafte|months?|mahine|years?|saal|hours?|hrs?|ghante|times|baar|kg|minutes?|mins?)\b)"
)
_TEMP = re.compile(
    r"\b(?:fever|feverish|temp|temperature|bukhar|bukhaar|jwar|thermometer|reading)\b[^0-9\n.]{0,20}?"
    rf"(\d{{2,3}}(?:\.\d+)?){_NOT_A_READING}\s*(?:°|deg(?:rees?)?|degree)?\s*([cf])?\b"
)
_TEMP_UNIT = re.compile(r"\b(\d{2,3}(?:\.\d+)?)\s*(?:°\s*|deg(?:rees?)?\s*|degree\s*)([cf])?\b")
_BP = re.compile(r"\b(?:bp|b\.p\.?|blood pressure)\b\D{0,15}?(\d{2,3})\s*(?:/|over)\s*(\d{2,3})")
_BP_SINGLE = re.compile(r"\b(?:bp|b\.p\.?|blood pressure)\b\D{0,15}?(\d{2,3})\b(?!\s*/)" + _NOT_A_READING)
_SPO2 = re.compile(
    r"\b(?:spo2|sp o2|sp02|spo 2|o2 sat\w*|oxygen(?: level| saturation| sat)?|saturation|sats|oximeter)\b"
    r"\D{0,15}?(\d{2,3})(?:\s*%|\b)"
)
_HR = re.compile(
    r"\b(?:pulse|heart rate|heartrate|hr|heart beat|heartbeat|dhadkan)\b\D{0,12}?(\d{2,3})\b" + _NOT_A_READING
)
_RR = re.compile(
    r"\b(?:respiratory rate|resp rate|breathing rate|rr)\b\D{0,12}?(\d{1,3})\b"
    r"|\b(\d{2,3})\s*breaths?\b"
)
_OVERDOSE = re.compile(
    r"\b(?:took|taken|take|swallowed|ate|had|kha li|kha liye|kha lee|khayi|kha gaya|kha gayi)\s+"
    r"(?:about\s+|around\s+|nearly\s+|over\s+)?(?:\d{1,3}|many|lots of|a lot of|all|whole|several|bahut|saari)\s+"
    r"(?:of\s+)?(?:[a-z]+\s+){0,3}"
    r"(?:tablets?|pills?|capsules?|goliyan|goli|strips?|medicines?)\b"
)
_INGESTION = re.compile(
    r"\b(?:swallowed|swallow|ate|eaten|drank|drunk|chewed|kha li|kha liya|kha liye|kha gaya|kha gayi|"
    r"pee li|pee liya|pi li|pi liya|nigal li|nigal liya|nigal gaya)\b(?:\s+[\w]+){0,5}?\s+"
    r"(?:tablets?|pills?|capsules?|medicines?|medication|dawa|dawai|dawaai|goli|goliyan|syrup|cleaner|detergent|liquid)\b"
)
_SUGAR = re.compile(r"\b(?:sugar|glucose|rbs|fbs|grbs|cbg)\b\D{0,12}?(\d{2,3})\b" + _NOT_A_READING)


def _temperature(value: float, unit: str | None) -> float | None:
    if unit == "f" or (unit is None and 93.0 <= value <= 110.0):
        celsius = (value - 32.0) * 5.0 / 9.0
        return round(celsius, 1) if 30.0 <= celsius <= 44.0 else None
    if unit in (None, "c") and 30.0 <= value <= 44.0:
        return value
    return None


def _extract_vitals(
    folded: str,
) -> tuple[dict[str, float], list[str], list[tuple[int, int]]]:
    """Readings typed into the text ("fever 103", "BP 180/110", "oxygen 88%")."""
    vitals: dict[str, float] = {}
    extra: list[str] = []
    normal_temp_spans: list[tuple[int, int]] = []
    for pattern in (_TEMP, _TEMP_UNIT):
        for match in pattern.finditer(folded):
            celsius = _temperature(float(match.group(1)), match.group(2))
            if celsius is None:
                continue
            vitals.setdefault("temperature_c", celsius)
            if celsius < 37.5:
                normal_temp_spans.append(match.span())
    bp = _BP.search(folded)
    if bp is not None and 50 <= int(bp.group(1)) <= 300:
        vitals["systolic_bp"] = float(bp.group(1))
    else:
        single = _BP_SINGLE.search(folded)
        if single is not None and 60 <= int(single.group(1)) <= 300:
            vitals["systolic_bp"] = float(single.group(1))
    spo2 = _SPO2.search(folded)
    if spo2 is not None and 50 <= int(spo2.group(1)) <= 100:
        vitals["spo2"] = float(spo2.group(1))
    hr = _HR.search(folded)
    if hr is not None and 25 <= int(hr.group(1)) <= 250:
        vitals["heart_rate"] = float(hr.group(1))
    rr = _RR.search(folded)
    if rr is not None:
        value = int(rr.group(1) or rr.group(2))
        if 4 <= value <= 150:
            vitals["respiratory_rate"] = float(value)
    if _INGESTION.search(folded) is not None:
        extra.append("possible_ingestion")
    overdose = _OVERDOSE.search(folded)
    if overdose is not None:
        numbers = [int(n) for n in re.findall(r"\d+", overdose.group())]
        if not numbers or max(numbers) >= 5 or "strip" in overdose.group():
            extra.append("overdose")
    sugar = _SUGAR.search(folded)
    if sugar is not None:
        value = int(sugar.group(1))
        if value >= 300:
            extra.append("high_sugar")
        elif 10 <= value < 70:
            extra.append("low_sugar")
    return vitals, extra, normal_temp_spans
