"""The environment pages: what runs now per service, the deployment history, rollbacks, incidents.

Read from the env-<name> stream and the incident-* streams (see deployments.py);
a deployments/incidents projection can replace these reads without changing the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.web.errors import BadParameter, NotFound
from app.web.services.deployments import (
    DeployEvent,
    environment_names,
    events_of_environment,
    running_now,
)
from events.store import EventStore

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+-]*")
MAX_INCIDENTS = 200


@dataclass(frozen=True)
class Incident:
    """An incident of the environment, open or resolved."""

    incident_id: str
    service: str
    summary: str
    caused_by: str | None
    opened_at: datetime
    resolved_at: datetime | None
    resolution: str | None


@dataclass(frozen=True)
class EnvironmentView:
    """Everything the environment page shows."""

    name: str
    now: dict[str, DeployEvent]
    history: list[DeployEvent]
    incidents: list[Incident]

    @property
    def rollbacks(self) -> list[DeployEvent]:
        """The rollbacks in the history, newest first."""
        return [e for e in self.history if e.type == "RolledBack"]


def environment_list(store: EventStore) -> list[str]:
    """Every environment with at least one event."""
    with store.connection() as conn:
        return environment_names(conn)


def environment_view(store: EventStore, name: str) -> EnvironmentView:
    """The environment page's view of `name`; NotFound when it has no event at all."""
    if not _NAME.fullmatch(name) or len(name) > 190:
        raise BadParameter("environment", f"{name!r} is not an environment name")
    with store.connection() as conn:
        history = events_of_environment(conn, name)
        incidents = _incidents(conn, name)
    if not history and not incidents:
        raise NotFound(f"no environment {name!r} is recorded: nothing was deployed to it")
    return EnvironmentView(name, running_now(history), history, incidents)


def _incidents(conn: Any, environment: str) -> list[Incident]:
    """The environment's incidents, newest first, with their resolution if any."""
    rows = conn.execute(
        "SELECT o.stream, o.data, o.recorded_at, r.data, r.recorded_at FROM events o "
        "LEFT JOIN events r ON r.stream = o.stream AND r.type = 'IncidentResolved' "
        "WHERE split_part(o.stream, '-', 1) = 'incident' AND o.type = 'IncidentOpened' "
        "AND o.data->>'environment' = %s ORDER BY o.position DESC LIMIT %s",
        (environment, MAX_INCIDENTS),
    ).fetchall()
    found = []
    for stream, opened, opened_at, resolved, resolved_at in rows:
        found.append(
            Incident(
                incident_id=stream.removeprefix("incident-"),
                service=str(opened.get("service", "")),
                summary=str(opened.get("summary", "")),
                caused_by=opened.get("caused_by_deployment"),
                opened_at=_time(opened.get("opened_at")) or opened_at,
                resolved_at=(_time(resolved.get("resolved_at")) or resolved_at)
                if resolved is not None
                else None,
                resolution=resolved.get("resolution") if resolved is not None else None,
            )
        )
    return found


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
