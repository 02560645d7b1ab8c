"""`shiplog velocity`: the release velocity report (DORA metrics and stage timing) as a table."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Literal

import typer

from app.api.services.velocity import DEFAULT_SINCE, report
from app.context import open_store, prepare
from app.projections import projector
from app.queries.as_of import AsOf, AsOfError, as_of_cursor, parse_as_of
from app.queries.velocity import BadParameter
from app.velocity.render import table, to_csv


def register(app: typer.Typer) -> None:
    """Add the `velocity` command to `app`."""
    app.command("velocity")(velocity)


def velocity(
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
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Answer as of a ledger cursor TX_ID:POSITION or an ISO time."),
    ] = None,
    output: Annotated[
        Literal["table", "csv", "json"], typer.Option("--format", help="table, csv or json.")
    ] = "table",
) -> None:
    """Deployment frequency, lead time, change failure rate, recovery time and stage timing."""
    value = _as_of(as_of)
    context = prepare()
    with open_store(context) as store:
        projector(store).catch_up_all()
        cursor = None
        if value is not None:
            with store.connection() as conn:
                cursor = as_of_cursor(conn, value)
        try:
            found = report(
                store,
                context.settings.production_environments,
                since=since,
                until=until,
                environment=env,
                service=service,
                as_of=cursor,
            )
        except BadParameter as error:  # a user error: one line naming the option, exit 2
            raise BadParameter(error.parameter, f"--{error.parameter}: {error}") from None
    if output == "csv":
        typer.echo(to_csv(found.groups), nl=False)
    elif output == "json":
        body = {"groups": [asdict(v) for v in found.groups], "stages_ms": found.stages}
        typer.echo(json.dumps(body, default=str, indent=2))
    else:
        window = f"{found.window.since:%Y-%m-%d %H:%M} to {found.window.until:%Y-%m-%d %H:%M} UTC"
        typer.echo(f"Release velocity, {window}, environments: {', '.join(found.environments)}")
        typer.echo(table(found.groups, found.stages))


def _as_of(text: str | None) -> AsOf | None:
    """The --as-of value (a cursor or a time); AsOfError (a user error) naming the option."""
    if text is None:
        return None
    try:
        return parse_as_of(text)
    except AsOfError as error:
        raise AsOfError(f"--as-of: {error}") from None
