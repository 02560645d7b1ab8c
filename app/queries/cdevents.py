"""CDEvents out: the ledger's events that have a CDEvents counterpart, as CloudEvents.

The ledger types app/cdevents/exports.py maps, in subscription order after a
cursor (the audit's keyset pagination). Each page costs a fixed number of ledger
lookups whatever its size: the opening event of the streams that need one, the
repository each image digest was first pushed to, and for each DeploymentSucceeded
whether the service ran another image before it (so it exports as an upgrade).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from app.cdevents import exports
from events.catalogue import Event
from events.lookups import EventQuery, StoredEvent
from events.store import Cursor, EventStore
from events.vocabulary import ArtifactPublished, DeploymentSucceeded, ImagePushed, RolledBack


@dataclass(frozen=True)
class ExportPage:
    """CloudEvents, the cursor to continue after, and whether more were there already."""

    events: list[dict[str, Any]]
    next: Cursor
    more: bool


def export_page(store: EventStore, after: Cursor, limit: int, origin: str) -> ExportPage:
    """Up to `limit` CloudEvents for the exportable ledger events after `after`."""
    page = store.page(EventQuery(types=exports.EXPORTED_TYPES, after=after, limit=limit))
    decoded = [_decode(store, row) for row in page.events]
    needing = [row.stream for row in page.events if row.type in exports.NEEDS_OPENER]
    openers = {stream: e.data for stream, e in store.first_events(needing).items()}
    digests = [getattr(event, "image_digest", "") for event in decoded]
    repositories = _image_repositories(store, [digest for digest in digests if digest])
    upgraded = _upgraded(store, list(zip(page.events, decoded, strict=True)))
    out = []
    for row, event in zip(page.events, decoded, strict=True):
        digest = getattr(event, "image_digest", None)
        item = exports.Exportable(
            event_id=row.event_id,
            stream=row.stream,
            recorded_at=row.recorded_at,
            event=event,
            opener=openers.get(row.stream),
            upgraded=row.event_id in upgraded,
            image_repository=repositories.get(digest) if digest else None,
            origin=_imported_from(row),
        )
        cloudevent = exports.to_cloudevent(item, origin)
        if cloudevent is not None:
            out.append(cloudevent)
    last = page.events[-1].cursor if page.events else after
    return ExportPage(out, last, more=page.next is not None)


def _imported_from(row: StoredEvent) -> tuple[str, str] | None:
    """The (source, id) of the CloudEvent a ledger event was imported from, if it was."""
    source, ident = row.metadata.get("cloudevent_source"), row.metadata.get("cloudevent_id")
    if isinstance(source, str) and isinstance(ident, str):
        return source, ident
    return None


def _decode(store: EventStore, row: StoredEvent) -> Event:
    """The stored payload as its catalogue class, upcast to the current schema version."""
    return store.catalogue.decode(row.type, row.schema_version, json.dumps(row.data))


def _image_repositories(store: EventStore, digests: Sequence[str]) -> dict[str, str]:
    """For each digest, the repository it was first pushed or published to, if known."""
    if not digests:
        return {}
    first = store.by_data_field(
        [ImagePushed.type_name, ArtifactPublished.type_name],
        "digest",
        digests,
        first=True,
        present="repository",
    )
    return {digest: str(event.data["repository"]) for digest, event in first.items()}


def _upgraded(store: EventStore, rows: Sequence[tuple[StoredEvent, Event]]) -> set[UUID]:
    """The DeploymentSucceeded among `rows` after which the service runs another image.

    That is: before it in its environment's stream, the last DeploymentSucceeded or
    RolledBack of the same service had another digest.
    """
    wanted = [(row, event) for row, event in rows if isinstance(event, DeploymentSucceeded)]
    before = store.preceding(
        [(row.stream, row.version, event.service) for row, event in wanted],
        [DeploymentSucceeded.type_name, RolledBack.type_name],
        "service",
    )
    return {
        row.event_id
        for (row, event), earlier in zip(wanted, before, strict=True)
        if earlier is not None
        and earlier.data.get("image_digest") is not None
        and earlier.data["image_digest"] != event.image_digest
    }
