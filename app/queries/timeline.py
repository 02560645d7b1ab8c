"""The timeline: every event as stored, newest first (or after a cursor), filtered.

The same reads as the audit (EventStore.page): the horizon rule (only events no
running transaction can still precede), the same indexes, keyset pages. A
repository stands for its own stream and the runs of its commits (from the runs
projection); an environment for its `env-` stream.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

from app.forges.registry import RepositoryStore
from app.projections.runs import RunsProjection
from app.repo_identity import NotARepository, repository_id, url_spellings
from events.errors import LedgerError
from events.lookups import EventQuery, StoredEvent
from events.projections import ProjectionError, current_tables
from events.store import Cursor, EventPage, EventStore
from events.streams import validate_stream

PAGE_SIZE = 50
# A repository filter looks at this many of its most recent runs at most.
MAX_REPOSITORY_RUNS = 5000


@dataclass(frozen=True)
class TimelineFilter:
    """Which events the timeline shows; every field narrows it, and they combine with AND."""

    category: str | None = None
    types: tuple[str, ...] = ()
    actor: str | None = None
    repository: str | None = None
    environment: str | None = None
    stream: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = PAGE_SIZE


def newest_events(store: EventStore, wanted: TimelineFilter, before: Cursor) -> EventPage:
    """The page of matching events before `before` (START: from the newest), newest first."""
    query = _query(store, wanted, before, descending=True)
    return EventPage([], None) if query is None else store.page(query)


def events_after(
    store: EventStore, wanted: TimelineFilter, after: Cursor, limit: int
) -> list[StoredEvent]:
    """Up to `limit` matching events after `after`, oldest first: what a live feed sends."""
    query = _query(store, wanted, after, descending=False, limit=limit)
    return [] if query is None else store.page(query).events


def newest_cursor(store: EventStore) -> Cursor:
    """The cursor of the newest event below the horizon (START for an empty ledger)."""
    return store.head()


def _query(
    store: EventStore,
    wanted: TimelineFilter,
    after: Cursor,
    *,
    descending: bool,
    limit: int | None = None,
) -> EventQuery | None:
    """The ledger query for `wanted`, or None when it can match nothing."""
    streams: tuple[str, ...] = ()
    if wanted.repository is not None:
        streams = repository_streams(store, wanted.repository)
        if not streams:
            return None
    stream = wanted.stream
    if wanted.environment is not None:
        env_stream = f"env-{wanted.environment}"
        if stream is not None and stream != env_stream:
            return None
        stream = env_stream
    return EventQuery(
        stream=stream,
        streams=streams,
        category=wanted.category,
        types=wanted.types,
        actor=wanted.actor,
        since=wanted.since,
        until=wanted.until,
        after=after,
        limit=limit or wanted.limit,
        descending=descending,
    )


def repository_streams(store: EventStore, repository: str) -> tuple[str, ...]:
    """The streams of a repository: `repo-<identity>` and the runs of its commits (newest 5000).

    `repository` may be any spelling of it (app/repo_identity.py): its runs are found
    under the usual clone URLs of its identity and the URL it is registered with.
    """
    found: list[str] = []
    spellings = {repository}
    names = [repository]
    with contextlib.suppress(NotARepository):
        identity = repository_id(repository)
        names.insert(0, str(identity))
        spellings.update(url_spellings(identity))
        registered = RepositoryStore(store.conninfo).get(str(identity))
        if registered is not None:
            spellings.add(registered.clone_url)
    for name in dict.fromkeys(names):
        with contextlib.suppress(LedgerError):  # a name no stream can have: its runs only
            found.append(validate_stream(f"repo-{name}"))
    with store.connection() as conn:
        try:
            runs = current_tables(conn, RunsProjection())["runs"]
        except ProjectionError:
            return tuple(found)
        rows = conn.execute(
            f"SELECT run_id FROM {runs} WHERE repository = ANY(%s) "
            "ORDER BY queued_at DESC NULLS LAST LIMIT %s",
            (sorted(spellings), MAX_REPOSITORY_RUNS),
        ).fetchall()
    return tuple(found + [f"run-{row[0]}" for row in rows])
