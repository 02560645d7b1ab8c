"""The deployments projection: deployments, rollbacks, incidents and pushed commits, as histories.

Folded from the env-*, incident-* and repo-* streams, plus the run-* streams'
TestsReported (which steps ran tests, for per-stage timing).
migrations/0021_deployments_projection.sql holds version 1's tables.

Every table is a history: one row per event, inserted, never updated, carrying
the event's ledger cursor (tx_id, position). What held as of any cursor is then
the rows at or before it, so `as_of` queries filter instead of re-folding
(app/queries/deployments.py). Times are the events' own (started_at,
finished_at, opened_at, resolved_at) and, when those are null, the events'
recorded_at, so the rows depend on the ledger alone and a rebuild reproduces them.

A deployment's state (status, finish, rollback) is not stored but folded from
its rows when read: rows of one deployment can arrive in any subscription order
and an insert-only table needs no upsert rules for that. Being insert-only, its
writes commute (`writes_commute`): a batch is loaded by COPY.
"""

from __future__ import annotations

from collections.abc import Iterator

from events.projections import Insert, Write, table_name
from events.store import RecordedEvent
from events.vocabulary import (
    CommitsPushed,
    DeploymentFailed,
    DeploymentStarted,
    DeploymentSucceeded,
    IncidentOpened,
    IncidentResolved,
    RolledBack,
    TestsReported,
)

VERSION = 1
RELATIONS = ("deployment_events", "incident_events", "pushed_commits", "tested_steps")

_DEPLOYMENT_COLUMNS = (
    "position", "tx_id", "environment", "deployment_id", "service", "kind", "image_digest",
    "at", "recorded_at", "actor", "strategy", "run_id", "repository", "commit", "reason",
)  # fmt: skip
_INCIDENT_COLUMNS = (
    "position", "tx_id", "incident_id", "kind", "environment", "service", "summary",
    "caused_by_deployment", "resolution", "at", "actor",
)  # fmt: skip
_COMMIT_COLUMNS = ("position", "seq", "tx_id", "repository", "ref", "sha", "authored_at")
_TESTED_COLUMNS = ("position", "tx_id", "run_id", "step")


class DeploymentsProjection:
    """Deployment, incident, pushed-commit and tested-step histories, one row per event."""

    name = "deployments"
    relations = RELATIONS
    writes_commute = True  # insert-only: batches may go by COPY (events/projections.py)

    def __init__(self, version: int = VERSION) -> None:
        self.version = version
        deployments, incidents, commits, tested = (table_name(r, version) for r in RELATIONS)
        self._deployment = Insert(deployments, _DEPLOYMENT_COLUMNS)
        self._incident = Insert(incidents, _INCIDENT_COLUMNS)
        self._commit = Insert(commits, _COMMIT_COLUMNS)
        self._tested = Insert(tested, _TESTED_COLUMNS)

    def handle(self, event: RecordedEvent) -> Iterator[Write]:
        """The row(s) one event adds; events of other kinds write nothing."""
        category, _, name = event.stream.partition("-")
        data, head = event.data, (event.position, event.tx_id)
        if category == "env":
            yield from self._env(event, name)
        elif category == "incident" and isinstance(data, IncidentOpened):
            yield self._incident, (
                *head, name, "opened", data.environment, data.service, data.summary,
                data.caused_by_deployment, None, data.opened_at or event.recorded_at,
                event.metadata.actor,
            )  # fmt: skip
        elif category == "incident" and isinstance(data, IncidentResolved):
            yield self._incident, (
                *head, name, "resolved", None, None, None, None, data.resolution,
                data.resolved_at or event.recorded_at, event.metadata.actor,
            )  # fmt: skip
        elif category == "repo" and isinstance(data, CommitsPushed):
            for seq, commit in enumerate(data.commits):
                yield self._commit, (
                    *head[:1], seq, event.tx_id, data.repository, data.ref, commit.sha,
                    commit.authored_at,
                )  # fmt: skip
        elif category == "run" and isinstance(data, TestsReported):
            yield self._tested, (*head, name, data.step)

    def _env(self, event: RecordedEvent, environment: str) -> Iterator[Write]:
        """The row of one deployment event of `env-<environment>`."""
        data, at = event.data, event.recorded_at
        # kind, image, time, strategy, run, repository, commit, reason
        row: tuple[object, ...]
        if isinstance(data, DeploymentStarted):
            row = ("started", data.image_digest, data.started_at or at, data.strategy,
                   data.run_id, data.repository, data.commit, None)  # fmt: skip
        elif isinstance(data, DeploymentSucceeded):
            row = ("succeeded", data.image_digest, data.finished_at or at, *[None] * 5)
        elif isinstance(data, DeploymentFailed):
            row = ("failed", None, data.finished_at or at, *[None] * 4, data.reason)
        elif isinstance(data, RolledBack):
            row = ("rolled_back", data.image_digest, data.finished_at or at, *[None] * 4,
                   data.reason)  # fmt: skip
        else:
            return
        yield self._deployment, (
            event.position, event.tx_id, environment, data.deployment_id, data.service,
            *row[:3], event.recorded_at, event.metadata.actor, *row[3:],
        )  # fmt: skip
