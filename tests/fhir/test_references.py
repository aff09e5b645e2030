"""Listing and rewriting references, as Bundle transactions and import-fhir use them."""

from __future__ import annotations

from typing import Any

from carebridge.fhir import references


def observation() -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "BP"},
            "subject": {"reference": "urn:uuid:aaa"},
            "performer": [{"reference": "Practitioner/p1"}, {"display": "nobody"}],
            "component": [{"extension": [{"url": "x", "valueReference": {"reference": "urn:uuid:bbb"}}]}]}


def test_find_lists_every_reference_with_its_path() -> None:
    found = references.find(observation())
    assert [(r.path, r.reference) for r in found] == [
        ("Observation.subject", "urn:uuid:aaa"),
        ("Observation.performer[0]", "Practitioner/p1"),
        ("Observation.component[0].extension[0].valueReference", "urn:uuid:bbb"),
    ]
    assert found[1].type == "Practitioner" and found[1].id == "p1"
    assert found[0].type is None


def test_rewrite_replaces_only_mapped_references() -> None:
    body = observation()
    changed = references.rewrite(body, {"urn:uuid:aaa": "Patient/123"})
    assert [r.reference for r in changed] == ["urn:uuid:aaa"]
    assert body["subject"] == {"reference": "Patient/123"}
    assert body["performer"][0] == {"reference": "Practitioner/p1"}
    assert [r.reference for r in references.unresolved(body)] == ["urn:uuid:bbb"]


def test_split_and_patient_reference() -> None:
    assert references.split("http://x/fhir/R4/Patient/9/_history/2") == ("Patient", "9")
    assert references.split("#contained") is None
    assert references.split("nonsense") is None
    assert references.patient_reference({"resourceType": "Observation",
                                         "subject": {"reference": "Patient/42"}}) == "Patient/42"
    assert references.patient_reference({"resourceType": "Observation",
                                         "subject": {"reference": "Group/1"}}) is None
    assert references.patient_reference({"resourceType": "Patient", "id": "7"}) == "Patient/7"


def test_a_hostile_depth_does_not_recurse_forever() -> None:
    deep: dict[str, Any] = {"reference": "urn:uuid:end"}
    for _ in range(500):
        deep = {"x": deep}
    assert references.find({"resourceType": "Basic", "x": deep}) == []
