"""Response bodies of the velocity route: DORA metrics per service and stage timing."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from app.api.schemas.base import FromRecord


class SummaryOut(FromRecord):
    """Count, median and 90th percentile of samples (null without samples)."""

    count: int
    median: float | None
    p90: float | None


class WeekOut(FromRecord):
    """One week (from Monday, UTC) of the trend; times in seconds."""

    week: date
    deployments: int
    lead_time_median: float | None
    change_failure_rate: float | None
    recovery_median: float | None


class VelocityOut(FromRecord):
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
    lead_time_from_commit_time: int = Field(
        description="Lead time samples timed from the commit's own time (RunQueued), since "
        "no push of the commit was recorded; the others are timed from the push's author time."
    )


class VelocityReportOut(BaseModel):
    """Release velocity over a window: per service and environment, and per-stage timing (ms)."""

    since: datetime
    until: datetime
    environments: list[str]
    as_of: str | None
    services: list[VelocityOut]
    stages_ms: dict[str, SummaryOut]
