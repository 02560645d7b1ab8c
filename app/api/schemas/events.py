"""Response bodies of the audit and CDEvents routes: ledger events as stored, CloudEvents."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from events.lookups import StoredEvent
from events.store import EventPage


class EventOut(BaseModel):
    """One ledger event, exactly as recorded."""

    position: int = Field(description="Global insertion order.")
    cursor: str = Field(description="Place in the subscription order, `tx_id:position`.")
    stream: str
    version: int = Field(description="0-based position inside the stream.")
    event_id: UUID
    type: str
    schema_version: int
    data: dict[str, Any] = Field(description="The payload as stored (not upcast).")
    metadata: dict[str, Any] = Field(description="Actor, source, correlation and causation.")
    recorded_at: datetime
    hash: str = Field(description="RFC 6962 leaf hash of the canonical event, hex.")

    @classmethod
    def of(cls, event: StoredEvent) -> EventOut:
        """The response form of a stored event."""
        return cls(
            position=event.position,
            cursor=str(event.cursor),
            stream=event.stream,
            version=event.version,
            event_id=event.event_id,
            type=event.type,
            schema_version=event.schema_version,
            data=event.data,
            metadata=event.metadata,
            recorded_at=event.recorded_at,
            hash=event.hash.hex(),
        )


class EventPageOut(BaseModel):
    """A page of events; `next` is the `after` for the next page, null when none is left."""

    events: list[EventOut]
    next: str | None

    @classmethod
    def of(cls, page: EventPage) -> EventPageOut:
        """The response form of a page of stored events."""
        return cls(
            events=[EventOut.of(event) for event in page.events],
            next=None if page.next is None else str(page.next),
        )


class CloudEventImportOut(BaseModel):
    """Where the imported CloudEvent's events are in the ledger."""

    type: str = Field(description="The CDEvent type imported.")
    stream: str = Field(description="The stream its events are in.")
    positions: list[int] = Field(description="Ledger positions of its events.")
    replayed: bool = Field(description="True if they were recorded before: nothing written.")


class CloudEventPageOut(BaseModel):
    """CloudEvents in ledger order; pass `next` as `after` to continue."""

    events: list[dict[str, Any]] = Field(description="CloudEvents (structured mode) with CDEvents.")
    next: str = Field(description="The cursor of the last ledger event read (or `after`).")
    more: bool = Field(description="True if more events were already there after `next`.")
