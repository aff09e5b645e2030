"""Name normalisation for medicine look-up: case-, accent- and punctuation-tolerant, never fuzzy.

Checking must not guess: "Telma-H" (telmisartan + hydrochlorothiazide) must never become "Telma"
(telmisartan), so resolution only ever strips what cannot change the ingredients — a trailing
strength ("Dolo 650", "Pan 40 mg") or dosage-form word ("tablet", "syrup") and, as a last step, a
salt name ("amlodipine besylate"). Spelling tolerance belongs to the picker (`search`), where a
person chooses from the suggestions.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

MAX_NAME_LEN = 200

_SEPARATORS = re.compile(r"[\s\-_,;:()\[\]{}\"]+")
_DROP = re.compile("['\u2019\u02bc`\u00b4.\u00ae\u2122*]")
_STRENGTH = re.compile(r"^\d+(?:\.\d+)?(?:mg|mcg|µg|ug|g|ml|iu|%|mg/ml|k)?$")
_UNITS = frozenset({"mg", "mcg", "µg", "ug", "g", "ml", "iu", "units", "unit", "%", "mg/ml", "mg/5ml"})
_FORM_WORDS = frozenset({
    "tab", "tabs", "tablet", "tablets", "cap", "caps", "capsule", "capsules", "syrup", "susp", "suspension",
    "inj", "injection", "drops", "dt", "sr", "er", "xr", "cr", "od", "mr", "la", "retard", "oral", "iv", "im",
    "sc", "cream", "gel", "ointment", "inhaler", "rotacap", "rotacaps", "respules", "sachet", "solution",
})
# Salt and ester words that do not change the active moiety for checking purposes.
SALT_WORDS = frozenset({
    "hydrochloride", "hcl", "sodium", "potassium", "calcium", "magnesium", "besylate", "besilate", "maleate",
    "mesylate", "mesilate", "succinate", "tartrate", "fumarate", "citrate", "sulfate", "sulphate", "phosphate",
    "acetate", "bromide", "hydrobromide", "hyclate", "monohydrate", "dihydrate", "trihydrate", "disodium",
    "medoxomil", "etexilate", "dipropionate", "propionate", "furoate", "xinafoate", "bitartrate", "gluconate",
    "lactate", "oxalate", "cilexetil", "axetil", "proxetil", "erbumine", "arginine", "decanoate", "hemifumarate",
    "dihydrochloride", "trometamol", "pamoate", "embonate", "valerate", "enanthate", "cypionate",
})


def fold(text: str) -> str:
    """Lower-case ASCII-ish form with accents removed; keeps letters, digits and the symbols / + % ."""
    decomposed = unicodedata.normalize("NFKD", text[:MAX_NAME_LEN])
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold()


@lru_cache(maxsize=8192)
def key(text: str) -> str:
    """The look-up key: folded, punctuation removed, hyphens and underscores read as spaces."""
    folded = _DROP.sub("", fold(text))
    return " ".join(t for t in _SEPARATORS.split(folded) if t)


def strip_strength(k: str) -> str:
    """Remove trailing strength and dosage-form tokens: "dolo 650" -> "dolo", "pan 40 mg tab" -> "pan"."""
    tokens = k.split(" ")
    while len(tokens) > 1 and (_STRENGTH.match(tokens[-1]) or tokens[-1] in _UNITS or tokens[-1] in _FORM_WORDS):
        tokens.pop()
    return " ".join(tokens)


def strip_salts(k: str) -> str:
    """Remove salt words anywhere: "amlodipine besylate" -> "amlodipine"."""
    tokens = [t for t in k.split(" ") if t not in SALT_WORDS]
    return " ".join(tokens)


def split_combination(text: str) -> list[str]:
    """Split "amoxicillin + clavulanic acid" or "amoxicillin/clavulanate" into parts (empty parts dropped)."""
    parts = re.split(r"\s*(?:\+|/|&|\band\b|\bwith\b)\s*", text[:MAX_NAME_LEN], flags=re.IGNORECASE)
    return [p.strip() for p in parts if p.strip()]
