"""The dora projection: each deployment and incident folded once into one row.

Folded from the env-* and incident-* streams (migrations/0080_dora_projection.sql).
The velocity report used to load every deployment event of the production
environments and fold them into records in Python on every request; this
projection keeps the folded record, so the report reads one row per deployment.

The rows equal what app/velocity/records.py's fold_deployments and fold_incidents
make of the same events (tests/velocity/test_dora_projection.py compares them):
a rollout's start, its outcome and its rollback each own their columns, and each
kind's upsert sets only those, so the kinds commute and any subscription order, any
cut into batches, and a rebuild give the same row. Within one kind the ledger's
order decides (the last outcome wins; the first start's image and the first
rollback's reason stay), as in the fold.
"""

from __future__ import annotations

from collections.abc import Iterator

from events.projections import Write, table_name
from events.store import RecordedEvent
from events.vocabulary import (
    DeploymentFailed,
    DeploymentStarted,
    DeploymentSucceeded,
    IncidentOpened,
    IncidentResolved,
    RolledBack,
)

VERSION = 1
RELATIONS = ("dora_deployments", "dora_incidents")
_KEY = ("deployment_id", "environment", "service", "position", "tx_id")
# Every kind keeps the cursor of the deployment's first row (the fold's order key).
_EARLIER = "(EXCLUDED.tx_id, EXCLUDED.position) < (d.tx_id, d.position)"
_FIRST = (
    f"position = CASE WHEN {_EARLIER} THEN EXCLUDED.position ELSE d.position END, "
    f"tx_id = CASE WHEN {_EARLIER} THEN EXCLUDED.tx_id ELSE d.tx_id END"
)


class DoraProjection:
    """Deployments and incidents, one folded row each, for the DORA metrics."""

    name = "dora"
    relations = RELATIONS
    writes_commute = True  # each event kind's upsert sets only its own columns

    def __init__(self, version: int = VERSION) -> None:
        self.version = version
        deployments, incidents = (table_name(r, version) for r in RELATIONS)
        self._started = _upsert(
            deployments,
            ("started", "started_digest", "started_at", "actor", "strategy", "run_id",
             "repository", "commit"),
            "started = true, started_digest = CASE WHEN d.started THEN d.started_digest "
            "ELSE EXCLUDED.started_digest END, started_at = EXCLUDED.started_at, "
            "actor = EXCLUDED.actor, strategy = EXCLUDED.strategy, run_id = EXCLUDED.run_id, "
            "repository = EXCLUDED.repository, commit = EXCLUDED.commit",
        )  # fmt: skip
        self._outcome = _upsert(
            deployments,
            ("outcome", "finished_at", "outcome_digest", "outcome_reason", "outcome_tx_id",
             "outcome_position"),
            "outcome = EXCLUDED.outcome, finished_at = EXCLUDED.finished_at, "
            "outcome_digest = coalesce(EXCLUDED.outcome_digest, d.outcome_digest), "
            "outcome_reason = coalesce(EXCLUDED.outcome_reason, d.outcome_reason), "
            "outcome_tx_id = EXCLUDED.outcome_tx_id, "
            "outcome_position = EXCLUDED.outcome_position",
        )  # fmt: skip
        self._rollback = _upsert(
            deployments,
            ("rolled_back_at", "rolled_back_to", "rollback_reason"),
            "rollback_reason = CASE WHEN d.rolled_back_at IS NULL THEN EXCLUDED.rollback_reason "
            "ELSE d.rollback_reason END, rolled_back_at = EXCLUDED.rolled_back_at, "
            "rolled_back_to = EXCLUDED.rolled_back_to",
        )
        self._opened = (
            f"INSERT INTO {incidents} AS i (incident_id, environment, service, "
            "caused_by_deployment, opened_at) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (incident_id) DO UPDATE SET environment = EXCLUDED.environment, "
            "service = EXCLUDED.service, caused_by_deployment = EXCLUDED.caused_by_deployment, "
            "opened_at = EXCLUDED.opened_at"
        )
        self._resolved = (
            f"INSERT INTO {incidents} AS i (incident_id, resolved_at) VALUES (%s, %s) "
            "ON CONFLICT (incident_id) DO UPDATE SET resolved_at = EXCLUDED.resolved_at"
        )

    def handle(self, event: RecordedEvent) -> Iterator[Write]:
        """The upsert one deployment or incident event makes; other events write nothing."""
        category, _, name = event.stream.partition("-")
        data, at = event.data, event.recorded_at
        if category == "incident" and isinstance(data, IncidentOpened):
            yield self._opened, (
                name, data.environment, data.service, data.caused_by_deployment,
                data.opened_at or at,
            )  # fmt: skip
        elif category == "incident" and isinstance(data, IncidentResolved):
            yield self._resolved, (name, data.resolved_at or at)
        if category != "env":
            return
        key = (event.position, event.tx_id)
        if isinstance(data, DeploymentStarted):
            yield self._started, (
                data.deployment_id, name, data.service, *key, True, data.image_digest,
                data.started_at or at, event.metadata.actor, data.strategy, data.run_id,
                data.repository, data.commit,
            )  # fmt: skip
        elif isinstance(data, DeploymentSucceeded | DeploymentFailed):
            succeeded = isinstance(data, DeploymentSucceeded)
            yield self._outcome, (
                data.deployment_id, name, data.service, *key,
                "succeeded" if succeeded else "failed", data.finished_at or at,
                data.image_digest if isinstance(data, DeploymentSucceeded) else None,
                None if isinstance(data, DeploymentSucceeded) else data.reason, *key[::-1],
            )  # fmt: skip
        elif isinstance(data, RolledBack):
            yield self._rollback, (
                data.deployment_id, name, data.service, *key, data.finished_at or at,
                data.image_digest, data.reason,
            )  # fmt: skip


def _upsert(table: str, columns: tuple[str, ...], sets: str) -> str:
    """INSERT of the key and `columns` of one deployment that, if it exists, runs `sets`."""
    names = _KEY + columns
    marks = ", ".join(["%s"] * len(names))
    return (
        f"INSERT INTO {table} AS d ({', '.join(names)}) VALUES ({marks}) "
        f"ON CONFLICT (deployment_id) DO UPDATE SET {sets}, {_FIRST}"
    )
