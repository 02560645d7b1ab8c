"""The timeline page: every event, newest first, filtered, a keyset page at a time.

The filters come from the page's query string (every mistake names its parameter)
and go to app/queries/timeline.py; each event becomes a row with the links it
can offer. The cursor of the last row shown starts the next page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from markupsafe import Markup

from app.queries.timeline import PAGE_SIZE, TimelineFilter, events_after, newest_events
from app.queries.timeline import newest_cursor as ledger_head
from app.services.cdevents import SOURCE as CDEVENTS_SOURCE
from app.web import params
from app.web.errors import BadParameter
from app.web.sentences import sentence
from events.errors import LedgerError
from events.lookups import StoredEvent
from events.store import START, Cursor, EventStore
from events.streams import validate_stream

MAX_PAGE_SIZE = 500
LIVE_BATCH = 100
_WORD = r"[A-Za-z0-9][A-Za-z0-9._:@/+-]*"
# The page of each kind of stream that has one; every other kind links to its own events.
STREAM_PAGES = {
    "run": "/runs/{}",
    "image": "/images/{}",
    "env": "/environments/{}",
    "repo": "/?repository={}",
}


@dataclass(frozen=True)
class TimelineFilters(TimelineFilter):
    """What the visitor asked to see; every field maps to one URL parameter."""

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
    """One event as a timeline row shows it: what happened in words, and where it leads."""

    event: StoredEvent
    stream_href: str
    sentence: Markup
    source_href: str | None
    imported: bool
    cursor: str


@dataclass(frozen=True)
class TimelinePage:
    """A page of rows, newest first, the cursor of the next (older) page, and the live cursor."""

    filters: TimelineFilters
    rows: list[EventRow] = field(default_factory=list)
    next: Cursor | None = None
    live_after: Cursor = START
    first_page: bool = True
    categories: list[str] = field(default_factory=list)
    """The stream categories the filter offers: every one the catalogue allows."""
    type_names: list[str] = field(default_factory=list)
    """The event types the type filter suggests: every one of the catalogue."""


def timeline_page(store: EventStore, filters: TimelineFilters, after: Cursor) -> TimelinePage:
    """The page of events before `after` (START: the newest) that match `filters`."""
    live_after = ledger_head(store)
    page = newest_events(store, filters, after)
    rows = [row_of(event) for event in page.events]
    catalogue = store.catalogue
    return TimelinePage(
        filters,
        rows,
        page.next,
        live_after,
        first_page=after == START,
        categories=catalogue.categories(),
        type_names=[cls.type_name for cls in catalogue],
    )


def rows_after(store: EventStore, filters: TimelineFilters, after: Cursor) -> list[EventRow]:
    """Matching events after `after`, oldest first: what the live feed sends next."""
    return [row_of(event) for event in events_after(store, filters, after, LIVE_BATCH)]


def row_of(event: StoredEvent) -> EventRow:
    """The row for one event: its sentence, its stream's page, and an imported event's source."""
    return EventRow(
        event=event,
        stream_href=stream_href(event.stream),
        sentence=sentence(event.type, event.data, event.metadata),
        source_href=source_href(event.data),
        imported=event.metadata.get("source") == CDEVENTS_SOURCE,
        cursor=str(event.cursor),
    )


def stream_href(stream: str) -> str:
    """The page of a stream: its run, image or environment, the repository's events, or
    (for kinds without a page of their own) the timeline of that stream alone."""
    kind, _, ident = stream.partition("-")
    page = STREAM_PAGES.get(kind)
    if page is not None:
        return page.format(quote(ident, safe=":"))
    return "/?" + urlencode({"stream": stream})


def source_href(data: dict[str, Any]) -> str | None:
    """Where another tool shows what an imported CDEvent reported: its `uri`, else its
    `source` when that is a web address (never any other scheme)."""
    for name in ("uri", "source"):
        value = data.get(name)
        if isinstance(value, str) and urlsplit(value).scheme in ("http", "https"):
            return value
    return None
