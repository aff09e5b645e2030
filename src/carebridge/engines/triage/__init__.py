"""Symptom triage engine: free-text complaint in, urgency level and reasons out.

Pure and deterministic (stdlib + pydantic only); all clinical facts live in
the knowledge/ data files, each entry citing its guideline source.
"""

from .engine import triage
from .evaluate import EvaluationReport, evaluate
from .kb import Knowledge, KnowledgeError, load_knowledge
from .models import (
    ConditionMatch,
    Consciousness,
    Finding,
    Level,
    ParsedFindings,
    RedFlag,
    Sex,
    TriageInput,
    TriageResult,
    Vitals,
)

__all__ = [
    "ConditionMatch",
    "Consciousness",
    "EvaluationReport",
    "Finding",
    "Knowledge",
    "KnowledgeError",
    "Level",
    "ParsedFindings",
    "RedFlag",
    "Sex",
    "TriageInput",
    "TriageResult",
    "Vitals",
    "evaluate",
    "load_knowledge",
    "triage",
]
