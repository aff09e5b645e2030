"""Shared helpers for the prescribing engine tests (pure engine: no database, no app)."""

from __future__ import annotations

import pytest

from carebridge.engines.interactions import Alert, CheckResult, check_names, load_knowledge
from carebridge.engines.interactions.knowledge import KnowledgeBase


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_knowledge()


def alerts_of(result: CheckResult, kind: str) -> list[Alert]:
    return [a for a in result.alerts if a.kind == kind]


def only(result: CheckResult, kind: str) -> Alert:
    found = alerts_of(result, kind)
    assert len(found) == 1, [(a.kind, a.items, a.message) for a in result.alerts]
    return found[0]


def pair_alert(meds: list[str], **kw: object) -> Alert | None:
    result = check_names(meds, **kw)  # type: ignore[arg-type]
    found = [a for a in result.alerts if a.kind == "interaction" and len(a.items) == 2]
    return found[0] if found else None  # alerts come worst first
