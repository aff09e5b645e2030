"""The one table of mapped resource types: the router, the search machinery and the CapabilityStatement
all read it, so adding a resource type is one mapper module and one line in `mappers/__init__.py`.

A mapper translates between FHIR JSON and one context's public service functions; it holds no
rules of its own (policy and audit stay in the context) and never touches another context's tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from carebridge.contexts.documents import Vault
from carebridge.fhir.outcome import not_found
from carebridge.security import Principal


@dataclass(frozen=True, slots=True)
class SearchParam:
    name: str
    type: str  # FHIR search parameter type: string, token, date, reference, special, number, quantity
    documentation: str


@dataclass(frozen=True, slots=True)
class Context:
    """What every mapper call needs: the request's transaction, the caller and the request's instant."""

    session: Session
    principal: Principal
    now: datetime
    purpose: str
    vault: Vault | None = None
    """The documents vault (keys and blob store) where the caller can reach the settings: a DocumentReference
    create needs it to encrypt the content; without it (a Context built elsewhere) the create is refused."""


@dataclass(frozen=True, slots=True)
class Stored:
    """A resource as served: its JSON plus what the ETag and Last-Modified headers carry."""

    body: dict[str, Any]
    version: str
    last_updated: datetime


@dataclass(frozen=True, slots=True)
class Found:
    """One page of search matches; `total` only when the mapper could count without extra cost."""

    items: list[Stored]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Query:
    """Search parameters after the result parameters (`_count`, `_total`, …) are taken out."""

    params: dict[str, list[str]]
    sort: tuple[str, ...] = ()
    """`_sort` keys (`-` for descending), passed down only to a mapper that lists them all in `native_sort`."""

    def one(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[-1] if values else None


Reader = Callable[[Context, uuid.UUID], Stored]
Searcher = Callable[[Context, Query, int, str | None], Found]
Writer = Callable[[Context, dict[str, Any], uuid.UUID | None, str | None], Stored]
Counter = Callable[[Context, Query], int | None]
Deleter = Callable[[Context, uuid.UUID], None]
SortKey = Callable[[dict[str, Any]], str | float | None]


@dataclass(frozen=True, slots=True)
class ReferenceParam:
    """A reference search parameter, for `_include`/`_revinclude`: `Observation:patient` names `subject`.

    `element` is the dotted path of the reference in the resource's JSON (`subject`,
    `participant.individual`); lists along the path are walked. The parameter itself must also be
    among the mapper's `search_params` (so `_revinclude` can search by it, value `Patient/<id>`).
    """

    name: str
    targets: tuple[str, ...]
    element: str


@dataclass(frozen=True, slots=True)
class SortParam:
    """A `_sort` key the facade can order by: `key` reads the value from the resource JSON."""

    name: str
    key: SortKey


@dataclass(frozen=True, slots=True)
class Mapper:
    type: str
    documentation: str
    search_params: tuple[SearchParam, ...]
    search: Searcher
    read: Reader | None = None
    create: Writer | None = None
    update: Writer | None = None
    total: Counter | None = None
    not_kept: tuple[str, ...] = field(default=())
    # Optional since session 5 (older mappers leave them out):
    delete: Deleter | None = None
    """Removes the resource where the domain allows it (the mapper applies the policy)."""
    patient_param: str | None = None
    """The search parameter selecting a patient's resources (value `Patient/<id>`), for `$everything`."""
    references: tuple[ReferenceParam, ...] = field(default=())
    sort_params: tuple[SortParam, ...] = field(default=())
    native_sort: frozenset[str] = field(default=frozenset())
    """`_sort` keys the mapper's own search orders by (it reads `Query.sort`); others are sorted here."""
    generic: bool = False
    """True for the JSON store serving a type without a domain home."""

    def interactions(self) -> list[str]:
        out = ["search-type"]
        if self.read is not None:
            out[:0] = ["read", "vread", "history-instance", "history-type"]
        if self.create is not None:
            out.append("create")
        if self.update is not None:
            out.append("update")
        if self.delete is not None:
            out.append("delete")
        return out

    def reference(self, name: str) -> ReferenceParam | None:
        return next((r for r in self.references if r.name == name), None)


class Registry:
    """Mapped types first; a type no mapper claims goes to the fallback (the generic JSON store) if set."""

    def __init__(self) -> None:
        self._mappers: dict[str, Mapper] = {}
        self._fallback: Callable[[str], Mapper | None] | None = None
        self._wrapper: Callable[[Mapper], Mapper] | None = None
        self._wrapped_fallback: dict[str, Mapper] = {}

    def wrap(self, wrapper: Callable[[Mapper], Mapper]) -> None:
        """Puts `wrapper` in front of every mapper served: mapped now, added later, or from the fallback
        (the SMART scope guard, `fhir/smart.py`)."""
        self._wrapper = wrapper
        self._mappers = {k: wrapper(m) for k, m in self._mappers.items()}
        self._wrapped_fallback = {}

    def set_fallback(self, fallback: Callable[[str], Mapper | None]) -> None:
        self._fallback = fallback

    def mapped(self, resource_type: str) -> Mapper | None:
        return self._mappers.get(resource_type)

    def add(self, mapper: Mapper) -> None:
        if mapper.type in self._mappers:
            raise ValueError(f"{mapper.type} is mapped twice")
        self._mappers[mapper.type] = self._wrapper(mapper) if self._wrapper is not None else mapper

    def get(self, resource_type: str) -> Mapper:
        mapper = self._mappers.get(resource_type)
        if mapper is None and self._fallback is not None:
            mapper = self._wrapped_fallback.get(resource_type) or self._fallback(resource_type)
            if mapper is not None and self._wrapper is not None and resource_type not in self._wrapped_fallback:
                mapper = self._wrapped_fallback[resource_type] = self._wrapper(mapper)
        if mapper is None:
            raise not_found(f"resource type {resource_type[:64]!r} is not supported here; see /fhir/R4/metadata")
        return mapper

    def all(self) -> list[Mapper]:
        return [self._mappers[k] for k in sorted(self._mappers)]
