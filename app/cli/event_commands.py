"""Event commands: `shiplog events tail` and `shiplog events catalogue`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from app.context import open_store, prepare
from events.docs import catalogue_markdown
from events.store import RecordedEvent
from events.vocabulary import CATALOGUE


def register(app: typer.Typer) -> None:
    """Add the `events` command group to `app`."""
    events_app = typer.Typer(help="Read the ledger's events.", no_args_is_help=True)
    events_app.command("tail")(tail)
    events_app.command("catalogue")(catalogue)
    app.add_typer(events_app, name="events")


def format_event(event: RecordedEvent) -> str:
    """One human-readable line for an event."""
    data = json.dumps(event.data.model_dump(mode="json"), separators=(",", ":"))
    when = event.recorded_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return (
        f"{when} #{event.position} {event.stream}@{event.version} {event.type_name} "
        f"by {event.metadata.actor} {data}"
    )


def event_json(event: RecordedEvent) -> str:
    """One JSON line for an event."""
    return json.dumps(
        {
            "position": event.position,
            "cursor": str(event.cursor),
            "stream": event.stream,
            "version": event.version,
            "event_id": str(event.event_id),
            "type": event.type_name,
            "schema_version": event.schema_version,
            "data": event.data.model_dump(mode="json"),
            "metadata": event.metadata.to_json(),
            "recorded_at": event.recorded_at.isoformat(),
            "hash": event.hash.hex(),
        },
        separators=(",", ":"),
    )


def tail(
    stream: Annotated[str | None, typer.Option(help="Only this stream, e.g. run-<id>.")] = None,
    type_: Annotated[
        list[str] | None, typer.Option("--type", help="Only this event type (repeatable).")
    ] = None,
    lines: Annotated[int, typer.Option("-n", "--lines", min=1, help="How many to show.")] = 20,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new events.")] = (
        False
    ),
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Print the latest events in ledger order, and with --follow keep printing new ones."""
    types = list(type_ or [])
    for name in types:
        CATALOGUE.get(name)  # an unknown type is a mistake worth saying, not an empty result
    show = event_json if as_json else format_event
    context = prepare()
    with open_store(context) as store:
        recent = store.read_last(lines, stream=stream, types=types)
        for event in recent:
            typer.echo(show(event))
        if follow:
            after = recent[-1].cursor if recent else None
            try:
                for event in store.subscribe(
                    *(() if after is None else (after,)), stream=stream, types=types
                ):
                    typer.echo(show(event))
            except KeyboardInterrupt:
                pass


def catalogue(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print docs/events.md.")] = False,
) -> None:
    """List the event types the ledger accepts (or print the catalogue's Markdown docs)."""
    if markdown:
        typer.echo(catalogue_markdown(CATALOGUE), nl=False)
        return
    for cls in CATALOGUE:
        typer.echo(f"{cls.type_name:<24} v{cls.schema_version}  {cls.doc()}")
