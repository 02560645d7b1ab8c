"""Projection commands: `shiplog projections status|rebuild|catch-up`."""

from __future__ import annotations

from typing import Annotated

import typer

from app.context import open_store, prepare
from app.delivery.snapshots import rebuild_snapshots
from app.projections import projector
from app.queries.environments import environment_names


def register(app: typer.Typer) -> None:
    """Add the `projections` command group to `app`."""
    group = typer.Typer(help="Read models folded from the ledger.", no_args_is_help=True)
    group.command("status")(projections_status)
    group.command("catch-up")(projections_catch_up)
    group.command("rebuild")(projections_rebuild)
    app.add_typer(group, name="projections")


def projections_status() -> None:
    """Show each projection's version, cursor, state and lag in events."""
    with open_store(prepare()) as store:
        rows = projector(store).status()
    typer.echo(f"{'projection':<16} {'version':>7}  {'state':<9} {'cursor':<20} lag")
    for row in rows:
        flag = "" if row.current else "  (not read yet)"
        typer.echo(
            f"{row.name:<16} {row.version:>7}  {row.state:<9} {row.cursor!s:<20} "
            f"{row.lag_events}{flag}"
        )


def projections_catch_up() -> None:
    """Fold every event not yet folded into every projection."""
    with open_store(prepare()) as store:
        folded = projector(store).catch_up_all()
    for name, count in folded.items():
        typer.echo(f"{name}: folded {count} events")


def projections_rebuild(
    name: Annotated[str | None, typer.Argument(help="One projection; default all.")] = None,
) -> None:
    """Rebuild projections from position zero (readers keep the old rows until it commits).

    Without a name, the environments' state snapshots are folded anew too.
    """
    with open_store(prepare()) as store:
        folded = projector(store).rebuild(name)
        for projection, count in folded.items():
            typer.echo(f"{projection}: rebuilt from {count} events")
        if name is None:
            saved = rebuild_snapshots(store, environment_names(store))
            typer.echo(f"environment snapshots: {saved} folded anew")
