"""The JSON contract behind `carebridge interactions --json|--jsonl` (see cli_contract's docstring)."""

from __future__ import annotations

import json

from carebridge.engines.interactions.cli_contract import run_json, run_jsonl

BRIEF_EXAMPLE = ('{"medications": ["warfarin", "aspirin"], "allergies": ["penicillin"], "conditions": ["N18.3"], '
                 '"age": 70, "weight_kg": 60, "egfr": 45}')


def test_brief_example() -> None:
    out = json.loads(run_json(BRIEF_EXAMPLE))
    assert set(out) == {"alerts", "unknown", "not_checked", "knowledge_version", "rules_evaluated"}
    assert out["unknown"] == []
    alert = out["alerts"][0]
    assert {"kind", "severity", "items", "message", "source"} <= set(alert)
    assert (alert["kind"], alert["severity"], alert["items"]) == ("interaction", "major", ["warfarin", "aspirin"])
    assert "British National Formulary" in alert["source"]
    assert out["knowledge_version"].startswith("2025.1+sha256:")


def test_names_resolve_by_generic_brand_or_atc_case_insensitively() -> None:
    out = json.loads(run_json('{"medications": ["WARF", "b01ac06"]}'))
    assert out["alerts"][0]["severity"] == "major" and out["alerts"][0]["items"] == ["WARF", "b01ac06"]


def test_unknown_is_listed_and_alerted() -> None:
    out = json.loads(run_json('{"medications": ["warfarin", "Zzyzx 10"], "allergies": ["pollen"],'
                              ' "conditions": ["sugar"]}'))
    assert out["unknown"] == ["Zzyzx 10", "pollen", "sugar"]
    unknown = [a for a in out["alerts"] if a["kind"] == "unknown"]
    assert sorted(a["items"][0] for a in unknown) == ["Zzyzx 10", "pollen", "sugar"]
    assert all(a["interruptive"] for a in unknown)


def test_medication_objects_carry_doses() -> None:
    out = json.loads(run_json('{"medications": [{"name": "paracetamol", "dose_mg": 250, "doses_per_day": 4}],'
                              ' "age": 2, "weight_kg": 10}'))
    assert [(a["kind"], a["severity"]) for a in out["alerts"]] == [("dose", "major")]


def test_overrides_and_flags() -> None:
    out = json.loads(run_json('{"medications": ["omeprazole", "Pan"], "pregnant": false, "overrides": '
                              '[{"kind": "duplicate", "items": ["omeprazole", "Pan"], "reason": "switching"}]}'))
    assert out["alerts"][0]["override_reason"] == "switching" and out["alerts"][0]["interruptive"] is False


def test_errors_are_answers() -> None:
    for bad in ["", "{", "[1, 2]", "null", '"text"', '{"medications": "warfarin"}', '{"allergys": ["sulfa"]}',
                '{"age": -1}', '{"medications": [' + '"x",' * 200 + '"x"]}', "{" * 5000, "[" * 100_000,
                '{"medications": [""]}', '{"medications": ["' + "a" * 300 + '"]}', '{"age": NaN}',
                '{"egfr": Infinity}', '{"medications": [{"name": "paracetamol", "dose_mg": NaN}]}',
                '{"overrides": [{"kind": "duplicate", "items": [], "reason": "x"}]}']:
        out = json.loads(run_json(bad))
        assert out["error"]["type"] in ("invalid_json", "validation"), bad
    assert json.loads(run_json("x" * 1_000_001))["error"]["detail"].startswith("input larger")


def test_jsonl_keeps_order_ids_and_goes_on_after_errors() -> None:
    lines = ['{"id": "a", "medications": ["simvastatin", "clarithromycin"]}\n', "not json\n", "\n",
             '{"id": 7, "extra": 1}\n', '{"medications": ["Crocin", "Dolo"]}\n']
    out = [json.loads(line) for line in run_jsonl(lines)]
    assert len(out) == 4
    assert out[0]["id"] == "a" and out[0]["alerts"][0]["severity"] == "contraindicated"
    assert out[1]["error"]["type"] == "invalid_json" and "id" not in out[1]
    assert out[2]["id"] == 7 and out[2]["error"]["type"] == "validation"
    assert "id" not in out[3] and out[3]["alerts"][0]["kind"] == "duplicate"
