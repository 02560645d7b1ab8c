"""`shiplog backup FILE` and `shiplog restore FILE`: the whole database, with PostgreSQL's tools."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.backup import backup_database, restore_database
from app.context import prepare


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
    size = backup_database(context.database.owner_url, file)
    typer.echo(f"backed up {context.database.location} into {file} ({size} bytes)")


def restore(
    file: Annotated[Path, typer.Argument(help="A backup made by `shiplog backup`.")],
) -> None:
    """Restore FILE into the (empty) database, rebase its transaction ids, rebuild projections."""
    context = prepare(run_migrations=False)
    database = context.database
    done = restore_database(database.owner_url, database.app_url, database.app_role, file)
    rebase = done.rebase
    typer.echo(
        f"restored {file} into {database.location}: {rebase.events} events rebased below this "
        f"cluster's transaction ids ({rebase.transactions} transactions), "
        f"{len(done.projections)} projections rebuilt; run `shiplog verify` next"
    )
