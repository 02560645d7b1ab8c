"""Environments: what each service runs, the deployment history, the deployment audit.

Store-level questions over the deployments projection (the SQL is in
app/queries/deployments.py), each answered on one connection, as of a cursor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.queries import deployments as q
from app.queries.deployments import DeploymentPage, Running
from app.velocity.records import Incident
from events.lookups import utc
from events.store import Cursor, EventStore


@dataclass(frozen=True)
class EnvironmentHistory:
    """What each service of an environment runs, and a page of its history, newest first."""

    environment: str
    running: list[Running]
    history: DeploymentPage


def environment_history(
    store: EventStore,
    environment: str,
    *,
    service: str | None = None,
    as_of: Cursor | None = None,
    limit: int = 50,
    after: int | None = None,
) -> EnvironmentHistory:
    """The environment's running images and its latest deployments (of `service`), as of."""
    with store.connection() as conn:
        running = q.running(conn, environment, as_of)
        history = q.page(
            conn,
            environment=environment,
            service=service,
            as_of=as_of,
            limit=limit,
            after=after,
            newest_first=True,
        )
    return EnvironmentHistory(environment, running, history)


def all_running(
    store: EventStore,
    as_of: Cursor | None = None,
    *,
    after: str | None = None,
    limit: int | None = None,
) -> dict[str, list[Running]]:
    """Environments (sorted, after `after`, at most `limit`) → what their services run, as of."""
    with store.connection() as conn:
        names = [env for env in q.environments(conn, as_of) if after is None or env > after]
        return {env: q.running(conn, env, as_of) for env in names[:limit]}


def environment_names(store: EventStore, as_of: Cursor | None = None) -> list[str]:
    """Every environment with at least one deployment, sorted."""
    with store.connection() as conn:
        return q.environments(conn, as_of)


def incidents_in(
    store: EventStore, environment: str, as_of: Cursor | None = None
) -> list[Incident]:
    """The incidents recorded for `environment`, newest opening first."""
    with store.connection() as conn:
        found = [i for i in q.incidents(conn, as_of) if i.environment == environment]
    found.sort(key=lambda i: (i.opened_at is None, i.opened_at), reverse=True)
    return found


@dataclass(frozen=True)
class DeploymentAudit:
    """Which deployments the audit lists: every filter optional, combined with AND."""

    environment: str | None = None
    service: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    as_of: Cursor | None = None
    limit: int = 100
    after: int | None = None


def audit_deployments(store: EventStore, query: DeploymentAudit) -> DeploymentPage:
    """Who deployed what, where, when, from which commit: a page in start order."""
    with store.connection() as conn:
        return q.page(
            conn,
            environment=query.environment,
            service=query.service,
            since=None if query.since is None else utc(query.since),
            until=None if query.until is None else utc(query.until),
            as_of=query.as_of,
            limit=query.limit,
            after=query.after,
        )
