"""Database commands: `shiplog migrate` and `shiplog db status|stop`."""

from __future__ import annotations

import typer

from app.config import get_settings
from app.context import migrate_as_owner, prepare
from app.database import resolve, stop_embedded
from events.migrations import pending


def register(app: typer.Typer) -> None:
    """Add the database commands to `app`."""
    app.command("migrate")(db_migrate)
    db_app = typer.Typer(help="The database shiplog uses.", no_args_is_help=True)
    db_app.command("status")(db_status)
    db_app.command("stop")(db_stop)
    app.add_typer(db_app, name="db")


def db_migrate() -> None:
    """Apply the pending migrations, in order, once each."""
    applied = migrate_as_owner(prepare(run_migrations=False))
    for name in applied:
        typer.echo(f"applied {name}")
    typer.echo(f"schema up to date ({len(applied)} applied now)")


def db_status() -> None:
    """Say where the database is and which migrations are pending."""
    settings = get_settings()
    database = resolve(settings)
    typer.echo(database.location)
    waiting = pending(database.app_url, settings.migrations_dir)
    typer.echo(f"pending migrations: {', '.join(waiting) if waiting else 'none'}")


def db_stop() -> None:
    """Stop the embedded PostgreSQL server, if it runs."""
    settings = get_settings()
    if settings.database_url:
        typer.echo("SHIPLOG_DATABASE_URL is set: shiplog does not manage that server")
        raise typer.Exit(1)
    stopped = stop_embedded(settings.home)
    typer.echo("embedded server stopped" if stopped else "embedded server was not running")
