"""`shiplog velocity`: the release velocity report (DORA metrics and stage timing) as a table."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Literal

import typer

from app.cli.as_of_option import AsOfOption, as_of_option
from app.context import open_store, prepare
from app.projections import projector
from app.queries.errors import InvalidParameter
from app.queries.velocity import DEFAULT_SINCE, velocity_report
from app.velocity.render import table, to_csv


def register(app: typer.Typer) -> None:
    """Add the `velocity` command to `app`."""
    app.command("velocity")(velocity_command)


def velocity_command(
    service: Annotated[str | None, typer.Option(help="Only this service.")] = None,
    env: Annotated[
        str | None, typer.Option(help="Only this one of the production environments.")
    ] = None,
    since: Annotated[
        str, typer.Option(help="Window start: an age (90d, 12w, 36h) or an ISO 8601 time.")
    ] = DEFAULT_SINCE,
    until: Annotated[
        str | None, typer.Option(help="Window end (excluded): an age or ISO time; default now.")
    ] = None,
    as_of: AsOfOption = None,
    output: Annotated[
        Literal["table", "csv", "json"], typer.Option("--format", help="table, csv or json.")
    ] = "table",
) -> None:
    """Deployment frequency, lead time, change failure rate, recovery time and stage timing."""
    context = prepare()
    with open_store(context) as store:
        projector(store).catch_up_all()
        cursor = as_of_option(store, as_of)
        try:
            found = velocity_report(
                store,
                context.settings.production_environments,
                since=since,
                until=until,
                environment=env,
                service=service,
                as_of=cursor,
            )
        except InvalidParameter as error:  # a user error: one line naming the option, exit 2
            raise InvalidParameter(error.parameter, f"--{error.parameter}: {error}") from None
    if output == "csv":
        typer.echo(to_csv(found.groups), nl=False)
    elif output == "json":
        body = {"groups": [asdict(v) for v in found.groups], "stages_ms": found.stages}
        typer.echo(json.dumps(body, default=str, indent=2))
    else:
        window = f"{found.window.since:%Y-%m-%d %H:%M} to {found.window.until:%Y-%m-%d %H:%M} UTC"
        typer.echo(f"Release velocity, {window}, environments: {', '.join(found.environments)}")
        typer.echo(table(found.groups, found.stages))
