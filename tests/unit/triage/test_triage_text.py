"""Reading free text: negation, Hinglish, spelling slips, age/sex/duration and readings in the text."""

from __future__ import annotations

from typing import Any

import pytest

from carebridge.engines.triage import Level, Sex, TriageInput, triage
from carebridge.engines.triage.fuzzy import bounded_distance
from carebridge.engines.triage.kb import load_knowledge
from carebridge.engines.triage.text import read_text


def _present(text: str, **kw: Any) -> set[str]:
    return {f.id for f in triage(TriageInput(text=text, **kw)).findings.present}


def _negated(text: str) -> set[str]:
    return {f.id for f in triage(TriageInput(text=text)).findings.negated}


@pytest.mark.parametrize(
    ("text", "negated", "present"),
    [
        ("no fever", {"fever"}, set()),
        ("denies chest pain", {"chest_pain"}, set()),
        ("cough without vomiting", {"vomiting"}, {"cough"}),
        ("not coughing but have a headache", {"cough"}, {"headache"}),
        ("no fever, cough or vomiting", {"fever", "cough", "vomiting"}, set()),
        ("no fever, severe chest pain since morning", {"fever"}, {"chest_pain"}),
        ("I don't have any rash", {"rash"}, set()),
        ("bukhar nahi hai, khansi hai", {"fever"}, {"cough"}),
        ("free of headache now; stomach pain", {"headache"}, {"abdominal_pain"}),
        ("blood in my urine once, no pain", {"dysuria"}, {"haematuria"}),
        ("no breathing problem, just sneezing", {"breathlessness"}, {"sneezing"}),
    ],
)
def test_negation(text: str, negated: set[str], present: set[str]) -> None:
    assert negated <= _negated(text)
    found = _present(text)
    assert present <= found
    assert not negated & found


def test_no_as_an_interjection_does_not_negate() -> None:
    assert "chest_pain" in _present("No, he has chest pain")
    assert "dog_bite" in _present("rat bit? no - a stray cat bit my leg")
    assert "fever" in _negated("no fever, cough or cold")


def test_phrases_that_contain_a_negation_word_are_symptoms() -> None:
    assert "not_breathing" in _present("he is not breathing")
    assert "unable_to_feed" in _present("baby is not able to drink")
    assert "poor_weight_gain" in _present("my child is not gaining weight")
    assert "suicidal" in _present("I don't want to live anymore")


def test_history_is_not_a_current_symptom() -> None:
    result = triage(TriageInput(text="family history of stroke, I have a mild cough"))
    assert "cough" in {f.id for f in result.findings.present}
    assert result.level is not Level.EMERGENCY


@pytest.mark.parametrize(
    ("text", "symptoms"),
    [
        ("bukhar aur khansi", {"fever", "cough"}),
        ("sar dard aur ulti", {"headache", "vomiting"}),
        ("pet dard aur dast", {"abdominal_pain", "diarrhoea"}),
        ("saans phoolna aur chakkar", {"breathlessness", "dizziness"}),
        ("khoon ki ulti", {"haematemesis"}),
        ("pet me bahut dard", {"abdominal_pain"}),
        ("बुखार और खांसी", {"fever", "cough"}),
    ],
)
def test_hinglish_and_hindi(text: str, symptoms: set[str]) -> None:
    assert symptoms <= _present(text)


@pytest.mark.parametrize(
    ("text", "symptom"),
    [
        ("feaver since morning", "fever"),
        ("vomitting a lot", "vomiting"),
        ("diarhoea for two days", "diarrhoea"),
        ("severe headach", "headache"),
        ("cheast pian", "chest_pain"),
        ("breathlesness at night", "breathlessness"),
        ("sweting and dizzyness", "sweating"),
    ],
)
def test_misspellings_are_corrected(text: str, symptom: str) -> None:
    assert symptom in _present(text)


def test_corrections_are_reported() -> None:
    result = triage(TriageInput(text="feaver"))
    assert ("feaver", "fever") in result.findings.corrections


def test_short_everyday_words_are_not_corrected_into_symptoms() -> None:
    assert _present("I went on my bike to the market") == set()


