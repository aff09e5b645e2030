"""Structure validation of an import's next batch in other processes, while this one writes the current batch.

Validation against the R4 models is pure CPU and was 35–40% of an import's time: Synthea's claims and
benefit statements take over a millisecond each. On a machine with a second core it need not wait for the
writes, so the importer hands each batch to a worker process one batch ahead and, when it creates an
entry, tells `fhir.validate.check` the verdict already reached for that very body (`validate.trusting`).
A body the worker did not see (or a worker that died) is validated here as before: the ahead-of-time
verdict is a saving, never a different answer. The worker validates what the importer will create (the
resource without `id` and `meta`); rewriting references afterwards changes only the text of
`Reference.reference` strings, which the structure check reads as any string.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

from carebridge.fhir.validate import Verdict, verdict

T = TypeVar("T")

START_METHOD = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
"""Fork where there is one: a spawned worker imports the whole program again (seconds) before its first batch,
and the worker touches nothing it inherits but the validation code (no connection, no thread)."""

Bodies = list[tuple[str, dict[str, Any]]]
"""(source, resource) pairs: the source names the entry (`file#3`, `file:12`), as the importer does."""


def import_body(resource: dict[str, Any]) -> dict[str, Any]:
    """What the importer creates from an entry: the server assigns `id` and `meta`."""
    return {k: v for k, v in resource.items() if k not in ("id", "meta")}


def verdicts(bodies: Bodies) -> dict[str, Verdict]:
    """The worker's job: each entry's verdict; an entry the check cannot judge here is left out (unknown)."""
    return {source: verdict(resource["resourceType"], import_body(resource)) for source, resource in bodies
            if isinstance(resource.get("resourceType"), str)}


class Verdicts:
    """One batch's verdicts, in jobs of JOB entries each waited for when first asked; none if a worker failed.

    Small jobs let the writer start on a batch's first entries while the worker is still on its last (the
    very first batch would otherwise wait for the worker to build every model class it needs).
    """

    def __init__(self, jobs: list[Future[dict[str, Verdict]]] | None = None,
                 job_of: dict[str, int] | None = None) -> None:
        self._jobs = jobs or []
        self._job_of = job_of or {}
        self._found: dict[int, dict[str, Verdict]] = {}

    def known(self, source: str) -> bool:
        return source in self._job(source)

    def of(self, source: str) -> Verdict:
        return self._job(source)[source]

    def _job(self, source: str) -> dict[str, Verdict]:
        n = self._job_of.get(source)
        if n is None:
            return {}
        if n not in self._found:
            try:
                self._found[n] = self._jobs[n].result()
            except (concurrent.futures.process.BrokenProcessPool, concurrent.futures.CancelledError, OSError,
                    RuntimeError):
                self._found[n] = {}  # validated in line instead
        return self._found[n]


NONE = Verdicts()
JOB = 64


class Ahead:
    """A pool of `workers` validating processes (none: everything is validated in line, as before)."""

    def __init__(self, workers: int) -> None:
        self._pool = (ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(START_METHOD))
                      if workers > 0 else None)

    def __enter__(self) -> Ahead:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _submit(self, bodies: Bodies) -> Verdicts:
        if self._pool is None or not bodies:
            return NONE
        jobs: list[Future[dict[str, Verdict]]] = []
        job_of: dict[str, int] = {}
        try:
            for start in range(0, len(bodies), JOB):
                part = bodies[start:start + JOB]
                job_of.update((source, len(jobs)) for source, _ in part)
                jobs.append(self._pool.submit(verdicts, part))
        except (concurrent.futures.process.BrokenProcessPool, RuntimeError):
            return NONE
        return Verdicts(jobs, job_of)

    def pipeline(self, batches: Iterable[T], bodies_of: Callable[[T], Bodies]) -> Iterator[tuple[T, Verdicts]]:
        """Each batch with its verdicts; the next batch is already handed to a worker when one is yielded."""
        it = iter(batches)
        current = next(it, None)
        if current is None:
            return
        pending = self._submit(bodies_of(current))
        for following in it:
            ahead = self._submit(bodies_of(following))
            yield current, pending
            current, pending = following, ahead
        yield current, pending


__all__ = ["Ahead", "Verdicts", "import_body", "verdicts"]
