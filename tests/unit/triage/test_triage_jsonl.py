"""The CLI contract helpers: JSON lines in and out, and the readable answer."""

from __future__ import annotations

import json

from carebridge.engines.triage import Sex, TriageInput, triage
from carebridge.engines.triage.jsonl import format_readable, run_jsonl


def test_run_jsonl_contract() -> None:
    lines = [
        json.dumps({"id": "c1", "text": "crushing chest pain and sweating", "age": 60, "sex": "male"}),
        json.dumps({"id": "c2", "text": "my 2 year old has fever and fast breathing"}),
        "",
        json.dumps({"id": 3, "text": "runny nose and sneezing", "expected_level": "self_care"}),
    ]
    out = [json.loads(line) for line in run_jsonl(lines)]
    assert [o["id"] for o in out] == ["c1", "c2", 3]
    first = out[0]
    assert set(first) == {"id", "triage", "conditions", "specialty", "red_flags"}
    assert first["triage"] == "emergency"
    assert first["red_flags"]
    assert {"code", "name", "score"} == set(first["conditions"][0])
    assert out[1]["triage"] in {"urgent", "emergency"}
    assert out[2]["triage"] == "self_care"


def test_run_jsonl_reports_malformed_lines_and_continues() -> None:
    lines = [
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"id": "no-text"}),
        json.dumps({"id": "bad-age", "text": "cough", "age": -4}),
        json.dumps({"id": "bad-sex", "text": "cough", "sex": "robot"}),
        json.dumps({"id": {"nested": 1}, "text": "cough"}),
        json.dumps({"id": "ok", "text": "cough"}),
    ]
    out = [json.loads(line) for line in run_jsonl(lines)]
    assert len(out) == 7
    assert out[0] == {"id": None, "error": out[0]["error"]} and "invalid JSON" in out[0]["error"]
    assert out[1]["id"] is None and "object" in out[1]["error"]
    assert out[2]["id"] == "no-text" and "text" in out[2]["error"]
    assert out[3]["id"] == "bad-age" and "age" in out[3]["error"]
    assert out[4]["id"] == "bad-sex" and "sex" in out[4]["error"]
    assert out[5]["id"] is None and "id" in out[5]["error"]
    assert out[6]["triage"] in {"self_care", "non_urgent"}


def test_format_readable() -> None:
    result = triage(TriageInput(text="fever and headache for 4 days, pain behind the eyes", age=34, sex=Sex.FEMALE))
    text = format_readable(result)
    assert text.startswith("Triage: URGENT")
    assert "Dengue" in text
    assert "age 34 years" in text
    assert "not a diagnosis" in text
