"""Questionnaire and QuestionnaireResponse: kept as validated JSON (the generic store), with their R4 search
parameters.

CareBridge's screening instruments (PHQ-9, GAD-7) will belong to the mental-health context, which does not exist
yet; until it does, a questionnaire and its answers have no domain home, so they are kept whole by the generic
store (validated, the patients policy on the response's subject, audited) and searched by the R4 parameters here:
the store narrows by `_id`, `_lastUpdated` and the patient in SQL, the rest are tested on each page
(`kept_json.MATCH`). When the mental-health context exists, these move there (an import of the stored JSON).
"""

from __future__ import annotations

import dataclasses

from carebridge.fhir.generic import GenericStore
from carebridge.fhir.mappers.kept_json import kept_search
from carebridge.fhir.registry import Context, Found, Mapper, Query, SearchParam, SortParam

PAGE = " (tested on each page)"


def _served(resource_type: str, extra: tuple[SearchParam, ...], documentation: str, *,
            patient: bool, sort: tuple[SortParam, ...]) -> Mapper:
    store = GenericStore(resource_type)
    base = store.mapper()

    def search(ctx: Context, query: Query, count: int, cursor: str | None) -> Found:
        return kept_search(store, ctx, query, count, cursor)

    params = base.search_params if patient else tuple(p for p in base.search_params
                                                      if p.name not in ("patient", "subject"))
    return dataclasses.replace(
        base, documentation=documentation, search_params=params + extra, search=search, total=None,
        patient_param="patient" if patient else None, references=base.references if patient else (),
        sort_params=sort)


QUESTIONNAIRE = _served(
    "Questionnaire",
    (SearchParam("url", "uri", "The canonical URL (a value without |version matches every version)."),
     SearchParam("name", "string", "Prefix of the computer name" + PAGE),
     SearchParam("title", "string", "Prefix of the title" + PAGE),
     SearchParam("status", "token", "draft | active | retired | unknown" + PAGE),
     SearchParam("version", "token", "The business version" + PAGE),
     SearchParam("date", "date", "Publication date; eq, ne, gt, lt, ge, le, sa, eb" + PAGE),
     SearchParam("identifier", "token", "[system|]value" + PAGE),
     SearchParam("code", "token", "A code of the questionnaire or of one of its items" + PAGE),
     SearchParam("publisher", "string", "Prefix of the publisher" + PAGE)),
    "Questionnaires, kept as validated JSON until the mental-health context exists; readable by staff, written "
    "by those who may write the record.", patient=False,
    sort=(SortParam("date", lambda b: b.get("date")), SortParam("name", lambda b: b.get("name"))))
QUESTIONNAIRE_RESPONSE = _served(
    "QuestionnaireResponse",
    (SearchParam("questionnaire", "reference", "The questionnaire's canonical URL" + PAGE),
     SearchParam("status", "token", "in-progress | completed | amended | entered-in-error | stopped" + PAGE),
     SearchParam("authored", "date", "When answered; eq, ne, gt, lt, ge, le, sa, eb" + PAGE),
     SearchParam("author", "reference", "Who answered (any reference)" + PAGE),
     SearchParam("encounter", "reference", "Encounter/<id>" + PAGE),
     SearchParam("identifier", "token", "[system|]value" + PAGE)),
    "Answers to questionnaires, kept as validated JSON until the mental-health context exists; the patients "
    "policy on the subject decides who reads them.", patient=True,
    sort=(SortParam("authored", lambda b: b.get("authored")),))
