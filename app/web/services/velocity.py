"""The velocity page: deployments per week and where a run's time goes, per stage (step).

Filters: service, environment, window in days. Deployments are read from the
env-* streams' DeploymentSucceeded events (events_type_idx, then recorded_at);
step timings from the runs projection. The four DORA figures with their levels
come from the velocity service (app/velocity/), which this page shows once it is
part of the build; see `dora_available`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from app.projections.runs import RunsProjection
from app.web.charts import Chart, bar_chart
from app.web.services import params
from app.web.templating import duration
from events.projections import ProjectionError, current_tables
from events.store import EventStore

_NAME = r"[A-Za-z0-9][A-Za-z0-9._:@/+-]*"
MAX_STAGES = 12


@dataclass(frozen=True)
class VelocityFilters:
    """Service, environment and window (days) of the velocity page."""

    service: str | None = None
    environment: str | None = None
    days: int = 90

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> VelocityFilters:
        """The filters in the query string; BadParameter names any wrong one."""
        return cls(
            service=params.text(query, "service", pattern=_NAME),
            environment=params.text(query, "environment", pattern=_NAME),
            days=params.integer(query, "days", 90, 1, 3650),
        )


@dataclass(frozen=True)
class Stage:
    """One stage (a step name) of the runs in the window: how often, how long."""

    name: str
    count: int
    p50_ms: float
    p90_ms: float
    share: float  # of all step time in the window


@dataclass(frozen=True)
class VelocityView:
    """What the velocity page shows."""

    filters: VelocityFilters
    since: datetime
    deployments: int
    per_day: float
    weekly_deployments: Chart
    stages: list[Stage] = field(default_factory=list)
    dora_available: bool = False


def velocity_view(store: EventStore, filters: VelocityFilters) -> VelocityView:
    """The velocity figures for `filters`, over the last `filters.days` days."""
    until = datetime.now(UTC)
    since = until - timedelta(days=filters.days)
    with store.connection() as conn:
        weeks = _weekly_deployments(conn, filters, since)
        stages = _stages(conn, since)
    first = _monday(since.date())
    counts = {week: 0 for week in _mondays(first, until.date())} | weeks
    total = sum(weeks.values())
    chart = bar_chart(
        "Deployments per week",
        [(week.strftime("%d %b"), float(n)) for week, n in sorted(counts.items())],
        lambda v: f"{v:g}",
    )
    return VelocityView(filters, since, total, total / filters.days, chart, stages)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _mondays(first: date, last: date) -> list[date]:
    weeks, week = [], first
    while week <= last:
        weeks.append(week)
        week += timedelta(days=7)
    return weeks


def _weekly_deployments(conn: Any, filters: VelocityFilters, since: datetime) -> dict[date, int]:
    where = ["type = 'DeploymentSucceeded'", "recorded_at >= %s"]
    args: list[Any] = [since]
    if filters.environment is not None:
        where.append("stream = %s")
        args.append(f"env-{filters.environment}")
    if filters.service is not None:
        where.append("data->>'service' = %s")
        args.append(filters.service)
    rows = conn.execute(
        "SELECT (date_trunc('week', recorded_at AT TIME ZONE 'UTC'))::date, count(*) "
        f"FROM events WHERE {' AND '.join(where)} GROUP BY 1",
        args,
    ).fetchall()
    return {row[0]: int(row[1]) for row in rows}


def _stages(conn: Any, since: datetime) -> list[Stage]:
    try:
        t = current_tables(conn, RunsProjection())
    except ProjectionError:
        return []
    rows = conn.execute(
        "SELECT s.step, count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY s.duration_ms), "
        "percentile_cont(0.9) WITHIN GROUP (ORDER BY s.duration_ms), sum(s.duration_ms) "
        f"FROM {t['steps']} s JOIN {t['runs']} r USING (run_id) "
        "WHERE r.queued_at >= %s AND s.duration_ms IS NOT NULL "
        "GROUP BY s.step ORDER BY sum(s.duration_ms) DESC LIMIT %s",
        (since, MAX_STAGES),
    ).fetchall()
    total = sum(float(row[4]) for row in rows) or 1.0
    return [
        Stage(row[0], int(row[1]), float(row[2]), float(row[3]), float(row[4]) / total)
        for row in rows
    ]


def stage_label(stage: Stage) -> str:
    """A stage's timings in words."""
    return f"p50 {duration(stage.p50_ms)}, p90 {duration(stage.p90_ms)}"
