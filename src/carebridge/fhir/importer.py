"""`carebridge import-fhir`: Bundles and NDJSON files (Synthea output, a Bulk Data export) into the domain.

Every resource goes through the facade's create (`fhir.interactions.create`, so the mapper's validation, the
access policy, the audit trail and the version history apply exactly as for `POST /fhir/R4/{type}`), as the
import principal: an administrator of the organization the patients are registered at. What a mapper refuses
with `code-invalid` (codes the record does not hold: Synthea's SNOMED conditions) or cannot create (405) is kept
whole as validated JSON in the generic store, so nothing is lost; anything else refused is *rejected* with its
reason, and so is an entry referencing a rejected entry.

One unit of work per Bundle (per 500 lines of NDJSON), each entry inside its own SAVEPOINT (`fhir.unit`): a
rejected entry undoes only itself. References between entries resolve as in a transaction Bundle (urn:uuid
fullUrls; an entry comes after the entries it references), and across files through the key table
(`import_state`): a source key already imported is skipped and answers for its resource, so a re-run creates
no duplicates and a run stopped half-way resumes.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import gc
import gzip
import hashlib
import json
import multiprocessing
import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar, cast

from sqlalchemy import Table, event, insert, select
from sqlalchemy.orm import Session

from carebridge.contexts import documents, patients
from carebridge.engines import names as names_engine
from carebridge.fhir import generic, import_plan, interactions, references, unit, validate
from carebridge.fhir.import_state import FhirImportFile, FhirImportKey, key_digest
from carebridge.fhir.outcome import FhirError
from carebridge.fhir.registry import Context
from carebridge.fhir.validate_ahead import NONE, START_METHOD, Ahead, Verdicts, import_body
from carebridge.kernel import deferred_rows
from carebridge.kernel.clock import Clock
from carebridge.kernel.db import Database
from carebridge.kernel.errors import Problem
from carebridge.security import Principal

NDJSON_BATCH = 500
SUFFIXES = (".json", ".ndjson", ".ndjson.gz", ".json.gz")
PURPOSE = "operations"
_KEEP_AS_JSON = {405}  # the mapper has no create for the type


@dataclass(frozen=True, slots=True)
class Rejected:
    source: str
    """`file#entry` (Bundle entry index) or `file:line` (NDJSON line, from 1)."""
    resource_type: str
    reason: str


@dataclass(slots=True)
class Report:
    imported: int = 0
    """Created here: into the domain, or kept as JSON (`kept_as_json` counts those)."""
    kept_as_json: int = 0
    skipped: int = 0
    """Already imported by an earlier run (their key is known), or in a file already done."""
    files: int = 0
    files_skipped: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def summary(self) -> str:
        return f"imported {self.imported}, rejected {len(self.rejected)}"

    def add(self, other: Report) -> None:
        self.imported += other.imported
        self.kept_as_json += other.kept_as_json
        self.skipped += other.skipped
        self.files += other.files
        self.files_skipped += other.files_skipped
        self.rejected.extend(other.rejected)


@dataclass(slots=True)
class _Item:
    source: str
    key: str
    resource: dict[str, Any]
    if_none_exist: str | None = None
    aliases: tuple[str, ...] = ()
    """Other names references may use for this entry (`Type/id` beside an absolute fullUrl)."""
    depends: set[str] = field(default_factory=set)
    line: int = 0
    """The NDJSON line (from 1); 0 in a Bundle."""
    found_refs: list[tuple[dict[str, Any], str, str]] | None = None

    @property
    def refs(self) -> list[tuple[dict[str, Any], str, str]]:
        """(node, path, reference as in the file) once per entry, outside `meta` (not created). The reference
        as in the file is kept: a unit done again after a rollback rewrites from it, not from ids that the
        rollback undid."""
        if self.found_refs is None:
            meta = f"{self.resource.get('resourceType')}.meta"
            self.found_refs = [r for r in references.locate(self.resource)
                               if r[1] != meta and not r[1].startswith((meta + ".", meta + "["))]
        return self.found_refs


@dataclass(slots=True)
class _Chunk:
    """A file's next batch as read and parsed, before the database says whether it is still to do."""

    path: Path
    sha: str
    items: list[_Item]
    early: list[tuple[int, Rejected]]
    """Refused while parsing, with their line (0 in a Bundle)."""
    lines_done: int
    first: bool
    last: bool


