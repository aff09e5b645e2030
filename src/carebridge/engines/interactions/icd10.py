"""ICD-10 code parsing and matching (WHO ICD-10, 2019; ICD-10-CM subcodes accepted).

A code is a letter, two digits (or a digit and a letter, as in ICD-10-CM "Z3A") and up to four more
characters after an optional dot: "N18.4", "N184", "k25.0" and "O09.512" all parse. Knowledge names
codes by prefix ("I50" covers I50.0 to I50.9) or by category range ("K25-K28" covers K25, K26, K27 and
K28 with every subcode).
"""

from __future__ import annotations

import re

_CODE = re.compile(r"^([A-Z])(\d)([0-9A-Z])(?:\.?([0-9A-Z]{1,4}))?$")


def parse(text: str) -> str | None:
    """Canonical form ("N18.4") of an ICD-10 code, or None when it is not one."""
    m = _CODE.match(text.strip().upper()[:12])
    if not m:
        return None
    letter, d1, d2, rest = m.groups()
    return f"{letter}{d1}{d2}" + (f".{rest}" if rest else "")


def _category(code: str) -> str:
    return code.split(".", 1)[0]


def matches(code: str, pattern: str) -> bool:
    """Whether a canonical code falls under a pattern: a prefix ("I50", "G70.0") or a range ("K25-K28")."""
    if "-" in pattern:
        low, high = pattern.split("-", 1)
        return low <= _category(code) <= high
    if "." in pattern:
        return code == pattern or code.startswith(pattern)
    return _category(code) == pattern


def matches_any(code: str, patterns: tuple[str, ...] | list[str]) -> bool:
    return any(matches(code, p) for p in patterns)
