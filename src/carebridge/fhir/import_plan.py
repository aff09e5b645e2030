"""Which files of an import may be written at the same time, by several processes, without changing the answer.

An import written file after file gives one answer; written in parallel it must give the same one. Two files
may go side by side only when neither can see the other's writes: neither references an entry the other
holds, they share no entry name (a second copy of an entry is skipped as already imported), they do not
search for a type the other creates (conditional references and conditional creates), and they hold no
record the duplicate checks would match (an identifier, or a patient's name and birth date). Anything in
doubt goes in order: NDJSON files (their types reference each other line by line), files that could not
be read, and every file after such a one.

The plan is a list of waves; a wave's files run at once, the waves one after the other, each file after
every earlier file it could see.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Outline:
    """What one file names and what it looks for, read before anything is written."""

    path: Path
    alone: bool = False
    """Written in order with nothing beside it (NDJSON, unreadable)."""
    names: frozenset[str] = field(default_factory=frozenset)
    """Its entries' keys and aliases, identifiers, patient name-and-birth-date keys, its content digest."""
    refs: frozenset[str] = field(default_factory=frozenset)
    """References to entries it does not hold itself."""
    types: frozenset[str] = field(default_factory=frozenset)
    """Resource types of its entries."""
    searched: frozenset[str] = field(default_factory=frozenset)
    """Types it finds by search: in a conditional reference (`Type?…`) or a conditional create."""


def waves(outlines: Iterable[Outline]) -> list[list[Outline]]:
    """Each file in the first wave after every earlier file it conflicts with (and after any lone file)."""
    plan: list[list[Outline]] = []
    defined: dict[str, int] = {}  # name -> last wave holding it
    referenced: dict[str, int] = {}  # name -> last wave referencing it
    typed: dict[str, int] = {}  # type -> last wave creating it
    searching: dict[str, int] = {}  # type -> last wave searching for it
    floor = 0
    for o in outlines:
        if o.alone:
            plan.append([o])
            floor = len(plan)
            continue
        after = [floor - 1]
        after += [defined.get(n, -1) for n in o.names | o.refs]
        after += [referenced.get(n, -1) for n in o.names]
        after += [typed.get(t, -1) for t in o.searched]
        after += [searching.get(t, -1) for t in o.types]
        w = max(after) + 1
        if w == len(plan):
            plan.append([])
        plan[w].append(o)
        for n in o.names:
            defined[n] = max(defined.get(n, -1), w)
        for n in o.refs:
            referenced[n] = max(referenced.get(n, -1), w)
        for t in o.types:
            typed[t] = max(typed.get(t, -1), w)
        for t in o.searched:
            searching[t] = max(searching.get(t, -1), w)
    return plan
