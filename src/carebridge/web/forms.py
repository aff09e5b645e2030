"""Turning validation failures and service problems into messages beside the form fields.

Services speak English to API clients; a page shows each failure in the reader's language next to
the field it concerns. Known service messages map to catalogue strings here; anything unknown
falls back to the field's general hint, so a new service message never shows up untranslated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from pydantic import ValidationError

from carebridge.kernel.errors import Problem
from carebridge.web.i18n import N_

# Exact `message` texts the identity service puts in a problem's `errors`, and what a reader sees.
SERVICE_MESSAGES: Final[Mapping[str, str]] = {
    "use at least 12 characters": N_("Use at least 12 characters."),
    "use at most 128 characters": N_("Use at most 128 characters."),
    "this password is too common; choose something others would not guess":
        N_("This password is too common. Choose something others would not guess."),
    "do not repeat the same one or two characters": N_("Do not repeat the same one or two characters."),
    "do not include your username, name or email in the password":
        N_("Do not include your username, name or email in the password."),
    "the password is wrong": N_("The password is wrong."),
    "same as current": N_("Choose a password different from the current one."),
    "already taken": N_("This username is taken. Choose another."),
    "already registered": N_("An account with this email already exists. Sign in, or use another email."),
    "does not match": N_("The code does not match. Check the time on your phone and enter the current code."),
    "the code does not match": N_("The code does not match. Check the time on your phone and enter the current code."),
    "this code was already used; wait for the next one": N_("This code was already used. Wait for the next one."),
}


@dataclass
class FormErrors:
    """Per-field messages (already translated) and messages about the form as a whole."""

    fields: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)

    def add(self, name: str | None, message: str) -> None:
        if name is None:
            self.general.append(message)
        elif name not in self.fields:
            self.fields[name] = message
        elif message not in self.fields[name]:
            self.fields[name] += " " + message


def from_validation(exc: ValidationError, hints: Mapping[str, str], translate: Callable[[str], str],
                    errors: FormErrors | None = None) -> FormErrors:
    errors = FormErrors() if errors is None else errors
    for err in exc.errors():
        loc = err.get("loc", ())
        name = str(loc[0]) if loc else ""
        errors.add(name if name in hints else None, translate(hints.get(name, N_("Check what you entered."))))
    return errors


def from_problem(problem: Problem, hints: Mapping[str, str], translate: Callable[[str], str],
                 fallback: str, errors: FormErrors | None = None) -> FormErrors:
    """Place a service's problem on the fields it names; unnamed ones become a form-level message."""
    errors = FormErrors() if errors is None else errors
    placed = False
    for item in problem.errors:
        name = str(item.get("field", ""))
        message = str(item.get("message", ""))
        known = SERVICE_MESSAGES.get(message)
        text = translate(known) if known else translate(hints.get(name, fallback))
        errors.add(name if name in hints else None, text)
        placed = True
    if not placed:
        errors.add(None, translate(fallback))
    return errors
