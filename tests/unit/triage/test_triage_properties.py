"""Properties that must hold for any input: no crash, determinism, red flags only push upwards."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carebridge.engines.triage import Level, Sex, TriageInput, triage
from carebridge.engines.triage.jsonl import format_readable

RED_FLAG_PHRASES = [
    "He is unconscious and not responding.",
    "I want to kill myself.",
    "Crushing chest pain with sweating.",
    "Her face is drooping and her speech is slurred.",
    "Severe difficulty breathing, lips turning blue.",
    "Vomiting blood.",
    "Bitten by a snake.",
    "Having a fit right now.",
    "saans nahi aa rahi",
]
BASE_PHRASES = [
    "mild cough",
    "no fever",
    "runny nose and sneezing",
    "I am pregnant",
    "my 2 year old",
    "headache for 3 weeks",
    "pet dard",
    "not feeling well",
    "bahut",
    "itchy rash",
    "denies",
    "without",
]
settings.register_profile("triage", max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("triage")

ages = st.one_of(st.none(), st.floats(min_value=0, max_value=110, allow_nan=False))
sexes = st.sampled_from(list(Sex))
free_text = st.text(max_size=300)
base_text = st.one_of(
    free_text,
    st.lists(st.sampled_from(BASE_PHRASES), max_size=5).map(", ".join),
)


@given(text=free_text, age=ages, sex=sexes, pregnant=st.one_of(st.none(), st.booleans()))
def test_arbitrary_unicode_never_raises(text: str, age: float | None, sex: Sex, pregnant: bool | None) -> None:
    result = triage(TriageInput(text=text, age=age, sex=sex, pregnant=pregnant))
    assert result.level in Level
    assert result.specialty
    assert format_readable(result)


@given(text=base_text, age=ages, phrase=st.sampled_from(RED_FLAG_PHRASES))
def test_adding_a_red_flag_never_lowers_the_level(text: str, age: float | None, phrase: str) -> None:
    before = triage(TriageInput(text=text, age=age)).level
    after = triage(TriageInput(text=f"{text}. {phrase}", age=age)).level
    assert after.rank >= before.rank
    assert after is Level.EMERGENCY, phrase


def test_every_red_flag_phrase_is_an_emergency_on_its_own() -> None:
    for phrase in RED_FLAG_PHRASES:
        assert triage(TriageInput(text=phrase)).level is Level.EMERGENCY, phrase


@given(text=base_text, codes=st.lists(st.sampled_from(["fever", "cough", "rash", "headache"]), max_size=3))
def test_adding_a_red_flag_code_never_lowers_the_level(text: str, codes: list[str]) -> None:
    before = triage(TriageInput(text=text, symptoms=tuple(codes))).level
    after = triage(TriageInput(text=text, symptoms=(*codes, "unresponsive"))).level
    assert after.rank >= before.rank
    assert after is Level.EMERGENCY


@given(text=base_text, age=ages, sex=sexes)
def test_deterministic(text: str, age: float | None, sex: Sex) -> None:
    inp = TriageInput(text=text, age=age, sex=sex)
    assert triage(inp).model_dump_json() == triage(inp).model_dump_json()


def test_same_answer_for_a_realistic_complaint_every_time() -> None:
    inp = TriageInput(text="bukhar 3 din se, sar dard, body ache, vomiting", age=30)
    dumps = {triage(inp).model_dump_json() for _ in range(5)}
    assert len(dumps) == 1
