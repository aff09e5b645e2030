"""Text normalisation shared by the knowledge loader and the text reader.

Both sides must normalise identically, otherwise a synonym written in the
knowledge files ("can't breathe") would never meet the same words typed by a
patient ("cant breathe", "CAN'T  breathe").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

TokenKind = Literal["word", "num", "stop", "comma"]

_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`\u00b4]")
_JOINERS = re.compile(r"[-\u2010-\u2015_/+&]")
# Devanagari is listed explicitly because its vowel signs are combining marks,
# which \w does not treat as word characters.
_TOKEN = re.compile(
    r"(?P<num>\d+(?:\.\d+)?)"
    r"|(?P<word>(?:[^\W\d_]|[\u0900-\u097F])+)"
    r"|(?P<stop>[.;!?\n\u0964])"
    r"|(?P<comma>[,:])"
)


@dataclass(frozen=True, slots=True)
class RawToken:
    text: str
    kind: TokenKind
    start: int
    end: int


def fold(text: str) -> str:
    """Fold case, compatibility forms and apostrophes ("Can’t" -> "cant").

    Kept separate from normalize() because number patterns such as "140/90"
    need the slash that normalize() turns into a space; both strings have the
    same length, so character offsets are shared.
    """
    return _APOSTROPHES.sub("", unicodedata.normalize("NFKC", text).casefold())


def normalize(text: str) -> str:
    """Fold, then split hyphenated and slashed words so spelling, not typography, matters."""
    return _JOINERS.sub(" ", fold(text))


def normalize_folded(folded: str) -> str:
    return _JOINERS.sub(" ", folded)


def tokenize(normalized: str) -> list[RawToken]:
    tokens: list[RawToken] = []
    for match in _TOKEN.finditer(normalized):
        kind = match.lastgroup
        if kind == "num":
            tokens.append(RawToken(match.group(), "num", match.start(), match.end()))
        elif kind == "word":
            tokens.append(RawToken(match.group(), "word", match.start(), match.end()))
        elif kind == "stop":
            tokens.append(RawToken(match.group(), "stop", match.start(), match.end()))
        else:
            tokens.append(RawToken(match.group(), "comma", match.start(), match.end()))
    return tokens


def phrase_tokens(phrase: str) -> tuple[str, ...]:
    """Word/number tokens of a knowledge phrase, punctuation dropped."""
    return tuple(t.text for t in tokenize(normalize(phrase)) if t.kind in ("word", "num"))
