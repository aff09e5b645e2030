"""Validation ahead of the writer (fhir/validate_ahead.py) answers exactly what validating in line answers: the
same status and the same issues, pointing at the same element; a body it did not see is validated as before."""

from __future__ import annotations

from typing import Any

import pytest

from carebridge.fhir.outcome import FhirError
from carebridge.fhir.validate import check, trusting
from carebridge.fhir.validate_ahead import Ahead, import_body, verdicts

GOOD: dict[str, Any] = {"resourceType": "Basic", "id": "src-1", "meta": {"versionId": "7"}, "code": {"text": "x"}}
BAD_DATE: dict[str, Any] = {"resourceType": "Patient", "birthDate": "not-a-date"}
BAD_CODE: dict[str, Any] = {"resourceType": "Patient", "gender": "woman"}  # R4 administrative-gender is required


def _inline(body: dict[str, Any]) -> tuple[int, list[dict[str, Any]]] | None:
    try:
        check(str(body["resourceType"]), import_body(body))
    except FhirError as exc:
        return exc.status, exc.issues
    return None


@pytest.mark.parametrize("body", [GOOD, BAD_DATE, BAD_CODE], ids=["valid", "bad-date", "bad-code"])
def test_a_verdict_reached_in_a_worker_is_the_in_line_answer(body: dict[str, Any]) -> None:
    with Ahead(1) as ahead:
        [(_, found)] = list(ahead.pipeline([[("f#0", body)]], lambda batch: batch))
        verdict = found.of("f#0")
    expected = _inline(body)
    if expected is None:
        assert verdict is None
        return
    assert verdict is not None
    assert (verdict.status, verdict.issues) == expected
    error = verdict.error()
    assert (error.status, error.issues) == expected


def test_the_worker_sees_what_the_importer_creates_not_the_source_id_and_meta() -> None:
    assert import_body(GOOD) == {"resourceType": "Basic", "code": {"text": "x"}}
    assert verdicts([("f#0", {**GOOD, "meta": {"lastUpdated": "yesterday"}})]) == {"f#0": None}


def test_a_trusted_body_answers_its_verdict_and_an_equal_copy_is_checked_again() -> None:
    body = import_body(BAD_DATE)
    [failure] = verdicts([("f#0", BAD_DATE)]).values()
    assert failure is not None
    with trusting(body, None):  # told it is valid: that very object is not checked again
        assert check("Patient", body) is body
        with pytest.raises(FhirError) as caught:
            check("Patient", dict(body))  # a copy is not the body the verdict was for
    assert caught.value.issues[0]["expression"] == ["Patient.birthDate"]
    with trusting(body, failure), pytest.raises(FhirError) as refused:
        check("Patient", body)
    assert refused.value.issues == failure.issues
    with trusting(body, None), pytest.raises(FhirError) as wrong_type:
        check("Basic", body)  # the cheap checks always run: a body is never trusted as another type
    assert wrong_type.value.status == 400


def test_every_batch_comes_back_in_order_with_its_own_verdicts() -> None:
    batches = [[(f"f{b}#{i}", {"resourceType": "Basic", "code": {"text": str(i)}}) for i in range(b * 50)]
               for b in range(1, 4)]
    with Ahead(1) as ahead:
        seen = []
        for batch, found in ahead.pipeline(batches, lambda batch: batch):
            assert all(found.known(source) and found.of(source) is None for source, _ in batch)
            assert not found.known("elsewhere#0")
            seen.append(batch)
    assert seen == batches


def test_without_workers_nothing_is_known_ahead() -> None:
    with Ahead(0) as ahead:
        [(_, found)] = list(ahead.pipeline([[("f#0", GOOD)]], lambda batch: batch))
    assert not found.known("f#0")