FIRST = ("Organization", "Location", "Practitioner", "PractitionerRole", "Patient", "Device", "Encounter")
"""NDJSON files of these types go first, in this order: the others reference them (`Patient/<source id>`)."""


def _ndjson_rank(path: Path) -> int:
    """Where an NDJSON file's type (that of its first line) comes in FIRST; the rest after, by name."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4096) if not path.name.endswith(".gz") else gzip.GzipFile(fileobj=fh).read(4096)
    except (OSError, EOFError, gzip.BadGzipFile):
        return len(FIRST)
    found = re.search(rb'"resourceType"\s*:\s*"([A-Za-z]{1,64})"', head.split(b"\n", 1)[0])
    rtype = found.group(1).decode() if found else ""
    return FIRST.index(rtype) if rtype in FIRST else len(FIRST)


def files_in(paths: Iterable[Path]) -> list[Path]:
    """The files named, and those under the folders named: Bundles by name, then NDJSON with the referenced
    types first (a Bulk Data export's Patient file before its Observation file). The same order every run."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES))
            out.extend(p for p in found if ".ndjson" not in p.name)
            out.extend(sorted((p for p in found if ".ndjson" in p.name), key=lambda p: (_ndjson_rank(p), p)))
        else:
            out.append(path)
    return out


def _read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def _key(resource: dict[str, Any], full_url: str | None) -> tuple[str, tuple[str, ...]]:
    """The entry's source key: its fullUrl, else `Type/id`, else its first identifier, else its content."""
    rtype = str(resource.get("resourceType"))
    rid = resource.get("id") if isinstance(resource.get("id"), str) else None
    aliases = (f"{rtype}/{rid}",) if rid else ()
    if full_url:
        return full_url, aliases
    if rid:
        return f"{rtype}/{rid}", ()
    for ident in resource.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("system") and ident.get("value"):
            return f"{rtype}?identifier={ident['system']}|{ident['value']}", ()
    digest = hashlib.sha256(json.dumps(resource, sort_keys=True).encode()).hexdigest()
    return f"{rtype}#sha256:{digest}", ()


def _bundle_items(name: str, bundle: dict[str, Any]) -> Iterator[_Item | Rejected]:
    for i, entry in enumerate(bundle.get("entry") or []):
        source = f"{name}#{i}"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            yield Rejected(source, "?", "the entry has no resource")
            continue
        request = entry.get("request") if isinstance(entry.get("request"), dict) else {}
        method = str(request.get("method", "POST")).upper()
        if method not in ("POST", "PUT"):
            yield Rejected(source, resource["resourceType"], f"request.method {method[:10]} is not an import")
            continue
        full_url = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None
        key, aliases = _key(resource, full_url)
        ine = request.get("ifNoneExist")
        yield _Item(source, key, resource, ine if isinstance(ine, str) else None, aliases)


def _ordered(items: list[_Item]) -> list[_Item]:
    """Each entry after the entries of the batch it references (Kahn); a cycle keeps the rest in file order."""
    names = {n: it.key for it in items for n in (it.key, *it.aliases)}
    for it in items:
        it.depends = {names[ref] for _node, _path, ref in it.refs if ref in names and names[ref] != it.key}
    done: set[str] = set()
    out: list[_Item] = []
    pending = items
    while pending:
        ready = [it for it in pending if it.depends <= done] or pending[:1]
        out.extend(ready)
        done.update(it.key for it in ready)
        ready_ids = {id(it) for it in ready}
        pending = [it for it in pending if id(it) not in ready_ids]
    return out


class Importer:
    """Imports files as one principal; `progress(n)` is told of every n entries handled."""

    def __init__(self, database: Database, principal: Principal, clock: Clock, *,
                 progress: Callable[[int], None] | None = None, validators: int = 0, workers: int = 1,
                 vault: documents.Vault | None = None) -> None:
        """`validators`: processes validating the next batch while this one writes (`fhir.validate_ahead`).
        `workers`: processes writing files side by side where the plan lets them (`fhir.import_plan`; with
        fork only, and never on a test database bound to one connection); they validate in line.
        `vault`: the documents vault, so a DocumentReference with its bytes is stored as a document (without
        it, the document is kept as JSON)."""
        self.database, self.principal, self.clock, self.vault = database, principal, clock, vault
        self.progress = progress or (lambda n: None)
        self.validators, self.workers = validators, workers
        self.report = Report()
        self._new_keys: list[dict[str, Any]] = []
        self._skipping: str | None = None
        self._resume = 0

    # --- files ----------------------------------------------------------------------------------------------

    def run(self, paths: Iterable[Path]) -> Report:
        files = files_in(paths)
        with _program_frozen():
            if self.workers > 1 and len(files) > 1 and not self.database.bound and START_METHOD == "fork":
                self._in_parallel(files)
            else:
                self._in_order(files)
        return self.report

    def _in_order(self, files: list[Path]) -> None:
        if not files:
            return
        with Ahead(self.validators) as ahead:
            chunks = (c for path in files for c in self._chunks(path))
            for chunk, verdicts in ahead.pipeline(chunks, _bodies):
                self._chunk(chunk, verdicts)

    def _in_parallel(self, files: list[Path]) -> None:
        """The files outlined by the worker processes, planned into waves (`fhir.import_plan`), each wave's
        files written by the workers side by side and a lone file here, in order, with validation ahead.
        Each file is a worker's whole task, so the bar moves a file at a time; reports merge in file order."""
        global _PARENT  # what a forked worker inherits: set before the pool forks
        _PARENT = self
        with ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context(START_METHOD),
                                 initializer=_worker_started) as pool:
            in_order: list[Path] = []  # waves of one file in a row: one pass with one validating worker
            for wave in import_plan.waves(pool.map(outline, files)):
                if len(wave) == 1:
                    in_order.append(wave[0].path)
                    continue
                self._in_order(in_order)
                in_order = []
                jobs = [pool.submit(_worker_import, o.path) for o in wave]
                for done in concurrent.futures.as_completed(jobs):
                    self.progress(done.result()[1])
                for job in jobs:
                    self.report.add(job.result()[0])
            self._in_order(in_order)

    def import_file(self, path: Path) -> None:
        for chunk in self._chunks(path):
            self._chunk(chunk, NONE)

    def _chunks(self, path: Path) -> Iterator[_Chunk]:
        """The file read and parsed batch by batch, touching no database (so it can run a batch ahead)."""
        name = str(path)
        try:
            data = _read_bytes(path)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            self.report.rejected.append(Rejected(name, "?", f"cannot read the file: {exc}"[:300]))
            return
        sha = hashlib.sha256(data).hexdigest()
        if ".ndjson" in path.name:
            yield from _ndjson_chunks(path, sha, data)
        else:
            yield _json_chunk(path, sha, data)

    def _chunk(self, chunk: _Chunk, verdicts: Verdicts) -> None:
        if chunk.first and not self._started(chunk):
            self._skipping = chunk.sha
            return
        if self._skipping == chunk.sha:
            return
        items = [it for it in chunk.items if it.line > self._resume or not it.line]
        early = [r for line, r in chunk.early if line > self._resume or not line]
        if not (items or early or chunk.last):
            return  # lines done by an earlier run
        self.progress(len(early))
        self._batch(chunk.sha, items, early, lines_done=chunk.lines_done, finish=chunk.last, verdicts=verdicts)

    def _started(self, chunk: _Chunk) -> bool:
        """False if an earlier run finished the file; otherwise its state row exists and `_resume` is set."""
        self._skipping = None
        with self.database.unit_of_work() as session:
            state = session.scalar(select(FhirImportFile).where(FhirImportFile.sha256 == chunk.sha))
            if state is not None and state.status == "done":
                self.report.files_skipped += 1
                return False
            if state is None:
                state = FhirImportFile(sha256=chunk.sha, path=str(chunk.path)[-1000:], status="running",
                                       lines_done=0, imported=0, rejected=0, started_at=self.clock.now())
                session.add(state)
            self._resume = state.lines_done
        self.report.files += 1
        return True

    # --- one unit of work -----------------------------------------------------------------------------------

    def _batch(self, sha: str, items: list[_Item], rejected: list[Rejected], *, lines_done: int,
               finish: bool = True, verdicts: Verdicts = NONE) -> None:
        """One unit of work; first without a SAVEPOINT per entry, again with them if a failure left writes."""
        counts = (self.report.imported, self.report.kept_as_json, self.report.skipped)
        early = len(rejected)
        for safe in (False, True):
            try:
                self._unit(sha, items, rejected, lines_done=lines_done, finish=finish, safe=safe,
                           verdicts=verdicts)
                break
            except _Unsafe:  # the unit of work rolled back: do it again, each entry in its own SAVEPOINT
                self.report.imported, self.report.kept_as_json, self.report.skipped = counts
                del rejected[early:]
        self.progress(len(items))
        self.report.rejected.extend(rejected)

    def _unit(self, sha: str, items: list[_Item], rejected: list[Rejected], *, lines_done: int, finish: bool,
              safe: bool, verdicts: Verdicts) -> None:
        before = self.report.imported
        self._new_keys = []
        stop: Callable[[], None] | None = None
        try:
            with self.database.unit_of_work() as session:
                if not safe:  # queued rows only in a fast unit; a re-run (one SAVEPOINT per entry) uses ORM objects
                    stop = deferred_rows.enable(session)
                self._unit_body(session, sha, items, rejected, before, lines_done=lines_done, finish=finish,
                                safe=safe, verdicts=verdicts)
        finally:
            if stop is not None:
                stop()

    def _unit_body(self, session: Session, sha: str, items: list[_Item], rejected: list[Rejected], before: int, *,
                   lines_done: int, finish: bool, safe: bool, verdicts: Verdicts) -> None:
        _hold_loaded(session)
        patients.remember_policy_facts(session)
        writes = _WriteCounter(session)
        ctx = Context(session=session, principal=self.principal, now=self.clock.now(), purpose=PURPOSE,
                      vault=self.vault)
        known = _known(session, items)
        mapping: dict[str, str] = {}
        _resolved(session, items, mapping)
        failed: set[str] = set()
        try:
            for it in _ordered(items):
                outcome = self._entry(ctx, it, known, mapping, failed, _Attempt(ctx, writes, safe), verdicts)
                if isinstance(outcome, Rejected):
                    rejected.append(outcome)
                    failed.update((it.key, *it.aliases))
        finally:
            writes.remove()
        state = session.scalar(select(FhirImportFile).where(FhirImportFile.sha256 == sha))  # flushes the unit
        if self._new_keys:  # plain rows in one statement: nothing reads them back through the session
            session.execute(insert(_KEYS), self._new_keys)
        self._new_keys = []
        if state is not None:
            state.imported += self.report.imported - before
            state.rejected += len(rejected)
            state.lines_done = lines_done
            if finish:
                state.status = "done"
                state.finished_at = ctx.now

    def _entry(self, ctx: Context, it: _Item, known: dict[str, _Known], mapping: dict[str, str],
               failed: set[str], attempt: _Attempt, verdicts: Verdicts) -> Rejected | None:
        rtype = str(it.resource["resourceType"])
        digest = key_digest(it.key)
        row = known.get(digest)
        if row is not None:
            for name in (it.key, *it.aliases):
                mapping[name] = f"{row.resource_type}/{row.resource_id}"
            self.report.skipped += 1
            return None
        body = import_body(it.resource)  # shares its nested dicts with the entry: the nodes below are in it
        for node, _path, ref in it.refs:
            node["reference"] = mapping.get(ref, ref)
        for _node, path, ref in it.refs:
            if ref in failed and ref not in mapping:
                return Rejected(it.source, rtype, f"{path} references an entry that was rejected")
        for _node, path, ref in it.refs:
            if ref.startswith("urn:uuid:") and ref not in mapping:
                return Rejected(it.source, rtype, f"{path} references {ref[:80]}, which is in no file imported")
        verdict = verdicts.of(it.source) if verdicts.known(it.source) else validate.verdict(rtype, body)
        try:
            with validate.trusting(body, verdict):  # validated once: by the worker, or here for mapper and store
                stored_type, stored_id, as_json = self._create(ctx, rtype, body, it.if_none_exist, attempt)
        except (FhirError, Problem) as exc:
            return Rejected(it.source, rtype, _reason(exc))
        for name in (it.key, *it.aliases):
            mapping[name] = f"{stored_type}/{stored_id}"
        known[digest] = _Known(stored_type, stored_id)  # the same key twice in one file: the second is the first
        self._new_keys.append({"digest": digest, "source": it.key[:300], "resource_type": stored_type,
                               "resource_id": stored_id, "created_at": ctx.now})  # written at the unit's end
        self.report.imported += 1
        self.report.kept_as_json += as_json
        return None

    def _create(self, ctx: Context, rtype: str, body: dict[str, Any], if_none_exist: str | None,
                attempt: _Attempt) -> tuple[str, str, bool]:
        try:
            result = attempt.run(lambda: interactions.create(ctx, rtype, body, if_none_exist=if_none_exist))
            return rtype, str(result.id), False
        except FhirError as exc:
            if not _keep_as_json(exc) or interactions.SERVED.mapped(rtype) is None:
                raise
        stored = attempt.run(lambda: generic.GenericStore(rtype).create(ctx, body, None, None))
        return rtype, str(stored.body["id"]), True


