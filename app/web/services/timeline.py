"""The timeline: every event, newest first, filtered, a keyset page at a time.

Built on the audit service (app/api/services/audit.py) with `descending=True`:
the same horizon rule (only events no running transaction can still precede),
the same indexes, the cursor of the last row shown as the next page's start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from app.api.services.audit import AuditEvent, AuditQuery, list_events
from app.projections.runs import RunsProjection
from app.web.errors import BadParameter
from app.web.services import params
from events.errors import LedgerError
from events.projections import ProjectionError, current_tables
from events.store import START, Cursor, EventStore
from events.streams import validate_stream

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# A repository filter looks at this many of its most recent runs at most.
MAX_REPOSITORY_RUNS = 5000
_WORD = r"[A-Za-z0-9][A-Za-z0-9._:@/+-]*"
# Data fields whose value is an image digest or id: shown as links to the image page.
DIGEST_FIELDS = ("digest", "image_digest", "image_id")


@dataclass(frozen=True)
class TimelineFilters:
    """What the visitor asked to see; every field maps to one URL parameter."""

    category: str | None = None
    types: tuple[str, ...] = ()
    actor: str | None = None
    repository: str | None = None
    environment: str | None = None
    stream: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = PAGE_SIZE

    @classmethod
    def parse(cls, query: Mapping[str, str], types: list[str]) -> TimelineFilters:
        """The filters in a page's query string; BadParameter names any wrong one."""
        kept = tuple(t.strip() for t in types if t.strip())
        for name in kept:
            if not name.isidentifier():
                raise BadParameter("type", f"{name!r} is not an event type name")
        stream = params.text(query, "stream")
        if stream is not None:
            try:
                validate_stream(stream)
            except LedgerError as error:
                raise BadParameter("stream", str(error)) from None
        filters = cls(
            category=params.text(query, "category", pattern=r"[a-z][a-z0-9_]*"),
            types=kept,
            actor=params.text(query, "actor"),
            repository=params.text(query, "repository"),
            environment=params.text(query, "environment", pattern=_WORD),
            stream=stream,
            since=params.moment(query, "since"),
            until=params.moment(query, "until"),
            limit=params.integer(query, "limit", PAGE_SIZE, 1, MAX_PAGE_SIZE),
        )
        if filters.since and filters.until and filters.since >= filters.until:
            raise BadParameter("until", "must be later than 'since'")
        return filters

    def query_items(self) -> list[tuple[str, str]]:
        """The filters as URL parameters (for links to further pages and the live feed)."""
        items: list[tuple[str, str]] = []
        for name in ("category", "actor", "repository", "environment", "stream"):
            value = getattr(self, name)
            if value is not None:
                items.append((name, value))
        items += [("type", t) for t in self.types]
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None:
                items.append((name, value.isoformat()))
        if self.limit != PAGE_SIZE:
            items.append(("limit", str(self.limit)))
        return items

    def url(self, path: str, **extra: str) -> str:
        """`path` with these filters (and `extra`) as its query string."""
        items = self.query_items() + list(extra.items())
        return f"{path}?{urlencode(items)}" if items else path

    @property
    def active(self) -> bool:
        """True if any filter narrows the timeline."""
        return bool([item for item in self.query_items() if item[0] != "limit"])


@dataclass(frozen=True)
class EventRow:
    """One event as a timeline row shows it."""

    event: AuditEvent
    run_id: str | None
    environment: str | None
    summary: list[tuple[str, str]]
    digests: list[str]
    cursor: str


@dataclass(frozen=True)
class TimelinePage:
    """A page of rows, newest first, the cursor of the next (older) page, and the live cursor."""

    filters: TimelineFilters
    rows: list[EventRow] = field(default_factory=list)
    next: Cursor | None = None
    live_after: Cursor = START
    first_page: bool = True