def test_bounded_distance() -> None:
    assert bounded_distance("fever", "fever", 1) == 0
    assert bounded_distance("feaver", "fever", 1) == 1
    assert bounded_distance("diarrohea", "diarrhoea", 1) == 1  # transposition counts once
    assert bounded_distance("abcdef", "uvwxyz", 2) == 3  # capped at limit + 1


@pytest.mark.parametrize(
    ("text", "age", "sex"),
    [
        ("my 2 year old has fever", 2.0, None),
        ("a 65-year-old man with chest pain", 65.0, Sex.MALE),
        ("my 6 month old daughter is coughing", 0.5, Sex.FEMALE),
        ("I am 34 and have a headache", 34.0, None),
        ("3 saal ka beta, bukhar", 3.0, Sex.MALE),
        ("10 day old baby not feeding", 10 / 365, None),
        ("45F with burning urine", 45.0, Sex.FEMALE),
        ("my son is 7 and has ear pain", 7.0, Sex.MALE),
    ],
)
def test_age_and_sex_from_text(text: str, age: float, sex: Sex | None) -> None:
    findings = triage(TriageInput(text=text)).findings
    assert findings.age_years == pytest.approx(age, abs=0.01)
    assert findings.age_source == "text"
    if sex is not None:
        assert findings.sex is sex


def test_structured_fields_win_over_text() -> None:
    findings = triage(TriageInput(text="my 2 year old son has fever", age=30, sex=Sex.FEMALE)).findings
    assert findings.age_years == 30
    assert findings.sex is Sex.FEMALE


def test_pregnancy_from_text() -> None:
    findings = triage(TriageInput(text="I am pregnant and have a cold")).findings
    assert findings.pregnant is True
    assert findings.sex is Sex.FEMALE
    assert triage(TriageInput(text="I am not pregnant, mild headache")).findings.pregnant is False


def test_baby_word_assumes_an_infant_only_outside_pregnancy() -> None:
    assert triage(TriageInput(text="my baby has a cough")).findings.age_source == "assumed"
    assert triage(TriageInput(text="pregnant and the baby is not moving")).findings.age_years is None


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("cough for 3 weeks", 21.0),
        ("fever since yesterday", 1.0),
        ("2 din se bukhar", 2.0),
        ("headache for a week", 7.0),
        ("diarrhoea for 2-3 days", 3.0),
        ("khansi 1 mahine se", 30.0),
    ],
)
def test_durations(text: str, days: float) -> None:
    assert triage(TriageInput(text=text)).findings.duration_days == pytest.approx(days)


def test_age_is_not_read_as_duration() -> None:
    findings = triage(TriageInput(text="my 5 year old has had a cough for 2 days")).findings
    assert findings.age_years == 5
    assert findings.duration_days == 2


def test_severity_words() -> None:
    result = triage(TriageInput(text="severe stomach pain"))
    pain = next(f for f in result.findings.present if f.id == "abdominal_pain")
    assert pain.severity == "severe"
    mild = triage(TriageInput(text="halka sar dard"))
    assert next(f for f in mild.findings.present if f.id == "headache").severity == "mild"


def test_body_site_composition() -> None:
    assert "chest_pain" in _present("pain in the middle of my chest")
    assert "haematuria" in _present("there is blood in my urine")
    assert "pain_radiating" in _present("chest pain going up into my jaw")
    assert "jaw_pain" in _present("pain in my chest, also pain in jaw")
    assert "focal_weakness" in _present("weakness in my left arm")


def test_readings_in_text() -> None:
    findings = triage(TriageInput(text="fever 103 F, bp 150/90, oxygen 93%")).findings
    assert findings.vitals is not None
    assert findings.vitals.temperature_c == pytest.approx(39.4, abs=0.1)
    assert findings.vitals.systolic_bp == 150
    assert findings.vitals.spo2 == 93


def test_read_text_records_evidence() -> None:
    parsed = read_text("I have crushing chest pain", load_knowledge())
    assert any(m.symptom == "chest_pressure" and "crushing" in m.evidence for m in parsed.mentions)