class _Unsafe(Exception):
    """A refused create had already written: only rolling back undoes it."""


class _WriteCounter:
    """Counts the INSERT/UPDATE/DELETE statements the unit of work's connection runs, and the rows added to
    the session (written at a later flush)."""

    def __init__(self, session: Session) -> None:
        self.count = self._attached = 0
        self.session = session
        self.connection = session.connection()
        event.listen(self.connection, "before_cursor_execute", self._seen)
        event.listen(session, "before_attach", self._attaching)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            self.count += 1

    def _attaching(self, _session: Session, _instance: object) -> None:
        self._attached += 1

    @property
    def attached(self) -> int:
        return self._attached + deferred_rows.queued(self.session)

    def remove(self) -> None:
        event.remove(self.connection, "before_cursor_execute", self._seen)
        event.remove(self.session, "before_attach", self._attaching)


T = TypeVar("T")


@dataclass(slots=True)
class _Attempt:
    """One create attempt. Safe: inside a SAVEPOINT. Fast: none; a refusal that wrote nothing leaves the session
    as it was (its success audit entries are dropped, as a SAVEPOINT rollback would), one that wrote raises
    `_Unsafe` so the unit of work is rolled back and done again safely. Most refusals (validation, codes, a
    missing create) come before any write, so the SAVEPOINT pair per entry is saved."""

    ctx: Context
    writes: _WriteCounter
    safe: bool

    def run(self, fn: Callable[[], T]) -> T:
        session = self.ctx.session
        if self.safe:
            work = unit.begin(session)
            try:
                out = fn()
            except (FhirError, Problem):
                work.rollback()
                raise
            work.commit()
            return out
        if session.dirty or session.deleted:  # rare (an encounter closed): a change of fn's must stand out below
            session.flush()
        pending: list[dict[str, Any]] = session.info.setdefault(unit.AUDIT_PENDING, [])
        mark, before, attached = len(pending), self.writes.count, self.writes.attached
        try:
            return fn()
        except (FhirError, Problem):
            # Earlier entries' rows wait unflushed (they go in one INSERT per table), so any statement run here
            # may be theirs: conservatively, a refusal after any write is done again safely.
            if (self.writes.count != before or self.writes.attached != attached or session.dirty
                    or session.deleted):
                raise _Unsafe() from None
            pending[mark:] = [e for e in pending[mark:] if e.get("outcome") != "success"]
            raise


