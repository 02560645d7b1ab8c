"""Response bodies of the deployment, environment and velocity routes, as OpenAPI shows them.

Each model is read from the attributes of the query's record (`model_validate(record)`).
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class _FromRecord(BaseModel):
    """A response model filled from a record's attributes."""

    model_config = ConfigDict(from_attributes=True)


class DeploymentOut(_FromRecord):
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


class DeploymentAuditPage(BaseModel):
    """Deployments by start time; `next` is the `after` of the next page, null at the end."""

    deployments: list[DeploymentOut]
    next: str | None


class RunningOut(_FromRecord):
    """What one service runs: the image and since when, and the rollout that brought it."""

    service: str
    image_digest: str | None
    since: datetime
    deployment_id: str
    how: str = Field(description="succeeded (a rollout) or rolled_back (back to this image).")
    actor: str


class EnvironmentRunning(BaseModel):
    """An environment and what each of its services runs."""

    environment: str
    running: list[RunningOut]


class EnvironmentOut(BaseModel):
    """An environment: what each service runs and its latest deployments, newest first."""

    environment: str
    as_of: str | None = Field(description="The ledger cursor answered from; null: now.")
    running: list[RunningOut]
    history: list[DeploymentOut]
    next: str | None = Field(description="`after` for older history; null at the end.")


class SummaryOut(_FromRecord):
    """Count, median and 90th percentile of samples (null without samples)."""

    count: int
    median: float | None
    p90: float | None


class WeekOut(_FromRecord):
    """One week (from Monday, UTC) of the trend; times in seconds."""

    week: date
    deployments: int
    lead_time_median: float | None
    change_failure_rate: float | None
    recovery_median: float | None


class VelocityOut(_FromRecord):
    """The DORA metrics of one service in one environment over the window."""

    service: str
    environment: str
    deployments: int = Field(description="Rollouts that succeeded in the window.")
    deployments_per_day: float
    weekly_deployments: SummaryOut = Field(description="Of the weekly counts.")
    frequency_level: str | None
    lead_time: SummaryOut = Field(description="Seconds from author time to production.")
    lead_time_level: str | None
    changes: int = Field(description="Deployments that finished in the window.")
    failed_changes: int
    change_failure_rate: float | None
    weekly_change_failure_rate: SummaryOut = Field(description="Of the weekly rates.")
    change_failure_level: str | None
    recovery: SummaryOut = Field(description="Seconds to recover from a failed change.")
    recovery_level: str | None
    unrecovered: int = Field(description="Failed changes not recovered from (yet).")
    weekly: list[WeekOut]


class VelocityReportOut(BaseModel):
    """Release velocity over a window: per service and environment, and per-stage timing (ms)."""

    since: datetime
    until: datetime
    environments: list[str]
    as_of: str | None
    services: list[VelocityOut]
    stages_ms: dict[str, SummaryOut]
