"""Writes that a caller may retry: deterministic event ids, and a retry told from a conflict.

Events reported from outside (deployments, incidents, CDEvents) get event ids that
are uuid5 of the caller's key and the event type, so a resend names the same
events. Keys are namespaced by who reports them (`Namespace`): people and
deployers share one namespace; each integration has its own, so one tool cannot
claim another's deployment id or CloudEvent first, and the ids it records read
`<integration>/<its id>`. Events already recorded with the same payload are answered with their
original positions and not written again; recorded with another payload, the
request is a Conflict. After writing, the ids are read back: a concurrent request
with the same key may have recorded them first, and must have recorded the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from app.services.errors import Conflict, FieldProblem
from events.catalogue import Event, Metadata
from events.errors import InvalidStreamName
from events.lookups import StoredEvent
from events.store import ANY, EventStore, ExpectedVersion
from events.streams import category, stream_name

NAMESPACE = uuid5(NAMESPACE_URL, "https://shiplog.dev/api/events-from-outside")


@dataclass(frozen=True)
class Written:
    """The positions of the events a request stands for, and whether it wrote none of them."""

    positions: list[int]
    replayed: bool


def event_id_for(key: str, event_type: type[Event]) -> UUID:
    """The deterministic id of the `event_type` event of the thing named `key` (shared ids)."""
    return uuid5(NAMESPACE, f"{key}\n{event_type.type_name}")


@dataclass(frozen=True)
class Namespace:
    """Whose ids a report names: the shared namespace (`owner` None) or one integration's."""

    owner: str | None = None

    def ident(self, given: str) -> str:
        """The id recorded for `given`: as given, or `<integration>/<given>`."""
        return given if self.owner is None else f"{self.owner}/{given}"

    def event_id(self, given: str, event_type: type[Event]) -> UUID:
        """The deterministic id of the `event_type` event of `given` in this namespace.

        The shared namespace keeps the ids shiplog always derived; an integration's
        come from a uuid5 namespace of its own, so no key anyone else sends (even one
        spelled `<integration>/<id>`) can name them.
        """
        if self.owner is None:
            return event_id_for(given, event_type)
        base = uuid5(NAMESPACE, f"namespace\n{self.owner}")
        return uuid5(base, f"{self.ident(given)}\n{event_type.type_name}")


SHARED = Namespace()


def cloudevent_metadata(
    actor: str, source: str, cloudevent: tuple[str, str] | None = None
) -> Metadata:
    """Metadata for events reported from outside: with the CloudEvent's (source, id) if any."""
    if cloudevent is None:
        return Metadata(actor=actor, source=source)
    return Metadata(
        actor=actor, source=source, cloudevent_source=cloudevent[0], cloudevent_id=cloudevent[1]
    )


def valid_stream(category_name: str, ident: str, field: str) -> str:
    """The stream `category_name-ident`, or a FieldProblem naming `field`."""
    try:
        return stream_name(category_name, ident)
    except InvalidStreamName as error:
        raise FieldProblem(field, f"not usable as a stream id: {error}", ident) from None


def payload(store: EventStore, event: Event, stream: str) -> dict[str, Any]:
    """The JSON payload the store would record for `event` in `stream`."""
    return store.catalogue.check(event, category(stream)).payload


def same_or_conflict(
    store: EventStore, stream: str, event: Event, found: StoredEvent, what: str
) -> None:
    """Raise Conflict unless `found` is `event` as recorded in `stream`."""
    if found.stream != stream:
        raise Conflict(f"{what} is already recorded in stream {found.stream!r}, not {stream!r}")
    if found.data != payload(store, event, stream):
        raise Conflict(
            f"{what} is already recorded with other content ({found.type} at position "
            f"{found.position}: {found.data}); the ledger is immutable, so use a new id"
        )


def append_once(
    store: EventStore,
    stream: str,
    planned: Sequence[tuple[Event, UUID]],
    metadata: Metadata,
    what: str,
    *,
    expected: ExpectedVersion = ANY,
) -> Written:
    """Append each planned event not yet recorded under its id; answer every planned position.

    Events already recorded must match (else Conflict); the new ones are appended in
    one transaction at `expected`.
    """
    ids = [event_id for _, event_id in planned]
    known = store.find(ids)
    new = [(event, event_id) for event, event_id in planned if event_id not in known]
    for event, event_id in planned:
        if event_id in known:
            same_or_conflict(store, stream, event, known[event_id], what)
    if new:
        with store.transaction() as tx:
            tx.append(
                stream, [e for e, _ in new], expected, metadata, event_ids=[i for _, i in new]
            )
    after = store.find(ids)
    for event, event_id in new:  # a concurrent request may have recorded these ids first
        same_or_conflict(store, stream, event, after[event_id], what)
    return Written([after[event_id].position for event_id in ids], replayed=not new)