def _bodies(chunk: _Chunk) -> list[tuple[str, dict[str, Any]]]:
    return [(it.source, it.resource) for it in chunk.items]


def _json_chunk(path: Path, sha: str, data: bytes) -> _Chunk:
    name = str(path)

    def single(rejected: Rejected) -> _Chunk:
        return _Chunk(path, sha, [], [(0, rejected)], 0, first=True, last=True)
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        return single(Rejected(name, "?", f"not JSON: {exc}"[:300]))
    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        return single(Rejected(name, "?", "not a FHIR resource or Bundle"))
    if body["resourceType"] == "Bundle":
        found = list(_bundle_items(name, body))
    else:
        key, aliases = _key(body, None)
        found = [_Item(name, key, body, None, aliases)]
    return _Chunk(path, sha, [i for i in found if isinstance(i, _Item)],
                  [(0, r) for r in found if isinstance(r, Rejected)], 0, first=True, last=True)


def _ndjson_chunks(path: Path, sha: str, data: bytes) -> Iterator[_Chunk]:
    """Batches of NDJSON_BATCH resources; the lines an earlier run did are dropped when the batch is done."""
    name = str(path)
    batch: list[_Item] = []
    early: list[tuple[int, Rejected]] = []
    first = True
    lines = data.decode("utf-8", errors="replace").splitlines()
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            resource = json.loads(line)
        except ValueError as exc:
            early.append((n, Rejected(f"{name}:{n}", "?", f"not JSON: {exc}"[:300])))
            continue
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            early.append((n, Rejected(f"{name}:{n}", "?", "not a FHIR resource")))
            continue
        key, aliases = _key(resource, None)
        batch.append(_Item(f"{name}:{n}", key, resource, None, aliases, line=n))
        if len(batch) >= NDJSON_BATCH:
            yield _Chunk(path, sha, batch, early, n, first=first, last=False)
            batch, early, first = [], [], False
    yield _Chunk(path, sha, batch, early, len(lines), first=first, last=True)


