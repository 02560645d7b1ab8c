"""Database commands: `shiplog migrate` and `shiplog db status|stop`."""

from __future__ import annotations

import typer

from app.config import get_settings
from app.context import migrate_as_owner, prepare
from app.database import embedded_pid, resolve, stop_embedded
from events.migrations import pending


def register(app: typer.Typer) -> None:
    """Add the database commands to `app`."""
    app.command("migrate")(db_migrate)
    db_app = typer.Typer(help="The database shiplog uses.", no_args_is_help=True)
    db_app.command("status")(db_status)
    db_app.command("stop")(db_stop)
    db_app.command("running")(db_running)
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
    # The owner's URL where known: on a fresh server the application role may not exist yet.
    waiting = pending(database.owner_url or database.app_url, settings.migrations_dir)
    typer.echo(f"pending migrations: {', '.join(waiting) if waiting else 'none'}")


def db_running() -> None:
    """Say whether the embedded PostgreSQL server runs (exit status 1 if not); never starts it."""
    settings = get_settings()
    if settings.database_url:
        typer.echo("SHIPLOG_DATABASE_URL is set: shiplog does not manage that server")
        return
    pid = embedded_pid(settings.home)
    if pid is None:
        typer.echo(f"embedded server not running (data in {settings.home / 'pgdata'})")
        raise typer.Exit(1)
    typer.echo(f"embedded server running (pid {pid}, data in {settings.home / 'pgdata'})")


def db_stop() -> None:
    """Stop the embedded PostgreSQL server (fast: its clients are disconnected), if it runs."""
    settings = get_settings()
    if settings.database_url:
        typer.echo("SHIPLOG_DATABASE_URL is set: shiplog does not manage that server")
        raise typer.Exit(1)
    stopped = stop_embedded(settings.home)  # DatabaseNotStopped says so, exit status 2
    typer.echo("embedded server stopped" if stopped else "embedded server was not running")
