"""`shiplog backup FILE` and `shiplog restore FILE`: the whole database, with PostgreSQL's tools."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.backup import backup_database, restore_database
from app.context import owner_url_for, prepare
from app.database import embedded_app_password


def register(app: typer.Typer) -> None:
    """Add the backup commands to `app`."""
    app.command("backup")(backup)
    app.command("restore")(restore)


def backup(
    file: Annotated[
        Path, typer.Argument(help="Where to write the backup (pg_dump's custom format).")
    ],
) -> None:
    """Back the database up into FILE; keep SHIPLOG_HOME/keys with it to verify a restore."""
    context = prepare()
    size = backup_database(owner_url_for(context.database, "a backup"), file)
    typer.echo(f"backed up {context.database.location} into {file} ({size} bytes)")


def restore(
    file: Annotated[Path, typer.Argument(help="A backup made by `shiplog backup`.")],
) -> None:
    """Restore FILE into the (empty) database, rebase its transaction ids, rebuild projections."""
    context = prepare(run_migrations=False)
    database, settings = context.database, context.settings
    password = embedded_app_password(settings.home) if database.embedded else None
    owner_url = owner_url_for(database, "restoring")
    done = restore_database(owner_url, database.app_url, settings.app_role, file, password)
    rebase = done.rebase
    typer.echo(
        f"restored {file} into {database.location}: {rebase.events} events rebased below this "
        f"cluster's transaction ids ({rebase.transactions} transactions), "
        f"{len(done.projections)} projections rebuilt; run `shiplog verify` next"
    )
