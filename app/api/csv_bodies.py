"""CSV bodies of the audit routes: the events page and the deployment audit.

Both go through app/csv_tables.py, so text a caller reported (a service name, a
reason, an actor) cannot run as a formula in the spreadsheet that opens the export.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime

from app.csv_tables import csv_table
from app.velocity.records import Deployment
from events.store import EventPage

EVENT_COLUMNS = (
    "position",
    "cursor",
    "stream",
    "version",
    "event_id",
    "type",
    "schema_version",
    "recorded_at",
    "hash",
    "data",
    "metadata",
)

DEPLOYMENT_COLUMNS = (
    "deployment_id", "environment", "service", "image_digest", "status", "started_at",
    "finished_at", "rolled_back_at", "actor", "strategy", "run_id", "repository", "commit",
    "reason",
)  # fmt: skip


def events_csv(page: EventPage) -> str:
    """The page as CSV: one row per event, data and metadata as JSON."""
    return csv_table(
        EVENT_COLUMNS,
        (
            (
                event.position,
                str(event.cursor),
                event.stream,
                event.version,
                str(event.event_id),
                event.type,
                event.schema_version,
                event.recorded_at.isoformat(),
                event.hash.hex(),
                json.dumps(event.data, separators=(",", ":"), ensure_ascii=False),
                json.dumps(event.metadata, separators=(",", ":"), ensure_ascii=False),
            )
            for event in page.events
        ),
    )


def deployments_csv(deployments: Iterable[Deployment]) -> str:
    """The deployment audit rows as CSV."""
    return csv_table(
        DEPLOYMENT_COLUMNS,
        (
            (d.deployment_id, d.environment, d.service, d.image_digest or "", d.status,
             _iso(d.started_at), _iso(d.finished_at), _iso(d.rolled_back_at), d.actor or "",
             d.strategy or "", d.run_id or "", d.repository or "", d.commit or "", d.reason or "")
            for d in deployments
        ),
    )  # fmt: skip


def _iso(moment: datetime | None) -> str:
    """An ISO 8601 time in UTC, or empty."""
    return "" if moment is None else moment.astimezone(UTC).isoformat()
