"""Name and phone normalisation for search: accent-, case- and script-tolerant, and cheap.

Names are folded to lower-case ASCII words so a clerk typing "jose" finds "José", and a name
typed in Devanagari meets the same name typed in Latin letters ("आशा" and "Asha" both fold to
"asha"). Latin letters lose their diacritics by Unicode NFKD decomposition (Unicode Standard
Annex #15) plus a few letters NFKD leaves alone (ß, æ, ø, ł …). Devanagari is transliterated with
a small table close to the Hunterian system that Indian names are usually romanised with, and
the inherent vowel is dropped the way Hindi drops it (the "schwa deletion" rule described by
Ohala, 1983: at the end of a word, and between a vowel-consonant and a consonant-vowel), so
"शर्मा" becomes "sharma" and "सरला" becomes "sarla" rather than "sharmaa" and "sarala".

Other scripts are passed to an optional `fallback` transliterator (the patients context supplies
Unidecode); without one their letters are dropped. `phonetic` adds a little spelling tolerance
on top ("Meera" and "Mira" share the key "mira").

Phones compare by their last ten digits: an Indian mobile number is ten digits, and the same
number is written with "+91", "0" or nothing in front.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

MAX_TOKEN_LEN = 64
PHONE_KEY_DIGITS = 10
MIN_PHONE_DIGITS = 6

# Letters NFKD does not decompose into a base letter plus marks.
_LATIN_EXTRA = {
    "ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i", "ħ": "h",
    "ŋ": "ng", "ĸ": "k", "ſ": "s",
}
# Removed outright so "O'Brien" is one word; other punctuation separates words.
_JOINERS = frozenset("'’ʼ`´")

_DEV_VOWELS = {
    "अ": "a", "आ": "a", "इ": "i", "ई": "i", "उ": "u", "ऊ": "u", "ऋ": "ri", "ॠ": "ri", "ऌ": "li", "ए": "e",
    "ऐ": "ai", "ओ": "o", "औ": "au", "ऍ": "e", "ऑ": "o", "ऎ": "e", "ऒ": "o",
}
_DEV_MATRAS = {
    "ा": "a", "ि": "i", "ी": "i", "ु": "u", "ू": "u", "ृ": "ri", "ॄ": "ri", "े": "e", "ै": "ai", "ो": "o",
    "ौ": "au", "ॅ": "e", "ॉ": "o", "ॆ": "e", "ॊ": "o",
}
_DEV_CONSONANTS = {
    "क": "k", "ख": "kh", "ग": "g", "घ": "gh", "ङ": "n", "च": "ch", "छ": "chh", "ज": "j", "झ": "jh", "ञ": "n",
    "ट": "t", "ठ": "th", "ड": "d", "ढ": "dh", "ण": "n", "त": "t", "थ": "th", "द": "d", "ध": "dh", "न": "n",
    "प": "p", "फ": "ph", "ब": "b", "भ": "bh", "म": "m", "य": "y", "र": "r", "ल": "l", "ळ": "l", "व": "v",
    "श": "sh", "ष": "sh", "स": "s", "ह": "h",
}
# The nukta (़) turns a consonant into the sound borrowed from Persian, Arabic or English.
_DEV_NUKTA = {"क": "q", "ख": "kh", "ग": "g", "ज": "z", "ड": "r", "ढ": "rh", "फ": "f", "य": "y"}
_DEV_CODAS = {"ं": "n", "ँ": "n", "ः": "h"}
_VIRAMA = "्"
_NUKTA = "़"
_DEV_DIGITS = {chr(0x0966 + i): str(i) for i in range(10)}
_DEV_OTHER = {"ॐ": "om", "।": " ", "॥": " ", "ऽ": ""}

_PHONETIC_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"ph"), "f"),
    (re.compile(r"ck"), "k"),
    (re.compile(r"q"), "k"),
    (re.compile(r"w"), "v"),
    (re.compile(r"ee"), "i"),
    (re.compile(r"oo"), "u"),
    (re.compile(r"([a-z])\1+"), r"\1"),
)


def _is_devanagari(ch: str) -> bool:
    return "\u0900" <= ch <= "\u097f"


@dataclass
class _Unit:
    """One written syllable (akshara) of a Devanagari word."""

    onset: str = ""  # consonant sound, "" for an independent vowel
    vowel: str = ""  # the written or inherent vowel, "" after a virama
    inherent: bool = False  # the vowel is the unwritten "a"
    coda: str = ""  # anusvara, chandrabindu or visarga
    conjunct_before: bool = False  # the previous consonant carried a virama
    letter: str = ""  # the consonant letter itself, for the nukta

    def render(self) -> str:
        return self.onset + self.vowel + self.coda


def _ends_in_vowel(unit: _Unit) -> bool:
    return bool(unit.vowel) and not unit.coda


def _devanagari_word(word: str) -> str:
    units: list[_Unit] = []
    out: list[str] = []

    def flush() -> None:
        if units:
            out.append(_drop_schwas(units))
            units.clear()

    for ch in word:
        if ch in _DEV_CONSONANTS:
            conj = bool(units) and units[-1].onset != "" and units[-1].vowel == "" and not units[-1].inherent
            units.append(_Unit(onset=_DEV_CONSONANTS[ch], vowel="a", inherent=True, conjunct_before=conj, letter=ch))
        elif ch == _NUKTA and units and units[-1].onset:
            units[-1].onset = _DEV_NUKTA.get(units[-1].letter, units[-1].onset)
        elif ch in _DEV_MATRAS and units and units[-1].onset and units[-1].inherent:
            units[-1].vowel, units[-1].inherent = _DEV_MATRAS[ch], False
        elif ch == _VIRAMA and units and units[-1].onset:
            units[-1].vowel, units[-1].inherent = "", False
        elif ch in _DEV_VOWELS:
            units.append(_Unit(vowel=_DEV_VOWELS[ch]))
        elif ch in _DEV_CODAS and units:
            units[-1].coda = _DEV_CODAS[ch]
        else:
            flush()
            out.append(_DEV_DIGITS.get(ch) or _DEV_OTHER.get(ch, " "))
    flush()
    return "".join(out)


def _drop_schwas(units: list[_Unit]) -> str:
    last = units[-1]
    # A final inherent vowel is silent ("राम" is "ram"), except after a conjunct ("मित्र" is "mitra").
    if len(units) > 1 and last.inherent and not last.coda and not last.conjunct_before:
        last.vowel, last.inherent = "", False
    for i in range(len(units) - 2, 0, -1):
        unit, before, after = units[i], units[i - 1], units[i + 1]
        if (unit.inherent and not unit.coda and not unit.conjunct_before and unit.onset
                and _ends_in_vowel(before) and after.onset and after.vowel):
            unit.vowel, unit.inherent = "", False
    return "".join(u.render() for u in units)


def transliterate_devanagari(text: str) -> str:
    """Romanise Devanagari text (other characters pass through unchanged)."""
    out: list[str] = []
    run: list[str] = []
    for ch in unicodedata.normalize("NFD", text):
        if _is_devanagari(ch):
            run.append(ch)
            continue
        if run:
            out.append(_devanagari_word("".join(run)))
            run.clear()
        out.append(ch)
    if run:
        out.append(_devanagari_word("".join(run)))
    return "".join(out)


def fold(text: str, *, fallback: Callable[[str], str] | None = None) -> str:
    """Lower-case ASCII words separated by single spaces: the form names are compared in."""
    text = transliterate_devanagari(unicodedata.normalize("NFKC", text))
    out: list[str] = []
    foreign: list[str] = []

    def flush_foreign() -> None:
        if foreign:
            if fallback is not None:
                out.append(fold(fallback("".join(foreign))))
            else:
                out.append(" ")
            foreign.clear()

    for ch in unicodedata.normalize("NFKD", text.casefold()):
        if unicodedata.combining(ch):
            continue
        if ch.isascii():
            flush_foreign()
            if ch.isalnum():
                out.append(ch)
            elif ch not in _JOINERS:
                out.append(" ")
            continue
        if ch in _JOINERS:
            continue
        if ch in _LATIN_EXTRA:
            flush_foreign()
            out.append(_LATIN_EXTRA[ch])
        elif ch.isalnum() or unicodedata.category(ch).startswith("M"):
            foreign.append(ch)
        else:
            flush_foreign()
            out.append(" ")
    flush_foreign()
    return " ".join("".join(out).split())


def phonetic(token: str) -> str:
    """A looser key for one folded word, forgiving common romanisation differences."""
    for pattern, repl in _PHONETIC_RULES:
        token = pattern.sub(repl, token)
    return token


def words(text: str, *, fallback: Callable[[str], str] | None = None) -> list[str]:
    return [w[:MAX_TOKEN_LEN] for w in fold(text, fallback=fallback).split()]


def index_tokens(parts: Iterable[str | None], *, fallback: Callable[[str], str] | None = None) -> set[str]:
    """Every word of every part, plus its phonetic key: what a name search matches prefixes against."""
    out: set[str] = set()
    for part in parts:
        if not part:
            continue
        for word in words(part, fallback=fallback):
            out.add(word)
            out.add(phonetic(word))
    out.discard("")
    return out


def query_terms(text: str, *, fallback: Callable[[str], str] | None = None, limit: int = 6) -> list[tuple[str, str]]:
    """The (word, phonetic key) pairs of a search; a record matches when every pair prefixes one of its tokens."""
    seen: list[tuple[str, str]] = []
    for word in words(text, fallback=fallback):
        pair = (word, phonetic(word))
        if pair not in seen:
            seen.append(pair)
    return seen[:limit]


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string above every folded token starting with `prefix` (tokens use only [a-z0-9])."""
    return prefix + "{"


def phone_digits(raw: str | None) -> str:
    if not raw:
        return ""
    return "".join(ch for ch in unicodedata.normalize("NFKC", raw) if ch.isascii() and ch.isdigit())


def phone_key(raw: str | None) -> str | None:
    """The last ten digits (fewer for a short number): equal keys mean the same phone number."""
    digits = phone_digits(raw)
    if len(digits) < MIN_PHONE_DIGITS:
        return None
    return digits[-PHONE_KEY_DIGITS:]