def timeline_page(store: EventStore, filters: TimelineFilters, after: Cursor) -> TimelinePage:
    """The page of events before `after` (START: the newest) that match `filters`."""
    live_after = newest_cursor(store)
    query = audit_query(store, filters, after, descending=True)
    if query is None:
        return TimelinePage(filters, live_after=live_after, first_page=after == START)
    page = list_events(store, query)
    rows = [row_of(event) for event in page.events]
    return TimelinePage(filters, rows, page.next, live_after, after == START)


def events_after(store: EventStore, filters: TimelineFilters, after: Cursor) -> list[EventRow]:
    """Matching events after `after`, oldest first: what the live feed sends next."""
    query = audit_query(store, replace(filters, limit=100), after, descending=False)
    if query is None:
        return []
    return [row_of(event) for event in list_events(store, query).events]


def audit_query(
    store: EventStore, filters: TimelineFilters, after: Cursor, *, descending: bool
) -> AuditQuery | None:
    """The audit query for `filters`, or None when they can match nothing."""
    streams: tuple[str, ...] = ()
    if filters.repository is not None:
        streams = repository_streams(store, filters.repository)
        if not streams:
            return None
    stream = filters.stream
    if filters.environment is not None:
        env_stream = f"env-{filters.environment}"
        if stream is not None and stream != env_stream:
            return None
        stream = env_stream
    return AuditQuery(
        stream=stream,
        streams=streams,
        category=filters.category,
        types=filters.types,
        actor=filters.actor,
        since=filters.since,
        until=filters.until,
        after=after,
        limit=filters.limit,
        descending=descending,
    )


def repository_streams(store: EventStore, repository: str) -> tuple[str, ...]:
    """The streams of a repository: `repo-<name>` and the runs of its commits (newest 5000)."""
    found: list[str] = []
    try:
        validate_stream(f"repo-{repository}")
        found.append(f"repo-{repository}")
    except LedgerError:
        pass
    with store.connection() as conn:
        try:
            runs = current_tables(conn, RunsProjection())["runs"]
        except ProjectionError:
            return tuple(found)
        rows = conn.execute(
            f"SELECT run_id FROM {runs} WHERE repository = %s "
            "ORDER BY queued_at DESC NULLS LAST LIMIT %s",
            (repository, MAX_REPOSITORY_RUNS),
        ).fetchall()
    return tuple(found + [f"run-{row[0]}" for row in rows])


def newest_cursor(store: EventStore) -> Cursor:
    """The cursor of the newest event below the horizon (START for an empty ledger).

    The cast column is renamed: named `tx_id`, it would be what ORDER BY sorts (as
    text, by a full scan) instead of the indexed column.
    """
    with store.connection() as conn:
        row = conn.execute(
            "SELECT tx_id::text AS tx, position FROM events "
            "WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot()) "
            "ORDER BY tx_id DESC, position DESC LIMIT 1"
        ).fetchone()
    return START if row is None else Cursor(int(row[0]), int(row[1]))


def row_of(event: AuditEvent) -> EventRow:
    """The row for one event: links it can offer and its data in short."""
    category, _, ident = event.stream.partition("-")
    run_id = ident if category == "run" else None
    environment = ident if category == "env" else None
    digests = [
        str(event.data[name])
        for name in DIGEST_FIELDS
        if isinstance(event.data.get(name), str) and str(event.data[name]).startswith("sha256:")
    ]
    summary = [
        (key, _brief(value)) for key, value in event.data.items() if key not in DIGEST_FIELDS
    ][:6]
    return EventRow(event, run_id, environment, summary, digests, str(event.cursor))


def _brief(value: Any) -> str:
    """A data value in at most 80 characters."""
    if isinstance(value, dict):
        text = ", ".join(f"{k}={v}" for k, v in value.items())
    elif isinstance(value, list | tuple):
        text = ", ".join(str(v) for v in value)
    else:
        text = str(value)
    return text if len(text) <= 80 else text[:79] + "…"
