"""Plain records of deployments and incidents, folded from their history rows.

A deployment's rows (started, succeeded or failed, rolled_back) arrive in
subscription order, which need not be the order they happened in; the fold
takes each fact from the row that owns it, so any order gives the same record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class DeploymentRow:
    """One row of proj_deployment_events: one deployment event."""

    position: int
    tx_id: int
    environment: str
    deployment_id: str
    service: str
    kind: str  # started | succeeded | failed | rolled_back
    image_digest: str | None
    at: datetime
    actor: str
    strategy: str | None = None
    run_id: str | None = None
    repository: str | None = None
    commit: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Deployment:
    """What is known of one rollout: who started it, what, where, and how it ended."""

    deployment_id: str
    environment: str
    service: str
    image_digest: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    outcome: str | None = None  # succeeded | failed | None (still running)
    rolled_back_at: datetime | None = None
    rolled_back_to: str | None = None
    actor: str | None = None
    strategy: str | None = None
    run_id: str | None = None
    repository: str | None = None
    commit: str | None = None
    reason: str | None = None
    position: int = 0  # of its first row in subscription order
    tx_id: int = 0
    # (tx_id, position) of its outcome row: where it finished in the ledger's order,
    # which (not the reported finish time) says which rollout came after which.
    outcome_cursor: tuple[int, int] | None = None

    @property
    def status(self) -> str:
        """started, succeeded, failed or rolled_back (a rollback overrides the outcome)."""
        if self.rolled_back_at is not None:
            return "rolled_back"
        return self.outcome or "started"

    @property
    def succeeded(self) -> bool:
        """It completed and was not rolled back: the service runs what it brought."""
        return self.outcome == "succeeded" and self.rolled_back_at is None


@dataclass(frozen=True)
class Incident:
    """One incident: where, what caused it (if known), when it opened and was resolved."""

    incident_id: str
    environment: str | None = None
    service: str | None = None
    caused_by_deployment: str | None = None
    opened_at: datetime | None = None
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class IncidentRow:
    """One row of proj_incident_events: an incident opened or resolved."""

    incident_id: str
    kind: str  # opened | resolved
    environment: str | None
    service: str | None
    caused_by_deployment: str | None
    at: datetime


def with_source(deployment: Deployment, repository: str | None, commit: str | None) -> Deployment:
    """A copy of `deployment` naming `repository` and `commit`.

    Copies the fields directly: dataclasses.replace runs __init__ again and, for the
    tens of thousands of deployments a velocity report resolves, took a large share
    of its Python time. Deployment has no __post_init__ to skip.
    """
    copy = object.__new__(Deployment)
    copy.__dict__.update(deployment.__dict__, repository=repository, commit=commit)
    return copy


def deployment_record(fields: dict[str, Any]) -> Deployment:
    """A Deployment of every one of its `fields`, made without running __init__ (as with_source).

    The velocity report makes tens of thousands of these per request.
    """
    record = object.__new__(Deployment)
    record.__dict__.update(fields)
    return record


def fold_deployments(rows: Iterable[DeploymentRow]) -> list[Deployment]:
    """One Deployment per deployment id, in the order their first rows appear."""
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        fields = found.get(row.deployment_id)
        if fields is None:
            fields = found[row.deployment_id] = {
                "deployment_id": row.deployment_id,
                "environment": row.environment,
                "service": row.service,
                "position": row.position,
                "tx_id": row.tx_id,
            }
        _apply(fields, row)
    return [Deployment(**fields) for fields in found.values()]


def _apply(fields: dict[str, Any], row: DeploymentRow) -> None:
    """Set in a deployment's `fields` the facts `row` owns."""
    if row.kind == "started":
        fields.update(
            started_at=row.at,
            actor=row.actor,
            strategy=row.strategy,
            run_id=row.run_id,
            repository=row.repository,
            commit=row.commit,
        )
        fields.setdefault("image_digest", row.image_digest)  # the outcome's digest wins
    elif row.kind in ("succeeded", "failed"):
        fields.update(
            outcome=row.kind, finished_at=row.at, outcome_cursor=(row.tx_id, row.position)
        )
        if row.image_digest is not None:
            fields["image_digest"] = row.image_digest
        if row.reason is not None:
            fields["reason"] = row.reason
    else:
        fields.update(rolled_back_at=row.at, rolled_back_to=row.image_digest)
        fields.setdefault("reason", row.reason)  # the failure's reason wins


def fold_incidents(rows: Iterable[IncidentRow]) -> list[Incident]:
    """One Incident per incident id, its opening's fields and its resolution's time."""
    found: dict[str, Incident] = {}
    for row in rows:
        current = found.get(row.incident_id) or Incident(row.incident_id)
        if row.kind == "opened":
            current = replace(
                current,
                environment=row.environment,
                service=row.service,
                caused_by_deployment=row.caused_by_deployment,
                opened_at=row.at,
            )
        else:
            current = replace(current, resolved_at=row.at)
        found[row.incident_id] = current
    return list(found.values())
