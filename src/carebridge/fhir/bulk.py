"""FHIR Bulk Data `$export` (system, Patient and Group level): asynchronous NDJSON, with state in the database.

Kick-off (`Prefer: respond-async`) records a job and answers 202 with `Content-Location` (the status URL); the
export worker (`ExportWorker`, running in every app process, woken at kick-off and polling the table) claims it
with a conditional UPDATE, so exactly one process runs it and any process answers the polls: 202 with
`X-Progress` while it runs, then 200 with the manifest; the NDJSON files are rows too. DELETE on the status URL
cancels (a running job notices at its next progress write and stops) and removes the files.

Every exported resource is read through its mapper, as the requester (their role, organization, consent and
SMART scopes), and audited like any read: per patient the export is `Patient/{id}/$everything` (`_type`,
`_since`), so what the requester may not see is left out and a type refused is an OperationOutcome in the
manifest's `error` list. A system export adds the resource types that are about no patient (Organization,
Practitioner, Location…).

Groups: CareBridge has no Group resource. `Group/{id}` is an organization's patients: `id` is the organization's
id, and the requester must belong to it (the policy reaches only their own organization's patients anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import delete, event, select, update
from sqlalchemy.orm import Session

from carebridge.contexts.identity import CurrentPrincipal
from carebridge.contexts.patients import PurposeOfUse
from carebridge.fhir import everything, interactions, outcome
from carebridge.fhir.api import FhirRoute, base_url
from carebridge.fhir.bulk_state import FhirExportFile, FhirExportJob
from carebridge.fhir.outcome import FhirError, bad_param
from carebridge.fhir.registry import Context, Query
from carebridge.fhir.search import MAX_COUNT, instant_param
from carebridge.kernel.background import BackgroundLoop
from carebridge.kernel.clock import Clock
from carebridge.kernel.db import Database
from carebridge.kernel.deps import ClockDep, SessionDep
from carebridge.kernel.errors import Problem
from carebridge.security import Principal, Role

log = logging.getLogger("carebridge.fhir.bulk")
NDJSON = "application/fhir+ndjson"
OUTPUT_FORMATS = {NDJSON, "application/ndjson", "ndjson"}
LINES_PER_FILE = 1_000
MAX_PATIENTS = 10_000
PROGRESS_EVERY = 20  # patients between progress writes (and cancellation checks)
RETRY_AFTER = "2"
KEEP_FOR = timedelta(days=1)
"""Finished jobs (and their files) are removed this long after they finish."""
NOT_EXPORTED = frozenset({"AuditEvent", "Slot", "Schedule"})
"""Types a system export leaves out: the audit trail has its own export; free slots are computed, not data."""
_DEFAULT_PURPOSE = {Role.patient: PurposeOfUse.patient_request, Role.caregiver: PurposeOfUse.family_request}


# --- kick-off, status, files -------------------------------------------------------------------------------

router = APIRouter(prefix="/fhir/R4", tags=["fhir"], route_class=FhirRoute)
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Missing `Prefer: respond-async`, an unknown `_type`, a bad `_since` or output format."},
    401: {"description": "Not signed in (OperationOutcome)."},
    403: {"description": "Refused (a Group of another organization)."},
    404: {"description": "No such job, file or Group."}}
Prefer = Annotated[str | None, Header(max_length=200)]


def _types(value: str | None) -> list[str] | None:
    if value is None or not value.strip():
        return None
    types = sorted({t.strip() for t in value.split(",") if t.strip()})
    if len(types) > 50:
        raise bad_param("_type", "at most 50 resource types")
    for t in types:
        try:
            interactions.mapper(t)
        except FhirError:
            raise bad_param("_type", f"{t[:64]!r} is not a resource type this server has") from None
    return types


def _kickoff(request: Request, session: Session, principal: Principal, clock: Clock, kind: str, prefer: str | None,
             group_id: uuid.UUID | None = None) -> Response:
    if prefer is None or "respond-async" not in prefer.lower():
        raise FhirError(400, "a bulk export is asynchronous: send `Prefer: respond-async`", code="invalid",
                        expression=["Prefer"])
    params = request.query_params
    unknown = set(params) - {"_type", "_since", "_outputFormat", "_format"}
    if unknown:
        raise bad_param(sorted(unknown)[0][:64], "not a $export parameter here; use _type, _since, _outputFormat")
    fmt = params.get("_outputFormat")
    if fmt is not None and fmt not in OUTPUT_FORMATS:
        raise bad_param("_outputFormat", "only application/fhir+ndjson is produced")
    since = None
    if params.get("_since"):
        test = instant_param("_since", params["_since"])
        since = test.low
    now = clock.now()
    job = FhirExportJob(
        status="queued", kind=kind, group_id=group_id, types=_types(params.get("_type")), since=since,
        request_url=str(request.url)[:2000], base_url=base_url(request)[:500], user_id=principal.user_id,
        role=principal.role.value, username=principal.username[:100], organization_id=principal.organization_id,
        patient_id=principal.patient_id, scopes=principal.scope, progress="queued", errors=[],
        purpose=_DEFAULT_PURPOSE.get(principal.role, PurposeOfUse.treatment).value, created_at=now)
    session.add(job)
    session.flush()
    worker: ExportWorker | None = getattr(request.app.state, "fhir_exporter", None)
    if worker is not None:
        worker.wake_after_commit(session)
    return Response(status_code=202, headers={"Content-Location": f"{base_url(request)}/$export-status/{job.id}"})


@router.get("/$export", summary="FHIR Bulk Data system export (asynchronous NDJSON)", status_code=202,
            responses=_ERRORS)
def system_export(request: Request, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                  prefer: Prefer = None) -> Response:
    return _kickoff(request, session, principal, clock, "system", prefer)


@router.get("/Patient/$export", summary="FHIR Bulk Data export of every patient the caller may see",
            status_code=202, responses=_ERRORS)
def patient_export(request: Request, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                   prefer: Prefer = None) -> Response:
    return _kickoff(request, session, principal, clock, "patient", prefer)


@router.get("/Group/{group_id}/$export", summary="FHIR Bulk Data export of a Group (an organization's patients)",
            status_code=202, responses=_ERRORS)
def group_export(group_id: str, request: Request, session: SessionDep, principal: CurrentPrincipal,
                 clock: ClockDep, prefer: Prefer = None) -> Response:
    try:
        gid = uuid.UUID(group_id)
    except ValueError:
        raise outcome.not_found(f"no Group {group_id[:64]!r}") from None
    if principal.organization_id != gid:
        raise FhirError(403, "a Group here is an organization's patients; you may export only your own "
                             "organization's Group", code="forbidden")
    return _kickoff(request, session, principal, clock, "group", prefer, gid)


def _own_job(session: Session, principal: Principal, job_id: str) -> FhirExportJob:
    try:
        jid = uuid.UUID(job_id)
    except ValueError:
        raise outcome.not_found("no such export job") from None
    job = session.get(FhirExportJob, jid)
    if job is None or job.user_id != principal.user_id or job.status == "cancelled":
        raise outcome.not_found("no such export job (it finished long ago, was cancelled, or is not yours)")
    return job


@router.get("/$export-status/{job_id}", summary="Bulk export status: 202 while running, then the manifest",
            responses=_ERRORS)
def export_status(job_id: str, request: Request, session: SessionDep, principal: CurrentPrincipal) -> Response:
    job = _own_job(session, principal, job_id)
    if job.status in ("queued", "running"):
        return Response(status_code=202, headers={"X-Progress": job.progress[:100], "Retry-After": RETRY_AFTER})
    files = session.scalars(select(FhirExportFile).where(FhirExportFile.job_id == job.id)
                            .order_by(FhirExportFile.resource_type, FhirExportFile.seq)).all()
    base = base_url(request)

    def url(f: FhirExportFile) -> str:
        return f"{base}/$export-file/{f.id}"
    manifest = {
        "transactionTime": (job.started_at or job.created_at).isoformat().replace("+00:00", "Z"),
        "request": job.request_url, "requiresAccessToken": True,
        "output": [{"type": f.resource_type, "url": url(f), "count": f.count} for f in files
                   if f.resource_type != "OperationOutcome"],
        "error": [{"type": "OperationOutcome", "url": url(f), "count": f.count} for f in files
                  if f.resource_type == "OperationOutcome"],
    }
    return JSONResponse(manifest, headers={"Expires": (job.finished_at or job.created_at).isoformat()})


@router.delete("/$export-status/{job_id}", summary="Cancel a bulk export (or delete its files)", status_code=202,
               responses=_ERRORS)
def cancel_export(job_id: str, session: SessionDep, principal: CurrentPrincipal) -> Response:
    job = _own_job(session, principal, job_id)
    session.execute(delete(FhirExportFile).where(FhirExportFile.job_id == job.id))
    session.delete(job)
    return Response(status_code=202)


@router.get("/$export-file/{file_id}", summary="One NDJSON file of a finished bulk export", responses=_ERRORS)
def export_file(file_id: str, session: SessionDep, principal: CurrentPrincipal) -> Response:
    try:
        fid = uuid.UUID(file_id)
    except ValueError:
        raise outcome.not_found("no such export file") from None
    f = session.get(FhirExportFile, fid)
    if f is None:
        raise outcome.not_found("no such export file")
    _own_job(session, principal, str(f.job_id))
    return Response(f.content, media_type=NDJSON)


# --- running a job ---------------------------------------------------------------------------------------------

class Cancelled(Exception):
    """The job row disappeared while it ran (DELETE on its status URL)."""


@dataclass(slots=True)
class _Output:
    lines: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add(self, body: dict[str, Any]) -> None:
        self.lines.setdefault(str(body.get("resourceType")), []).append(json.dumps(body, separators=(",", ":")))


def _principal(job: FhirExportJob) -> Principal:
    return Principal(user_id=job.user_id, role=Role(job.role), username=job.username,
                     organization_id=job.organization_id, patient_id=job.patient_id, scope=job.scopes)


def _patients(ctx: Context) -> list[str]:
    """The patients the requester may see (the Patient mapper's search decides), at most MAX_PATIENTS."""
    m = interactions.mapper("Patient")
    ids: list[str] = []
    cursor: str | None = None
    while len(ids) < MAX_PATIENTS:
        page = m.search(ctx, Query({}), MAX_COUNT, cursor)
        ids.extend(str(s.body["id"]) for s in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    return ids


def _error(out: _Output, text: str) -> None:
    out.errors.append(json.dumps(outcome.outcome([outcome.issue(text[:500], code="processing")]),
                                 separators=(",", ":")))


def _patient_part(ctx: Context, job: FhirExportJob, pid: str, out: _Output) -> None:
    params: dict[str, str] = {}
    if job.types:
        params["_type"] = ",".join(job.types)
    try:
        bundle = everything.everything(ctx, job.base_url, pid, params)
    except (FhirError, Problem) as exc:
        text = exc.issues[0]["diagnostics"] if isinstance(exc, FhirError) else exc.detail
        _error(out, f"Patient/{pid} left out: {text}")
        return
    for e in bundle["entry"]:
        body = e["resource"]
        if e.get("search", {}).get("mode") == "outcome":
            for i in body.get("issue", []):
                _error(out, f"Patient/{pid}: {i.get('diagnostics', '')}")
            continue
        if job.types is not None and body.get("resourceType") not in job.types:
            continue
        if job.since is not None and not _updated_since(body, job.since):
            continue
        out.add(body)


def _updated_since(body: dict[str, Any], since: datetime) -> bool:
    text = (body.get("meta") or {}).get("lastUpdated")
    if not isinstance(text, str):
        return True
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) >= since
    except ValueError:
        return True


def _other_types(ctx: Context, job: FhirExportJob, out: _Output) -> None:
    """A system export's resources about no patient: each type searched through its mapper, page by page."""
    for m in interactions.SERVED.all():
        if m.patient_param is not None or m.type in ("Patient", *NOT_EXPORTED):
            continue
        if job.types is not None and m.type not in job.types:
            continue
        cursor: str | None = None
        try:
            for _ in range(MAX_PATIENTS // MAX_COUNT):
                page = m.search(ctx, Query({}), MAX_COUNT, cursor)
                for s in page.items:
                    if job.since is None or s.last_updated >= job.since:
                        out.add(s.body)
                cursor = page.next_cursor
                if cursor is None:
                    break
        except (FhirError, Problem) as exc:
            text = exc.issues[0]["diagnostics"] if isinstance(exc, FhirError) else exc.detail
            _error(out, f"{m.type} left out: {text}")


class ExportWorker(BackgroundLoop):
    """Claims queued jobs and runs them; `run_once` is what tests call, `start` runs it in the app's loop."""

    def __init__(self, database: Database, clock: Clock, *, poll_seconds: float = 5.0) -> None:
        self.database, self.clock, self.poll_seconds = database, clock, poll_seconds
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def wake_after_commit(self, session: Session) -> None:
        """Runs the job at once instead of at the next poll (after the kick-off's transaction commits)."""
        loop, wake = self._loop, self._wake
        if loop is None or wake is None:
            return
        event.listen(session, "after_commit", lambda _s: loop.call_soon_threadsafe(wake.set), once=True)

    def _claim(self) -> uuid.UUID | None:
        with self.database.unit_of_work() as session:
            job_id = session.scalar(select(FhirExportJob.id).where(FhirExportJob.status == "queued")
                                    .order_by(FhirExportJob.created_at).limit(1))
            if job_id is None:
                return None
            claimed = session.execute(
                update(FhirExportJob).where(FhirExportJob.id == job_id, FhirExportJob.status == "queued")
                .values(status="running", started_at=self.clock.now(), progress="started")
                .execution_options(synchronize_session=False))
            return job_id if getattr(claimed, "rowcount", 0) == 1 else None

    def run_once(self) -> int:
        """Runs every queued job; the number run. Also removes jobs finished more than KEEP_FOR ago."""
        self._expire()
        done = 0
        while (job_id := self._claim()) is not None:
            self.run_job(job_id)
            done += 1
        return done

    def _expire(self) -> None:
        with self.database.unit_of_work() as session:
            old = list(session.scalars(select(FhirExportJob.id).where(
                FhirExportJob.finished_at < self.clock.now() - KEEP_FOR)))
            if old:
                session.execute(delete(FhirExportFile).where(FhirExportFile.job_id.in_(old)))
                session.execute(delete(FhirExportJob).where(FhirExportJob.id.in_(old)))

    def _progress(self, job_id: uuid.UUID, text: str) -> None:
        with self.database.unit_of_work() as session:
            changed = session.execute(update(FhirExportJob).where(FhirExportJob.id == job_id)
                                      .values(progress=text[:200]).execution_options(synchronize_session=False))
            if getattr(changed, "rowcount", 0) != 1:
                raise Cancelled()

    def _ctx(self, session: Session, principal: Principal, job: FhirExportJob) -> Context:
        return Context(session=session, principal=principal, now=self.clock.now(), purpose=job.purpose)

    def run_job(self, job_id: uuid.UUID) -> None:
        out = _Output()
        try:
            with self.database.unit_of_work() as session:
                job = session.get(FhirExportJob, job_id)
                if job is None:
                    return
                session.expunge(job)
            principal = _principal(job)
            # one unit of work per slice of patients, none open while progress is written (SQLite has one writer)
            with self.database.unit_of_work() as session:
                patients = _patients(self._ctx(session, principal, job))
            for start in range(0, len(patients), PROGRESS_EVERY):
                self._progress(job_id, f"{start} of {len(patients)} patients")
                with self.database.unit_of_work() as session:
                    ctx = self._ctx(session, principal, job)
                    for pid in patients[start:start + PROGRESS_EVERY]:
                        _patient_part(ctx, job, pid, out)
            if job.kind == "system":
                self._progress(job_id, f"{len(patients)} patients; the resources about no patient")
                with self.database.unit_of_work() as session:
                    _other_types(self._ctx(session, principal, job), job, out)
        except Cancelled:
            return
        except (FhirError, Problem) as exc:
            text = exc.issues[0]["diagnostics"] if isinstance(exc, FhirError) else exc.detail
            _error(out, f"the export stopped: {text}")
        self._finish(job_id, out)

    def _finish(self, job_id: uuid.UUID, out: _Output) -> None:
        with self.database.unit_of_work() as session:
            job = session.get(FhirExportJob, job_id)
            if job is None:
                return  # cancelled at the last moment
            groups = [*sorted(out.lines.items()), ("OperationOutcome", out.errors)]
            for rtype, lines in groups:
                for seq, start in enumerate(range(0, len(lines), LINES_PER_FILE)):
                    chunk = lines[start:start + LINES_PER_FILE]
                    session.add(FhirExportFile(job_id=job_id, resource_type=rtype, seq=seq, count=len(chunk),
                                               content="\n".join(chunk) + "\n"))
            total = sum(len(v) for v in out.lines.values())
            job.status, job.finished_at = "done", self.clock.now()
            job.progress = f"done: {total} resources"

    async def run_forever(self) -> None:
        assert self._wake is not None  # noqa: S101 - set by start()
        while True:
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:
                log.exception("running bulk exports failed; trying again later")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            self._wake.clear()

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = self._loop.create_task(self.run_forever())


__all__ = ["ExportWorker", "router"]
