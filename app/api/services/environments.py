"""Reading deployments: an environment's running images and history, and the deployment audit."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime

from app.queries import deployments as q
from app.velocity.records import Deployment
from events.store import Cursor, EventStore


@dataclass(frozen=True)
class EnvironmentView:
    """What each service of an environment runs, and a page of its history, newest first."""

    environment: str
    running: list[q.Running]
    history: q.DeploymentPage


def environment_view(
    store: EventStore,
    environment: str,
    *,
    service: str | None = None,
    as_of: Cursor | None = None,
    limit: int = 50,
    after: int | None = None,
) -> EnvironmentView:
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
    return EnvironmentView(environment, running, history)


def all_running(store: EventStore, as_of: Cursor | None = None) -> dict[str, list[q.Running]]:
    """Every environment (sorted) → what each of its services runs, as of `as_of`."""
    with store.connection() as conn:
        return {env: q.running(conn, env, as_of) for env in q.environments(conn, as_of)}


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


def audit_deployments(store: EventStore, query: DeploymentAudit) -> q.DeploymentPage:
    """Who deployed what, where, when, from which commit: a page in start order."""
    with store.connection() as conn:
        return q.page(
            conn,
            environment=query.environment,
            service=query.service,
            since=_utc(query.since),
            until=_utc(query.until),
            as_of=query.as_of,
            limit=query.limit,
            after=query.after,
        )


AUDIT_CSV_COLUMNS = (
    "deployment_id", "environment", "service", "image_digest", "status", "started_at",
    "finished_at", "rolled_back_at", "actor", "strategy", "run_id", "repository", "commit",
    "reason",
)  # fmt: skip


def audit_csv(deployments: list[Deployment]) -> str:
    """The audit rows as CSV, a header row first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(AUDIT_CSV_COLUMNS)
    for d in deployments:
        writer.writerow(
            (d.deployment_id, d.environment, d.service, d.image_digest or "", d.status,
             _iso(d.started_at), _iso(d.finished_at), _iso(d.rolled_back_at), d.actor or "",
             d.strategy or "", d.run_id or "", d.repository or "", d.commit or "", d.reason or "")
        )  # fmt: skip
    return out.getvalue()


def _iso(moment: datetime | None) -> str:
    """An ISO 8601 time in UTC, or empty."""
    return "" if moment is None else moment.astimezone(UTC).isoformat()


def _utc(moment: datetime | None) -> datetime | None:
    """`moment` with a time zone; a naive one is taken to be UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
