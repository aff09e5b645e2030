"""UCUM unit validation: the case-sensitive grammar of https://ucum.org/ucum (terms joined by `.` and `/`,
integer exponents, `10*n` factors, `{annotations}`), over the atoms a clinical record uses.

A full UCUM table has ~300 atoms; this keeps the metric base and derived units (with every SI prefix) and
the customary clinical ones, which covers every unit the shipped LOINC subset names and those labs send.
An unknown atom is refused with its name, so "mg/dl" (lower-case litre is `l`, which is valid) passes but
"mmHg" (UCUM spells it `mm[Hg]`) does not.
"""

from __future__ import annotations

import re

PREFIXES = ("da", "Y", "Z", "E", "P", "T", "G", "M", "k", "h", "d", "c", "m", "u", "n", "p", "f", "a", "z", "y")
METRIC = frozenset({
    "m", "g", "s", "L", "l", "mol", "K", "Cel", "Pa", "Hz", "N", "J", "W", "V", "A", "eq", "U", "bar",
    "kat", "cd", "sr", "rad", "Gy", "Sv", "Bq", "t", "osm", "[IU]", "[iU]", "gf", "cal",
})
NON_METRIC = frozenset({
    "min", "h", "d", "wk", "mo", "a", "%", "[in_i]", "[ft_i]", "[lb_av]", "[oz_av]", "[degF]", "[pH]",
    "mm[Hg]", "cm[H2O]", "[arb'U]", "[drp]", "[HPF]", "[LPF]", "[ppm]", "[ppb]", "[mi_i]", "deg",
    "m[IU]", "u[IU]", "k[IU]",
})
_TERM = re.compile(r"^(?P<atom>[A-Za-z%\[\]'_0-9]*?[A-Za-z%\]'_])(?P<exp>[+-]?\d+)?$")
_FACTOR = re.compile(r"^\d+(\*[+-]?\d+)?$")
_ANNOTATION = re.compile(r"\{[^{}]{0,60}\}")
MAX_LEN = 40


def _atom_ok(atom: str) -> bool:
    if atom in METRIC or atom in NON_METRIC:
        return True
    return any(atom.startswith(prefix) and atom[len(prefix):] in METRIC for prefix in PREFIXES)


def unit_problem(unit: str) -> str | None:
    """Why `unit` is not a UCUM unit this record accepts, or None when it is."""
    if not unit or len(unit) > MAX_LEN:
        return f"must be 1 to {MAX_LEN} characters"
    if any(ch.isspace() for ch in unit):
        return "UCUM units contain no spaces"
    had_annotation = "{" in unit
    stripped = _ANNOTATION.sub("", unit)
    if "{" in stripped or "}" in stripped:
        return "unbalanced { } annotation"
    if stripped == "":
        return None if had_annotation else "empty unit"
    body = stripped[1:] if stripped.startswith("/") else stripped
    for term in re.split(r"[./]", body):
        if term == "":
            if had_annotation:
                continue  # "{beats}/min": the annotation stood for the term
            return "empty term between operators"
        if _FACTOR.match(term):
            continue
        m = _TERM.match(term)
        if m is None or not _atom_ok(m.group("atom")):
            return f"unknown UCUM unit '{term}'"
    return None


def is_ucum(unit: str) -> bool:
    return unit_problem(unit) is None