@contextlib.contextmanager
def _program_frozen() -> Iterator[None]:
    """The objects alive when the import starts (the program: R4 model classes, mappers, SQLAlchemy's
    metadata) are left out of the collector's full passes until it ends. An import allocates fast enough to
    set off a full collection every few hundred entries, and each walked the whole program: a quarter of a
    second apiece, a third of the writer's time on the Synthea samples. Only what this call froze is thawed
    (a process that froze its own heap, as the service does after loading its knowledge, keeps it frozen)."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


_PARENT: Importer | None = None
_KEYS = cast(Table, FhirImportKey.__table__)


def _worker_started() -> None:
    """A forked worker's own connections: the parent's pooled ones stay the parent's."""
    assert _PARENT is not None  # noqa: S101 - set before the pool forks
    _PARENT.database.engine.dispose(close=False)


def _worker_import(path: Path) -> tuple[Report, int]:
    """One file, written by a worker as the parent would; its report and the entries it handled."""
    parent = _PARENT
    assert parent is not None  # noqa: S101
    handled = 0

    def count(n: int) -> None:
        nonlocal handled
        handled += n
    child = Importer(parent.database, parent.principal, parent.clock, progress=count, vault=parent.vault)
    child.import_file(path)
    return child.report, handled


def outline(path: Path) -> import_plan.Outline:
    """What the plan needs of a file, from the same parse the import makes (so the same keys and references)."""
    if ".ndjson" in path.name:
        return import_plan.Outline(path, alone=True)
    try:
        data = _read_bytes(path)
    except (OSError, EOFError, gzip.BadGzipFile):
        return import_plan.Outline(path, alone=True)
    sha = hashlib.sha256(data).hexdigest()
    chunk = _json_chunk(path, sha, data)
    names, refs, types, searched = {f"file:{sha}"}, set(), set(), set()
    for it in chunk.items:
        rtype = str(it.resource["resourceType"])
        names.update((it.key, *it.aliases))
        types.add(rtype)
        if it.if_none_exist:
            searched.add(rtype)
        for ident in it.resource.get("identifier") or []:
            if isinstance(ident, dict):
                names.add(f"identifier:{rtype}|{ident.get('system')}|{ident.get('value')}")
        if rtype == "Patient":
            names.update(_patient_likeness(it.resource))
        for _node, _path, ref in it.refs:
            if ref.startswith("#"):
                continue
            refs.add(ref)
            if "?" in ref:
                searched.add(ref.split("?", 1)[0].rsplit("/", 1)[-1])
    return import_plan.Outline(path, names=frozenset(names), refs=frozenset(refs - names),
                               types=frozenset(types), searched=frozenset(searched))


