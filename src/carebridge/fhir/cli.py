"""`carebridge import-fhir PATH…`: the importer with a progress bar, its rejections and a summary line."""

from __future__ import annotations

import os
import secrets
import uuid
from datetime import datetime
from pathlib import Path

import typer

from carebridge.contexts import documents, identity, practitioners
from carebridge.contexts.audit import service as audit_service
from carebridge.fhir.importer import Importer, files_in
from carebridge.kernel.clock import SystemClock
from carebridge.kernel.db import Database
from carebridge.kernel.keys import load_or_create_keys
from carebridge.security import Principal, Role
from carebridge.settings import get_settings

IMPORT_USER_ID = uuid.UUID("00000000-0000-5000-8000-0000000f1e00")
"""The audit trail's `user_id` for everything the importer does (no user row: it is the system)."""
IMPORT_ORGANIZATION = "FHIR import"


def import_principal(db: Database, organization_id: uuid.UUID, now: datetime) -> Principal:
    """An administrator of the organization the imported patients are registered at.

    Record rows name the user who wrote them, so the importer has an account: an admin of the organization,
    deactivated at once (nobody can sign in as it) and reused by later runs.
    """
    system = Principal(user_id=IMPORT_USER_ID, role=Role.admin, username="fhir-import",
                       organization_id=organization_id)
    username = f"fhir-import-{organization_id.hex[:12]}"
    with db.unit_of_work() as session:
        cursor: str | None = None
        while True:
            page = identity.list_users(session, system, cursor=cursor, limit=200, role=Role.admin)
            found = next((u for u in page.items if u.username == username), None)
            if found is not None or page.next_cursor is None:
                break
            cursor = page.next_cursor
        if found is None:
            found = identity.create_staff(session, system, data=identity.StaffCreate(
                username=username, password=secrets.token_urlsafe(24), full_name="FHIR import",
                role=Role.admin.value), now=now)
            identity.deactivate_user(session, system, user_id=found.id, now=now)
    return Principal(user_id=found.id, role=Role.admin, username=username, organization_id=organization_id)


def import_organization(db: Database, organization: uuid.UUID | None) -> uuid.UUID:
    """The organization named, or the one called "FHIR import" (created the first time)."""
    with db.unit_of_work() as session:
        system = Principal(user_id=IMPORT_USER_ID, role=Role.admin, username="fhir-import")
        if organization is not None:
            if not practitioners.organization_exists(session, organization):
                raise typer.BadParameter(f"no organization {organization}", param_hint="--organization")
            return organization
        page = practitioners.list_organizations(session, system, name=IMPORT_ORGANIZATION, type_=None,
                                                include_inactive=False, limit=10, cursor=None)
        for org in page.items:
            if org.name == IMPORT_ORGANIZATION:
                return org.id
        created = practitioners.create_organization(
            session, system, data=practitioners.OrganizationCreate(
                name=IMPORT_ORGANIZATION, type=practitioners.OrganizationType.clinic), now=SystemClock().now())
        return created.id


def default_validators() -> int:
    """One validating process beside the writer when there is a core for it: validation is half the CPU."""
    return 1 if (os.cpu_count() or 1) > 1 else 0


def default_workers(database: Database) -> int:
    """Writing processes on PostgreSQL, one a core up to four: a writer waits on the database a fifth of the
    time and validates in line, so two cores keep two busy (more than the cores was slower). One on SQLite,
    which has one writer at a time (each unit of work holds the write lock from its start)."""
    if database.is_sqlite:
        return 1
    return max(1, min(os.cpu_count() or 1, 4))


def _count_entries(paths: list[Path]) -> int:
    """A rough total for the bar: Bundle entries are counted by their `fullUrl`/`resource` keys, NDJSON by lines."""
    total = 0
    for path in paths:
        try:
            if ".ndjson" in path.name and not path.name.endswith(".gz"):
                with path.open("rb") as fh:
                    total += sum(1 for line in fh if line.strip())
            elif not path.name.endswith(".gz"):
                total += max(path.read_bytes().count(b'"resource"'), 1)
        except OSError:
            continue
    return total


def import_fhir_command(
    paths: list[Path] = typer.Argument(..., exists=True, help="Bundle (.json) or NDJSON files, or folders of them."),
    organization: uuid.UUID | None = typer.Option(
        None, help="Register the patients at this organization (default: one called 'FHIR import')."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    validators: int = typer.Option(
        -1, min=-1, max=8, help="Processes validating the next batch while this one writes (0: none; "
                                "default: one if the machine has a second core)."),
    workers: int = typer.Option(
        0, min=0, max=16, help="Processes writing independent files side by side (default: one a core up to "
                               "four on PostgreSQL, one on SQLite)."),
) -> None:
    """Import FHIR Bundles or NDJSON (e.g. Synthea output) into the record; re-running adds nothing twice."""
    settings = get_settings()
    db = audit_service.open_audited_database(settings)
    files = files_in(paths)
    principal = import_principal(db, import_organization(db, organization), SystemClock().now())
    ahead = validators if validators >= 0 else default_validators()
    writers = workers or default_workers(db)
    vault = documents.vault_for(settings, load_or_create_keys(settings))  # DocumentReference content
    if quiet:
        report = Importer(db, principal, SystemClock(), validators=ahead, workers=writers, vault=vault).run(files)
    else:
        with typer.progressbar(length=_count_entries(files), label="importing", show_pos=True) as bar:
            report = Importer(db, principal, SystemClock(), progress=bar.update, validators=ahead,
                              workers=writers, vault=vault).run(files)
    for r in report.rejected:
        typer.echo(f"rejected {r.source} {r.resource_type}: {r.reason}", err=True)
    if report.skipped or report.files_skipped:
        typer.echo(f"skipped {report.skipped} entries already imported, {report.files_skipped} files already done")
    if report.kept_as_json:
        typer.echo(f"{report.kept_as_json} of them kept whole as JSON (codes or interactions the record does not hold)")
    typer.echo(report.summary())
    db.dispose()
    if report.rejected:
        raise typer.Exit(1)
