"""The one coded list of clinical specialties and services (knowledge/specialties.csv).

Practitioners, facilities and triage all name specialties by these codes, so a triage result
("cardiology") can be matched to a practitioner or a facility without translating vocabularies.
Where the names come from is recorded in knowledge/SOURCES.md.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

KNOWLEDGE_FILE = Path(__file__).resolve().parent / "knowledge" / "specialties.csv"


class Specialty(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,48}$", description="Stable slug used everywhere in CareBridge.")
    name_en: str = Field(min_length=1, max_length=120)
    name_hi: str = Field(min_length=1, max_length=120)
    kind: Literal["specialty", "service"]
    description: str = Field("", max_length=300)


@lru_cache(maxsize=1)
def _load() -> tuple[tuple[Specialty, ...], dict[str, Specialty]]:
    with KNOWLEDGE_FILE.open(encoding="utf-8", newline="") as fh:
        rows = [Specialty.model_validate(row) for row in csv.DictReader(fh)]
    by_code: dict[str, Specialty] = {}
    for row in rows:
        if row.code in by_code:
            raise ValueError(f"specialties.csv lists {row.code!r} twice")
        by_code[row.code] = row
    return tuple(rows), by_code


def all_specialties() -> tuple[Specialty, ...]:
    """Every specialty and service, in the file's order (general care first)."""
    return _load()[0]


def get(code: str) -> Specialty | None:
    return _load()[1].get(code)


def is_known(code: str) -> bool:
    return code in _load()[1]


def unknown_codes(codes: list[str]) -> list[str]:
    """The codes not on the list, in the order given (for an error that names them)."""
    known = _load()[1]
    return [c for c in codes if c not in known]