def _patient_likeness(resource: dict[str, Any]) -> set[str]:
    """Keys two patients the duplicate check could match share: each name's folded family and birth date (the
    check also wants the phone; leaving it out only sends more files in order)."""
    birth = str(resource.get("birthDate", ""))
    out = set()
    for name in resource.get("name") or []:
        if isinstance(name, dict) and isinstance(name.get("family"), str):
            out.add(f"patient:{names_engine.fold(name['family'])[:100]}|{birth}")  # as patients folds it
    return out


def _hold_loaded(session: Session) -> None:
    """Keeps every row the unit of work loads strongly referenced until it ends.

    The session's identity map holds rows weakly, so the patient a Bundle's entries all name was read again
    from the database by every entry's policy check (a fifth of the import's time); held, it is read once.
    """
    held: list[object] = session.info.setdefault("fhir_import_held", [])
    event.listen(session, "loaded_as_persistent", lambda _s, obj: held.append(obj))
    event.listen(session, "pending_to_persistent", lambda _s, obj: held.append(obj))


def _keep_as_json(exc: FhirError) -> bool:
    return exc.status in _KEEP_AS_JSON or (exc.status == 422 and any(
        i.get("code") == "code-invalid" for i in exc.issues))


def _reason(exc: FhirError | Problem) -> str:
    if isinstance(exc, FhirError):
        issue = exc.issues[0] if exc.issues else {}
        where = ", ".join(issue.get("expression", []))
        text = f"{exc.status} {issue.get('code', '')}: {issue.get('diagnostics', '')}"
        return (f"{text} ({where})" if where else text)[:500]
    return f"{exc.status} {exc.slug}: {exc.detail}"[:500]


