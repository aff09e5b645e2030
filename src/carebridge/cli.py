"""The one command-line tool: serve, migrate, demo, admin, audit and the engines' CLIs."""

from __future__ import annotations

import sys

import typer

from carebridge.settings import get_settings

app = typer.Typer(help="CareBridge: an open healthcare platform.", no_args_is_help=True, add_completion=False)


@app.command()
def migrate() -> None:
    """Upgrade the database schema to the latest version."""
    from carebridge.kernel.migrate import upgrade

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    typer.echo("database is at the latest schema")


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Bind address (default from CAREBRIDGE_HOST)."),
    port: int | None = typer.Option(None, help="Port (default from CAREBRIDGE_PORT)."),
    workers: int | None = typer.Option(None, help="Worker processes (default from CAREBRIDGE_WORKERS)."),
) -> None:
    """Run migrations, then serve the API and web pages."""
    import uvicorn

    from carebridge.kernel.migrate import upgrade

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    uvicorn.run(
        "carebridge.main:app_factory", factory=True, host=host or settings.host, port=port or settings.port,
        workers=workers or settings.workers, access_log=False, log_level="warning", proxy_headers=True,
    )


@app.command()
def news2(
    as_json: bool = typer.Option(True, "--json", help="Read JSON (an object or a list) on stdin; write JSON."),
    allow_partial: bool = typer.Option(False, "--allow-partial", help="Score what is present; flag it incomplete."),
) -> None:
    """NEWS2 (RCP 2017) for one observation set or a list of them (stable contract for evaluation harnesses)."""
    from carebridge.engines.news2 import run_json

    typer.echo(run_json(sys.stdin.read(), allow_partial=allow_partial))


if __name__ == "__main__":
    app()
