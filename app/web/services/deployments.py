"""Deployments read straight from the env-* streams, for the image and environment pages.

A stop-gap until a deployments projection exists: the events are few per
environment, and the image page finds its deployment events through
events_deployed_digest_idx (migrations/0042).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

DEPLOY_TYPES = ("DeploymentStarted", "DeploymentSucceeded", "DeploymentFailed", "RolledBack")
# The events after which a service runs the image they name.
RUNNING_TYPES = ("DeploymentSucceeded", "RolledBack")


@dataclass(frozen=True)
class DeployEvent:
    """One deployment event of an environment's stream."""

    environment: str
    type: str
    service: str
    deployment_id: str
    image_digest: str | None
    reason: str | None
    actor: str | None
    recorded_at: datetime
    position: int


def _event(row: tuple[Any, ...]) -> DeployEvent:
    stream, type_name, data, metadata, recorded_at, position = row
    return DeployEvent(
        environment=stream.removeprefix("env-"),
        type=type_name,
        service=str(data.get("service", "")),
        deployment_id=str(data.get("deployment_id", "")),
        image_digest=data.get("image_digest"),
        reason=data.get("reason"),
        actor=metadata.get("actor"),
        recorded_at=recorded_at,
        position=position,
    )


_COLUMNS = "stream, type, data, metadata, recorded_at, position"
_VISIBLE = "tx_id < pg_snapshot_xmin(pg_current_snapshot())"


def events_of_image(conn: psycopg.Connection[Any], digest: str) -> list[DeployEvent]:
    """Every deployment event that names `digest`, oldest first."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM events WHERE data ? 'image_digest' "
        f"AND data->>'image_digest' = %s AND type = ANY(%s) AND {_VISIBLE} "
        "ORDER BY tx_id, position",
        (digest, list(DEPLOY_TYPES)),
    ).fetchall()
    return [_event(row) for row in rows]


def events_of_environment(
    conn: psycopg.Connection[Any], environment: str, limit: int = 500
) -> list[DeployEvent]:
    """The latest `limit` deployment events of one environment, newest first."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM events WHERE stream = %s AND type = ANY(%s) AND {_VISIBLE} "
        "ORDER BY version DESC LIMIT %s",
        (f"env-{environment}", list(DEPLOY_TYPES), limit),
    ).fetchall()
    return [_event(row) for row in rows]


def running_now(events_newest_first: list[DeployEvent]) -> dict[str, DeployEvent]:
    """Service → the event after which it runs its current image (from one environment)."""
    current: dict[str, DeployEvent] = {}
    for event in events_newest_first:
        if event.type in RUNNING_TYPES and event.service not in current:
            current[event.service] = event
    return current


def current_image(conn: psycopg.Connection[Any], environment: str, service: str) -> str | None:
    """The digest `service` runs in `environment` now, by its latest success or rollback."""
    row = conn.execute(
        f"SELECT data->>'image_digest' FROM events WHERE stream = %s AND type = ANY(%s) "
        f"AND data->>'service' = %s AND {_VISIBLE} ORDER BY version DESC LIMIT 1",
        (f"env-{environment}", list(RUNNING_TYPES), service),
    ).fetchone()
    return None if row is None else row[0]


def environment_names(conn: psycopg.Connection[Any]) -> list[str]:
    """Every environment with at least one event."""
    rows = conn.execute(
        "SELECT DISTINCT stream FROM events WHERE split_part(stream, '-', 1) = 'env' ORDER BY 1"
    ).fetchall()
    return [row[0].removeprefix("env-") for row in rows]
