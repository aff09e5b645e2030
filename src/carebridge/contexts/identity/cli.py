"""`carebridge admin …`: bootstrap the first administrator from the shell.

Whoever runs it already holds the database, so it checks no caller; it still applies the password
policy and writes an audit entry, and it migrates the database first so it works on a fresh install.
"""

from __future__ import annotations

import typer
from pydantic import ValidationError

from carebridge.contexts.audit import service as audit_service
from carebridge.contexts.identity.schemas import StaffCreate
from carebridge.contexts.identity.staff import bootstrap_admin
from carebridge.kernel.clock import SystemClock
from carebridge.kernel.errors import Problem
from carebridge.settings import get_settings

admin_app = typer.Typer(help="Administrator accounts.", no_args_is_help=True, add_completion=False)


@admin_app.callback()
def admin() -> None:
    """Administrator accounts (a group, so `admin create` reads the same however it is mounted)."""


@admin_app.command("create")
def create(
    username: str = typer.Option(..., help="Sign-in name (3-64: letters, digits, . _ -)."),
    email: str | None = typer.Option(None, help="Email address."),
    password: str | None = typer.Option(None, help="Password (asked for, hidden, when absent)."),
    full_name: str | None = typer.Option(None, help="Display name (default: the username)."),
    organization_name: str | None = typer.Option(
        None, help="Organization the admin manages; created if no organization of this name exists. "
        "May be left out when exactly one organization exists."
    ),
) -> None:
    """Create an admin account (and its organization when needed)."""
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        data = StaffCreate(username=username, email=email, password=password, full_name=full_name or username,
                           role="admin")
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            typer.echo(f"error: {field}: {err['msg']}", err=True)
        raise typer.Exit(code=2) from exc
    settings = get_settings()
    db = audit_service.open_audited_database(settings, pool_size=1)
    try:
        with db.transaction() as session:
            user = bootstrap_admin(session, data=data, organization_name=organization_name,
                                   now=SystemClock().now())
    except Problem as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(code=1) from exc
    finally:
        db.dispose()
    typer.echo(f"created admin {user.username} (id {user.id}) in organization {user.organization_id}")
    if settings.require_totp_for_admins:
        typer.echo("sign in and set up two-factor sign-in (POST /api/v1/me/totp/setup) before using admin rights")
