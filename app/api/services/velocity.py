"""The release velocity report for the API and the CLI: parameters checked, then computed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from app.queries.velocity import BadParameter, VelocityReport, velocity_report
from app.velocity.metrics import Window
from app.velocity.periods import parse_moment
from events.store import Cursor, EventStore

DEFAULT_SINCE = "90d"


def report(
    store: EventStore,
    production: Sequence[str],
    *,
    since: str | None = None,
    until: str | None = None,
    environment: str | None = None,
    service: str | None = None,
    as_of: Cursor | None = None,
    now: datetime | None = None,
) -> VelocityReport:
    """The velocity report; a bad parameter raises BadParameter naming it."""
    moment = now or datetime.now(UTC)
    end = _moment("until", until, moment) if until is not None else moment
    start = _moment("since", since or DEFAULT_SINCE, end)
    with store.connection() as conn:
        return velocity_report(
            conn,
            Window(start, end),
            production,
            environment=environment,
            service=service,
            as_of=as_of,
        )


def _moment(parameter: str, text: str, now: datetime) -> datetime:
    """The time `text` names, relative to `now`; BadParameter naming `parameter` if unreadable."""
    try:
        return parse_moment(text, now)
    except ValueError as error:
        raise BadParameter(parameter, str(error)) from None
