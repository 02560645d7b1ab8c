"""Response bodies of the HTTP API, as OpenAPI documents them."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from app.api.services.audit import AuditEvent, AuditPage


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
    def of(cls, event: AuditEvent) -> EventOut:
        """The response form of an audit event."""
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


class EventPage(BaseModel):
    """A page of events; `next` is the `after` for the next page, null when none is left."""

    events: list[EventOut]
    next: str | None

    @classmethod
    def of(cls, page: AuditPage) -> EventPage:
        """The response form of an audit page."""
        return cls(
            events=[EventOut.of(event) for event in page.events],
            next=None if page.next is None else str(page.next),
        )
