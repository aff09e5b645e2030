"""The medication catalogue and the picker.

Brand -> ingredient facts are from the manufacturers' product information (knowledge/brands.csv names
the manufacturer of each); ATC codes from the WHO ATC/DDD index (2023).
"""

from __future__ import annotations

import re

import pytest

from carebridge.engines.interactions import load_catalogue, search

ATC_SUBSTANCE = re.compile(r"^[A-Z]\d\d[A-Z]{2}\d\d$")


def test_catalogue_is_broad_enough() -> None:
    cat = load_catalogue()
    assert len(cat.ingredients) >= 300
    for prefix, what in [("P01B", "antimalarials"), ("J04A", "anti-TB drugs"), ("J05A", "antiretrovirals"),
                         ("B01A", "antithrombotics"), ("N03A", "antiepileptics")]:
        assert len(cat.atc_members(prefix)) >= 5, what


def test_atc_codes_are_well_formed() -> None:
    for ing in load_catalogue().ingredients.values():
        for code in ing.atc:
            assert ATC_SUBSTANCE.match(code) or re.match(r"^[A-Z]\d\d[A-Z]{1,2}$", code), (ing.name, code)


@pytest.mark.parametrize(("name", "ingredients"), [
    # Indian brands named in the brief (manufacturer product information)
    ("Crocin", ("paracetamol",)),
    ("Dolo 650", ("paracetamol",)),
    ("Ecosprin 75", ("aspirin",)),
    ("Glycomet", ("metformin",)),
    ("Augmentin", ("amoxicillin", "clavulanic acid")),
    ("Azithral", ("azithromycin",)),
    ("Pan 40", ("pantoprazole",)),
    ("Telma", ("telmisartan",)),
    ("Amlong", ("amlodipine",)),
    ("Thyronorm", ("levothyroxine",)),
    ("Warf", ("warfarin",)),
    ("Combiflam", ("ibuprofen", "paracetamol")),
    # a brand suffix that changes the ingredients is never stripped
    ("Telma-H", ("telmisartan", "hydrochlorothiazide")),
    ("PAN-D", ("pantoprazole", "domperidone")),
    # generic names, synonyms, salts, ATC codes, '+' combinations, case-insensitive
    ("PARACETAMOL", ("paracetamol",)),
    ("acetaminophen", ("paracetamol",)),
    ("Amlodipine Besylate 5 mg", ("amlodipine",)),
    ("sodium valproate", ("valproic acid",)),
    ("B01AA03", ("warfarin",)),
    ("j01ca04", ("amoxicillin",)),
    ("amoxicillin/clavulanate", ("amoxicillin", "clavulanic acid")),
    ("co-trimoxazole", ("sulfamethoxazole", "trimethoprim")),
])
def test_resolution(name: str, ingredients: tuple[str, ...]) -> None:
    res = load_catalogue().resolve(name)
    assert res is not None, name
    assert res.ingredients == ingredients


@pytest.mark.parametrize("name", ["", "   ", "xyzzy", "Telma 40 H", "paracetmol", "J01C", "crocin advance"])
def test_resolution_never_guesses(name: str) -> None:
    # Misspellings and ambiguous suffixes are the picker's job, not the checker's.
    assert load_catalogue().resolve(name) is None


def test_every_forms_entry_has_route_and_strength() -> None:
    for ing in load_catalogue().ingredients.values():
        assert ing.forms, ing.name
        for f in ing.forms:
            assert f.route and f.form and f.strengths, ing.name


@pytest.mark.parametrize(("query", "expected"), [
    ("para", "paracetamol"), ("paracetmol", "paracetamol"), ("dolo", "Dolo"), ("telm", "Telma"),
    ("amoxycil", "amoxicillin"), ("glycom", "Glycomet"), ("warf", "Warf"),
])
def test_picker_finds_by_prefix_and_typo(query: str, expected: str) -> None:
    labels = [h.label for h in search(query, limit=8)]
    assert any(label.split(" (")[0] == expected for label in labels), labels


def test_picker_ranks_exact_then_prefix() -> None:
    hits = search("telma", limit=5)
    assert hits[0].label == "Telma" and hits[0].score == 0
    assert all(h.score <= 1 for h in hits)
    assert hits[0].manufacturer == "Glenmark" and hits[0].ingredients == ("telmisartan",)
    assert {s for f in hits[0].forms for s in f.strengths} >= {"40 mg", "80 mg"}


def test_picker_offers_a_generic_once_not_each_synonym() -> None:
    labels = [h.label for h in search("paracetamol", limit=10)]
    assert labels.count("paracetamol") == 1
    assert search("acetaminophen", 3)[0].label == "acetaminophen (paracetamol)"


def test_picker_limits_and_empty() -> None:
    assert search("", 5) == []
    assert len(search("a", 3)) <= 3
