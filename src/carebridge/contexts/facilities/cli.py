"""`carebridge facilities import|export`: the registry in and out of files, for national-size sets.

An import runs in one transaction (all or nothing) with a progress bar on stderr and prints the
report: counts, then every refused record with its line and reasons. The exit code is 0 when every
record went in, 1 when some were refused (they are listed; nothing is dropped silently), 2 when
the file could not be read at all.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

import carebridge.contexts.all_models  # noqa: F401  (every table, so foreign keys resolve outside the app)
from carebridge.contexts.audit import service as audit_service
from carebridge.contexts.facilities import exporters, importers, service
from carebridge.contexts.facilities.formats import FORMATS, Format
from carebridge.contexts.facilities.schemas import ImportReport
from carebridge.kernel.clock import SystemClock
from carebridge.kernel.db import Database
from carebridge.kernel.keys import load_or_create_keys
from carebridge.settings import get_settings

facilities_app = typer.Typer(help="Facility registry: import and export.", no_args_is_help=True)

MAX_LISTED = 200


def _format(path: Path, given: str | None) -> Format:
    if given is not None:
        if given not in FORMATS:
            raise typer.BadParameter(f"format must be one of {', '.join(FORMATS)}")
        return given
    suffix = path.suffix.lower()
    if suffix in {".geojson"}:
        return "geojson"
    if suffix == ".json":
        return "fhir"
    return "csv"


def print_report(report: ImportReport, *, as_json: bool, listed: int = MAX_LISTED) -> None:
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    typer.echo(f"{report.total} read ({report.format}, profile {report.profile}): {report.created} created, "
               f"{report.updated} updated, {report.rejected} rejected")
    for note in report.notes:
        typer.echo(f"note: {note}")
    for row in report.rejected_rows[:listed]:
        ident = f" [{row.external_id}]" if row.external_id else ""
        typer.echo(f"rejected {row.where}{ident}: {'; '.join(row.errors)}")
    if report.rejected > listed:
        typer.echo(f"... and {report.rejected - listed} more rejected rows: use --json for the full list")


@facilities_app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="File to import.")],
    format_: Annotated[str | None, typer.Option("--format", help="csv, geojson or fhir (default: by suffix).")]
    = None,
    profile: Annotated[str | None, typer.Option(help="CSV column profile: carebridge or hifld (default: detect).")]
    = None,
    time_zone: Annotated[str, typer.Option(help="IANA zone for hours given without one.")]
    = importers.DEFAULT_TIME_ZONE,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole report as JSON.")] = False,
) -> None:
    """Upsert facilities by external_id from CSV, GeoJSON or a FHIR bundle; report every refused record."""
    fmt = _format(path, format_)
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.resolved_database_url)
    # the import's audit entry is chained at commit like every other
    audit_service.install(database.sessions, audit_service.AuditSigner(load_or_create_keys(settings).signing_key),
                          checkpoint_every=settings.audit_checkpoint_every)
    try:
        used, records, notes = importers.read(fmt, path.read_bytes(), profile=profile, default_time_zone=time_zone)
    except importers.ImportFormatError as exc:
        typer.echo(f"cannot import {path}: {exc}", err=True)
        raise typer.Exit(2) from exc
    records = list(records)
    with typer.progressbar(length=len(records), label=f"importing {path.name}", file=sys.stderr) as bar, \
            database.transaction() as session:
        report = service.import_facilities(session, None, fmt=fmt, profile=used, records=records, notes=notes,
                                           now=SystemClock().now(), on_progress=bar.update)
    database.dispose()
    print_report(report, as_json=as_json)
    if report.rejected:
        raise typer.Exit(1)


@facilities_app.command("export")
def export_command(
    format_: Annotated[str, typer.Option("--format", help="csv, geojson or fhir.")] = "csv",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
    active_only: Annotated[bool, typer.Option("--active-only", help="Leave out deactivated facilities.")] = False,
) -> None:
    """Write every facility as CSV, GeoJSON or a FHIR bundle of Locations."""
    if format_ not in FORMATS:
        raise typer.BadParameter(f"format must be one of {', '.join(FORMATS)}")
    fmt: Format = format_
    database = Database(get_settings().resolved_database_url)
    out = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    try:
        with database.transaction() as session:
            for chunk in exporters.export(fmt, service.iter_facilities(session, include_inactive=not active_only)):
                out.write(chunk)
    finally:
        if output:
            out.close()
        database.dispose()
    if output:
        typer.echo(f"wrote {output}", err=True)


