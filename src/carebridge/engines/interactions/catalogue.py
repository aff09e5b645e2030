"""The medication catalogue (knowledge/ingredients.csv, knowledge/brands.csv) and the medicine picker.

Ingredients carry their WHO ATC codes, synonyms and the common forms, routes and strengths; products
(brands and named generic combinations such as co-trimoxazole) map to one or more ingredients, so
"Combiflam" is ibuprofen + paracetamol and "Augmentin" amoxicillin + clavulanic acid. Where each
fact comes from is in the rows' `source` column and knowledge/SOURCES.md.

`resolve` is exact (after normalisation, see `_text`) and is what the checks use; `search` is the
typing-tolerant picker (prefix, word-prefix, substring, then a similarity ratio) for people to choose from.
"""

from __future__ import annotations

import csv
import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from carebridge.engines.interactions import _text

KNOWLEDGE_DIR = Path(__file__).resolve().parent / "knowledge"
INGREDIENTS_FILE = KNOWLEDGE_DIR / "ingredients.csv"
BRANDS_FILE = KNOWLEDGE_DIR / "brands.csv"

_ATC_SUBSTANCE = re.compile(r"^[a-z]\d\d[a-z]{2}\d\d$")
_ATC_ANY = re.compile(r"^[A-Z](\d\d([A-Z]([A-Z](\d\d)?)?)?)?$")
MatchKind = Literal["generic", "synonym", "brand", "atc", "combination"]


class Form(BaseModel):
    model_config = ConfigDict(frozen=True)

    form: str
    route: str
    strengths: tuple[str, ...]


