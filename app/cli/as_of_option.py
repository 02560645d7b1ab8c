"""The `--as-of` option shared by the query commands, and the cursor it stands for."""

from __future__ import annotations

from typing import Annotated

import typer

from app.queries.as_of import AsOfError, resolve_as_of
from events.store import Cursor, EventStore

AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of", help="Answer from the events up to a cursor TX_ID:POSITION or an ISO time."
    ),
]


def as_of_option(store: EventStore, text: str | None) -> Cursor | None:
    """The cursor `--as-of` stands for (None: now); AsOfError naming the option if malformed."""
    try:
        return resolve_as_of(store, text)
    except AsOfError as error:
        raise AsOfError(f"--as-of: {error}") from None
