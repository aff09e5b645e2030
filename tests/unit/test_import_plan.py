"""The import plan: files side by side only when neither could see the other's writes, else in file order."""

from __future__ import annotations

import json
from pathlib import Path

from carebridge.fhir.import_plan import Outline, waves
from carebridge.fhir.importer import outline


def _o(name: str, **kw: frozenset[str] | bool) -> Outline:
    return Outline(Path(name), **kw)  # type: ignore[arg-type]


def _paths(plan: list[list[Outline]]) -> list[list[str]]:
    return [[o.path.name for o in wave] for wave in plan]


def test_independent_files_share_a_wave() -> None:
    plan = waves([_o("a", names=frozenset({"urn:a"})), _o("b", names=frozenset({"urn:b"}))])
    assert _paths(plan) == [["a", "b"]]


def test_a_file_referencing_another_comes_after_it_whichever_is_first() -> None:
    later = waves([_o("a", names=frozenset({"urn:a"})), _o("b", names=frozenset({"urn:b"}), refs=frozenset({"urn:a"}))])
    earlier = waves([_o("b", names=frozenset({"urn:b"}), refs=frozenset({"urn:a"})), _o("a", names=frozenset({"urn:a"}))])
    assert _paths(later) == [["a"], ["b"]]
    assert _paths(earlier) == [["b"], ["a"]]  # file order kept: b's reference fails as it would in order


def test_shared_names_searches_and_lone_files_keep_the_order() -> None:
    plan = waves([
        _o("a", names=frozenset({"identifier:Patient|x|1"}), types=frozenset({"Patient"})),
        _o("b", names=frozenset({"identifier:Patient|x|1"})),  # the same person: after a
        _o("c", searched=frozenset({"Patient"})),  # a conditional reference to a Patient: after a
        _o("d", names=frozenset({"urn:d"})),  # nothing in common: beside a
        _o("e.ndjson", alone=True),
        _o("f", names=frozenset({"urn:f"})),  # after the lone file, though independent
    ])
    assert _paths(plan) == [["a", "d"], ["b", "c"], ["e.ndjson"], ["f"]]


def test_an_outline_names_entries_identifiers_and_patients_and_leaves_out_contained_references(
        tmp_path: Path) -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:p", "request": {"method": "POST", "url": "Patient"},
         "resource": {"resourceType": "Patient", "name": [{"family": "Šarma"}], "birthDate": "1980-01-02",
                      "identifier": [{"system": "urn:mrn", "value": "7"}]}},
        {"fullUrl": "urn:uuid:o", "request": {"method": "POST", "url": "Observation", "ifNoneExist": "x=1"},
         "resource": {"resourceType": "Observation", "subject": {"reference": "urn:uuid:p"},
                      "performer": [{"reference": "Practitioner?identifier=urn:npi|9"}, {"reference": "#c"}]}}]}
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle))
    o = outline(path)
    assert {"urn:uuid:p", "urn:uuid:o", "identifier:Patient|urn:mrn|7", "patient:sarma|1980-01-02"} <= o.names
    assert o.refs == {"Practitioner?identifier=urn:npi|9"}
    assert o.types == {"Patient", "Observation"}
    assert o.searched == {"Practitioner", "Observation"}
    assert outline(tmp_path / "x.ndjson").alone
