"""The coded specialty list: loads, is unique, and answers membership."""

from __future__ import annotations

import csv

from carebridge.engines import specialties


def test_every_row_of_the_knowledge_file_is_loaded_in_order() -> None:
    with specialties.KNOWLEDGE_FILE.open(encoding="utf-8") as fh:
        codes = [row["code"] for row in csv.DictReader(fh)]
    assert [s.code for s in specialties.all_specialties()] == codes
    assert len(set(codes)) == len(codes)


def test_each_specialty_has_english_and_hindi_names() -> None:
    cardiology = specialties.get("cardiology")
    assert cardiology is not None
    assert cardiology.name_en == "Cardiology"
    assert cardiology.name_hi == "हृदय रोग"
    assert cardiology.kind == "specialty"
    assert all(s.name_hi and s.name_en for s in specialties.all_specialties())


def test_is_known_and_unknown_codes() -> None:
    assert specialties.is_known("general_practice")
    assert not specialties.is_known("astrology")
    assert not specialties.is_known("Cardiology")
    assert specialties.unknown_codes(["cardiology", "astrology", "toxicology", "x"]) == ["astrology", "x"]
    assert specialties.get("astrology") is None