class _Known(NamedTuple):
    resource_type: str
    resource_id: str


def _known(session: Session, items: list[_Item]) -> dict[str, _Known]:
    digests = [key_digest(it.key) for it in items]
    out: dict[str, _Known] = {}
    k = FhirImportKey
    for start in range(0, len(digests), 500):
        chunk = digests[start:start + 500]
        rows = session.execute(select(k.digest, k.resource_type, k.resource_id).where(k.digest.in_(chunk)))
        out.update((digest, _Known(rtype, rid)) for digest, rtype, rid in rows)
    return out


def _resolved(session: Session, items: list[_Item], mapping: dict[str, str]) -> None:
    """References to entries of earlier files or runs (`urn:uuid:…`, `Patient/<source id>`), from the key table:
    every reference of the unit's entries at once, before any is created, in one query per 500 (the key table
    changes only at the unit's end, and an entry of this unit lands in `mapping` when it is created), so no
    entry's lookup flushes the rows the unit has pending."""
    own = {n for it in items for n in (it.key, *it.aliases)}
    wanted = list({ref for it in items for _node, _path, ref in it.refs} - own)
    for start in range(0, len(wanted), 500):
        digests = {key_digest(w): w for w in wanted[start:start + 500]}
        for r in session.scalars(select(FhirImportKey).where(FhirImportKey.digest.in_(list(digests)))):
            mapping[digests[r.digest]] = f"{r.resource_type}/{r.resource_id}"


__all__ = ["Importer", "Rejected", "Report", "files_in"]
