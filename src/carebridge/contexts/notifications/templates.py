"""Message templates in each language, registered by the contexts that send them.

A template is plain `str.format` text per language; rendering falls back to English for a language the
template lacks, and a missing parameter renders as empty rather than failing a delivery hours later.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Final

DEFAULT_LANGUAGE: Final = "en"


@dataclass(frozen=True, slots=True)
class Template:
    key: str
    subject: dict[str, str]
    body: dict[str, str]
    urgent: bool = field(default=False)  # delivered through quiet hours (an SOS, a deteriorating patient)


_REGISTRY: dict[str, Template] = {}


def register_template(template: Template) -> None:
    if DEFAULT_LANGUAGE not in template.subject or DEFAULT_LANGUAGE not in template.body:
        raise ValueError(f"template {template.key!r} needs an English text")
    _REGISTRY[template.key] = template


def get_template(key: str) -> Template | None:
    return _REGISTRY.get(key)


class _Lenient(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def render(template: Template, language: str, params: dict[str, str]) -> tuple[str, str]:
    lang = language if language in template.body else DEFAULT_LANGUAGE
    values = _Lenient({k: str(v) for k, v in params.items()})
    formatter = string.Formatter()
    subject = formatter.vformat(template.subject.get(lang, template.subject[DEFAULT_LANGUAGE]), (), values)
    body = formatter.vformat(template.body[lang], (), values)
    return subject, body
