"""Name folding for patients: the pure engine plus Unidecode for scripts the engine has no table for."""

from __future__ import annotations

from unidecode import unidecode

from carebridge.engines import names as engine


def _fallback(text: str) -> str:
    return str(unidecode(text))


def fold(text: str | None) -> str:
    return engine.fold(text or "", fallback=_fallback)


def index_tokens(*parts: str | None) -> set[str]:
    return engine.index_tokens(parts, fallback=_fallback)


def query_terms(text: str) -> list[tuple[str, str]]:
    return engine.query_terms(text, fallback=_fallback)


phone_key = engine.phone_key
prefix_upper_bound = engine.prefix_upper_bound
