"""Name folding, Devanagari transliteration, phonetic keys and phone keys (engines/names.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carebridge.engines import names


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("José", "jose"),
        ("  SHARMA ", "sharma"),
        ("Ñúñez-García", "nunez garcia"),
        ("O'Brien", "obrien"),
        ("Straße", "strasse"),
        ("Łukasz Øster", "lukasz oster"),
        ("Zoë  Ærø", "zoe aero"),
        ("ｆｕｌｌｗｉｄｔｈ", "fullwidth"),
        ("Dr. A.B. Rao", "dr a b rao"),
    ],
)
def test_fold_removes_case_accents_and_punctuation(raw: str, folded: str) -> None:
    assert names.fold(raw) == folded


@pytest.mark.parametrize(
    ("devanagari", "latin"),
    [
        ("आशा", "asha"),  # independent long vowel, final long vowel kept
        ("शर्मा", "sharma"),  # conjunct through the virama
        ("राम", "ram"),  # final inherent vowel is silent
        ("अमित", "amit"),
        ("रमेश", "ramesh"),
        ("सरला", "sarla"),  # medial schwa deleted between VC and CV
        ("राजकुमार", "rajkumar"),
        ("प्रिया", "priya"),
        ("लक्ष्मी", "lakshmi"),
        ("मित्र", "mitra"),  # final vowel kept after a conjunct
        ("संजय", "sanjay"),  # anusvara
        ("ज़ैनब", "zainab"),  # nukta
        ("सुनीता वर्मा", "sunita varma"),
        ("१२३", "123"),
    ],
)
def test_devanagari_is_romanised_the_way_names_are_written(devanagari: str, latin: str) -> None:
    assert names.fold(devanagari) == latin


def test_other_scripts_use_the_fallback_or_are_dropped() -> None:
    assert names.fold("Сергей") == ""
    assert names.fold("Сергей Ivanov", fallback=lambda t: "sergei") == "sergei ivanov"


def test_phonetic_key_forgives_common_romanisation_differences() -> None:
    assert names.phonetic("meera") == names.phonetic("mira") == "mira"
    assert names.phonetic("aggarwal") == "agarval"
    assert names.phonetic("phoolan") == "fulan"
    assert names.phonetic("gita") == names.phonetic("geeta")


def test_index_tokens_hold_words_and_their_phonetic_keys() -> None:
    assert names.index_tokens(["Meera", "Iyer", None, ""]) == {"meera", "mira", "iyer"}


def test_query_terms_pair_each_word_with_its_key_without_repeats() -> None:
    assert names.query_terms("Meera meera  IYER") == [("meera", "mira"), ("iyer", "iyer")]
    assert names.query_terms("!!!") == []
    assert len(names.query_terms("a b c d e f g h")) == 6


def test_prefix_upper_bound_sorts_above_every_token_with_the_prefix() -> None:
    bound = names.prefix_upper_bound("sha")
    assert bound > "sha"
    assert bound > "shazzz999"
    assert bound < "shb"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("+91 98200 11111", "9820011111"),
        ("098200-11111", "9820011111"),
        ("(982) 001-1111", "9820011111"),
        ("2612 3456", "26123456"),
        ("12345", None),
        (None, None),
        ("", None),
    ],
)
def test_phone_key_is_the_last_ten_digits(raw: str | None, key: str | None) -> None:
    assert names.phone_key(raw) == key


@given(st.text(max_size=60))
def test_fold_always_yields_lowercase_ascii_words(text: str) -> None:
    folded = names.fold(text)
    assert folded == folded.strip()
    assert "  " not in folded
    assert all(ch.isascii() and (ch.isalnum() or ch == " ") for ch in folded)
    assert folded == folded.lower()
    assert names.fold(folded) == folded


@given(st.text(max_size=40))
def test_tokens_never_exceed_the_column_width(text: str) -> None:
    assert all(0 < len(t) <= names.MAX_TOKEN_LEN for t in names.index_tokens([text]))