class Ingredient(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9 '\-]*$")
    atc: tuple[str, ...] = Field(min_length=1)
    synonyms: tuple[str, ...] = ()
    forms: tuple[Form, ...] = ()
    sources: tuple[str, ...] = Field(min_length=1)


class Product(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    ingredients: tuple[str, ...] = Field(min_length=1)
    kind: Literal["brand", "combination"]
    manufacturer: str = ""
    market: tuple[str, ...] = ()
    source: str


class Resolution(BaseModel):
    model_config = ConfigDict(frozen=True)

    ingredients: tuple[str, ...]
    matched_by: MatchKind
    label: str


class PickerHit(BaseModel):
    model_config = ConfigDict(frozen=True)

    label: str
    kind: Literal["generic", "synonym", "brand", "combination"]
    ingredients: tuple[str, ...]
    atc: tuple[str, ...]
    forms: tuple[Form, ...] = Field(default=(), description="Forms, routes and strengths (single-ingredient hits).")
    manufacturer: str = ""
    score: float = Field(description="Lower is better: 0 exact, 1 prefix, 2 word prefix, 3 substring, 4+ similar.")


@dataclass(frozen=True, slots=True)
class _Entry:
    key: str
    label: str
    kind: Literal["generic", "synonym", "brand", "combination"]
    ingredients: tuple[str, ...]
    manufacturer: str


def _parse_forms(text: str) -> tuple[Form, ...]:
    forms = []
    for chunk in filter(None, text.split("|")):
        form, route, strengths = chunk.split(":", 2)
        forms.append(Form(form=form, route=route, strengths=tuple(s for s in strengths.split(";") if s)))
    return tuple(forms)


def _split(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(";") if s.strip())


class Catalogue:
    """Ingredients and products, indexed for exact resolution and for the picker."""

    def __init__(self, ingredients: list[Ingredient], products: list[Product]) -> None:
        self.ingredients: dict[str, Ingredient] = {}
        self.products: list[Product] = products
        self._lookup: dict[str, Resolution] = {}
        self._entries: list[_Entry] = []
        self._by_atc: dict[str, list[str]] = {}
        self._atc_cache: dict[str, frozenset[str]] = {}
        for ing in ingredients:
            if ing.name in self.ingredients:
                raise ValueError(f"ingredients.csv lists {ing.name!r} twice")
            self.ingredients[ing.name] = ing
            for code in ing.atc:
                self._by_atc.setdefault(code, []).append(ing.name)
        for ing in ingredients:
            own = (ing.name,)
            self._add(ing.name, Resolution(ingredients=own, matched_by="generic", label=ing.name), "generic", "")
            for syn in ing.synonyms:
                self._add(syn, Resolution(ingredients=own, matched_by="synonym", label=ing.name), "synonym", "")
        for product in products:
            unknown = [i for i in product.ingredients if i not in self.ingredients]
            if unknown:
                raise ValueError(f"brands.csv: {product.name!r} names unknown ingredients {unknown}")
            kind: Literal["brand", "combination"] = product.kind
            res = Resolution(ingredients=product.ingredients, matched_by="brand", label=product.name)
            self._add(product.name, res, kind, product.manufacturer)

    def _add(self, name: str, res: Resolution, kind: Literal["generic", "synonym", "brand", "combination"],
             manufacturer: str) -> None:
        k = _text.key(name)
        existing = self._lookup.get(k)
        if existing is not None and existing.ingredients != res.ingredients:
            raise ValueError(f"catalogue name {name!r} is ambiguous: {existing.ingredients} vs {res.ingredients}")
        if existing is None:
            self._lookup[k] = res
        self._entries.append(_Entry(key=k, label=name, kind=kind, ingredients=res.ingredients,
                                    manufacturer=manufacturer))

    # --- exact resolution (used by the checks) -------------------------------------------------

    def _exact(self, name: str) -> Resolution | None:
        k = _text.key(name)
        if not k:
            return None
        hit = self._lookup.get(k) or self._lookup.get(_text.strip_strength(k))
        if hit is not None:
            return hit
        if _ATC_SUBSTANCE.match(k):
            names = self._by_atc.get(k.upper())
            if names:
                return Resolution(ingredients=tuple(names), matched_by="atc", label=k.upper())
        return None

    def resolve(self, name: str) -> Resolution | None:
        """Ingredients named by a generic name, synonym, brand, 7-character ATC code or a '+' combination."""
        hit = self._exact(name)
        if hit is not None:
            return hit
        parts = _text.split_combination(name)
        if len(parts) > 1:
            resolved = [self._exact(p) or self._salted(p) for p in parts]
            if all(r is not None for r in resolved):
                ingredients: list[str] = []
                for r in resolved:
                    assert r is not None  # noqa: S101 - narrowed by all() above
                    ingredients.extend(i for i in r.ingredients if i not in ingredients)
                return Resolution(ingredients=tuple(ingredients), matched_by="combination",
                                  label=" + ".join(ingredients))
            return None
        return self._salted(name)

    def _salted(self, name: str) -> Resolution | None:
        k = _text.strip_salts(_text.strip_strength(_text.key(name)))
        if not k:
            return None
        return self._lookup.get(k) or self._lookup.get(_text.strip_strength(k))

    # --- classes -------------------------------------------------------------------------------

    def atc_members(self, prefix: str) -> frozenset[str]:
        """Ingredients with any ATC code starting with `prefix` (the class expanded over the catalogue)."""
        p = prefix.upper()
        hit = self._atc_cache.get(p)
        if hit is None:
            hit = frozenset(n for code, names in self._by_atc.items() if code.startswith(p) for n in names)
            self._atc_cache[p] = hit
        return hit

    def atc_codes(self, name: str) -> tuple[str, ...]:
        return self.ingredients[name].atc

    @staticmethod
    def is_atc_code(text: str) -> bool:
        return bool(_ATC_ANY.match(text.strip().upper()))

    # --- picker --------------------------------------------------------------------------------

    def search(self, query: str, limit: int = 10) -> list[PickerHit]:
        """Medicines matching what has been typed so far: prefix first, then word prefix, substring, similar."""
        q = _text.key(query)
        if not q or limit <= 0:
            return []
        scored: dict[tuple[str, str], tuple[float, _Entry]] = {}
        for e in self._entries:
            score = self._score(q, e.key)
            if score is None:
                continue
            ident = (e.label.casefold(), e.kind)
            if ident not in scored or score < scored[ident][0]:
                scored[ident] = (score, e)
        ranked = sorted(scored.values(), key=lambda se: (se[0], len(se[1].label), se[1].label.casefold()))
        hits: list[PickerHit] = []
        shown: set[tuple[str, ...]] = set()
        for score, e in ranked:
            if len(hits) >= min(limit, 50):
                break
            if e.kind == "synonym":
                if e.ingredients in shown:
                    continue  # the generic name is already offered
                label = f"{e.label} ({e.ingredients[0]})"
            else:
                label = e.label
            if e.kind == "generic":
                shown.add(e.ingredients)
            atc = tuple(code for i in e.ingredients for code in self.ingredients[i].atc)
            forms = self.ingredients[e.ingredients[0]].forms if len(e.ingredients) == 1 else ()
            hits.append(PickerHit(label=label, kind=e.kind, ingredients=e.ingredients, atc=atc, forms=forms,
                                  manufacturer=e.manufacturer, score=round(score, 3)))
        return hits

    @staticmethod
    def _score(q: str, k: str) -> float | None:
        if k == q:
            return 0.0
        if k.startswith(q):
            return 1.0
        if any(w.startswith(q) for w in k.split(" ")[1:]):
            return 2.0
        if len(q) >= 3 and q in k:
            return 3.0
        if len(q) < 4:
            return None
        ratio = max(difflib.SequenceMatcher(None, q, k).ratio(),
                    difflib.SequenceMatcher(None, q, k[: len(q) + 1]).ratio())
        return 4.0 + (1.0 - ratio) if ratio >= 0.8 else None


def _read_ingredients(path: Path) -> list[Ingredient]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [
            Ingredient(name=row["name"], atc=_split(row["atc"]), synonyms=_split(row["synonyms"]),
                       forms=_parse_forms(row["forms"]), sources=_split(row["source"]))
            for row in csv.DictReader(fh)
        ]


def _read_products(path: Path) -> list[Product]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [
            Product(name=row["brand"], ingredients=tuple(i.strip() for i in row["ingredients"].split("+")),
                    kind=row["kind"], manufacturer=row["manufacturer"], market=_split(row["market"]),
                    source=row["source"])
            for row in csv.DictReader(fh)
        ]


@lru_cache(maxsize=1)
def load_catalogue() -> Catalogue:
    return Catalogue(_read_ingredients(INGREDIENTS_FILE), _read_products(BRANDS_FILE))


def search(query: str, limit: int = 10) -> list[PickerHit]:
    """The medicine picker over the bundled catalogue."""
    return load_catalogue().search(query, limit)
