"""Response bodies of the deployment, environment and velocity routes, as OpenAPI shows them."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from app.queries.deployments import Running
from app.velocity.metrics import Velocity, Week
from app.velocity.records import Deployment
from app.velocity.stats import Summary


class DeploymentOut(BaseModel):
    """One rollout: who started it, of what, where, when, from which commit, and its outcome."""

    deployment_id: str
    environment: str
    service: str
    image_digest: str | None
    status: str = Field(description="started, succeeded, failed or rolled_back.")
    started_at: datetime | None
    finished_at: datetime | None
    rolled_back_at: datetime | None
    actor: str | None = Field(description="Who reported the rollout's start.")
    strategy: str | None
    run_id: str | None
    repository: str | None
    commit: str | None = Field(description="Its own, else its run's, else its image's run's.")
    reason: str | None

    @classmethod
    def of(cls, d: Deployment) -> DeploymentOut:
        """The response form of a deployment."""
        return cls(
            deployment_id=d.deployment_id,
            environment=d.environment,
            service=d.service,
            image_digest=d.image_digest,
            status=d.status,
            started_at=d.started_at,
            finished_at=d.finished_at,
            rolled_back_at=d.rolled_back_at,
            actor=d.actor,
            strategy=d.strategy,
            run_id=d.run_id,
            repository=d.repository,
            commit=d.commit,
            reason=d.reason,
        )


class DeploymentAuditPage(BaseModel):
    """Deployments by start time; `next` is the `after` of the next page, null at the end."""

    deployments: list[DeploymentOut]
    next: str | None


class RunningOut(BaseModel):
    """What one service runs: the image and since when, and the rollout that brought it."""

    service: str
    image_digest: str | None
    since: datetime
    deployment_id: str
    how: str = Field(description="succeeded (a rollout) or rolled_back (back to this image).")
    actor: str

    @classmethod
    def of(cls, r: Running) -> RunningOut:
        """The response form of a running image."""
        return cls(
            service=r.service,
            image_digest=r.image_digest,
            since=r.since,
            deployment_id=r.deployment_id,
            how=r.how,
            actor=r.actor,
        )


class EnvironmentOut(BaseModel):
    """An environment: what each service runs and its latest deployments, newest first."""

    environment: str
    as_of: str | None = Field(description="The ledger cursor answered from; null: now.")
    running: list[RunningOut]
    history: list[DeploymentOut]
    next: str | None = Field(description="`after` for older history; null at the end.")


class SummaryOut(BaseModel):
    """Count, median and 90th percentile of samples (null without samples)."""

    count: int
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, s: Summary) -> SummaryOut:
        """The response form of a summary."""
        return cls(count=s.count, median=s.median, p90=s.p90)


class WeekOut(BaseModel):
    """One week (from Monday, UTC) of the trend; times in seconds."""

    week: date
    deployments: int
    lead_time_median: float | None
    change_failure_rate: float | None
    recovery_median: float | None

    @classmethod
    def of(cls, w: Week) -> WeekOut:
        """The response form of a week."""
        return cls(
            week=w.week,
            deployments=w.deployments,
            lead_time_median=w.lead_time_median,
            change_failure_rate=w.change_failure_rate,
            recovery_median=w.recovery_median,
        )


class VelocityOut(BaseModel):
    """The DORA metrics of one service in one environment; durations in seconds."""

    service: str
    environment: str
    deployments: int
    deployments_per_day: float
    weekly_deployments: SummaryOut
    frequency_level: str | None
    lead_time_seconds: SummaryOut
    lead_time_level: str | None
    changes: int = Field(description="Deployments that finished in the window.")
    failed_changes: int
    change_failure_rate: float | None
    change_failure_level: str | None
    recovery_seconds: SummaryOut
    recovery_level: str | None
    unrecovered: int = Field(description="Failed changes not recovered from (yet).")
    weekly: list[WeekOut]

    @classmethod
    def of(cls, v: Velocity) -> VelocityOut:
        """The response form of one group's metrics."""
        return cls(
            service=v.service,
            environment=v.environment,
            deployments=v.deployments,
            deployments_per_day=v.deployments_per_day,
            weekly_deployments=SummaryOut.of(v.weekly_deployments),
            frequency_level=v.frequency_level,
            lead_time_seconds=SummaryOut.of(v.lead_time),
            lead_time_level=v.lead_time_level,
            changes=v.changes,
            failed_changes=v.failed_changes,
            change_failure_rate=v.change_failure_rate,
            change_failure_level=v.change_failure_level,
            recovery_seconds=SummaryOut.of(v.recovery),
            recovery_level=v.recovery_level,
            unrecovered=v.unrecovered,
            weekly=[WeekOut.of(w) for w in v.weekly],
        )


class VelocityReportOut(BaseModel):
    """Release velocity over a window: per service and environment, and per-stage timing (ms)."""

    since: datetime
    until: datetime
    environments: list[str]
    as_of: str | None
    services: list[VelocityOut]
    stages_ms: dict[str, SummaryOut]
