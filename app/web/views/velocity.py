"""The velocity page: the four DORA figures with their levels, weekly charts, time per stage.

A view over the velocity report (app/queries/velocity.py, definitions in
docs/velocity.md): one section per service and production environment, each with
its figures and weekly charts drawn as SVG on the server, and the per-stage
breakdown of the runs in the window. Filters: service, environment, window in days.
The window ends at the next whole minute and its report is kept per window and
refreshed in the background when the ledger moves (app/queries/velocity_windows.py),
so every visit after the first is quick; the page says when its figures were computed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from app.queries.errors import InvalidParameter
from app.queries.velocity import VelocityReport
from app.queries.velocity_windows import windowed_report
from app.velocity.metrics import Velocity
from app.velocity.stats import Summary
from app.web import params
from app.web.charts import Chart, bar_chart, line_chart
from app.web.errors import BadParameter
from app.web.templating import duration
from events.store import EventStore

_NAME = r"[A-Za-z0-9][A-Za-z0-9._:@/+-]*"
# The report's URL parameter names, as the page calls them.
_PARAMETERS = {"env": "environment", "since": "days", "until": "days", "service": "service"}


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
class Figure:
    """One DORA figure: its name, value in words, detail and performance level."""

    name: str
    value: str
    detail: str
    level: str | None


@dataclass(frozen=True)
class Group:
    """The figures and weekly charts of one service in one environment."""

    service: str
    environment: str
    figures: list[Figure]
    charts: list[Chart]


@dataclass(frozen=True)
class VelocityView:
    """What the velocity page shows."""

    filters: VelocityFilters
    report: VelocityReport
    groups: list[Group]
    stages: list[tuple[str, Summary]]
    computed_at: datetime
    refreshing: bool  # newer figures are being computed in the background


def velocity_view(
    store: EventStore, production: Sequence[str], filters: VelocityFilters
) -> VelocityView:
    """The velocity figures for `filters` over the production environments."""
    try:
        found = windowed_report(
            store,
            production,
            days=filters.days,
            environment=filters.environment,
            service=filters.service,
        )
    except InvalidParameter as error:
        raise BadParameter(_PARAMETERS.get(error.parameter, error.parameter), str(error)) from None
    report = found.report
    groups = [_group(v) for v in report.groups]
    stages = list(report.stages.items())
    return VelocityView(filters, report, groups, stages, found.computed_at, found.refreshing)


def _seconds(value: float | None) -> str:
    return "—" if value is None else duration(value * 1000)


def _group(v: Velocity) -> Group:
    figures = [
        Figure("Deployment frequency", f"{v.deployments_per_day:.2f}/day",
               _plural(v.deployments, "deployment"), v.frequency_level),
        Figure("Lead time for changes", _seconds(v.lead_time.median),
               f"p90 {_seconds(v.lead_time.p90)}, {_plural(v.lead_time.count, 'change')}"
               + (f", {v.lead_time_from_commit_time} timed from the commit (no push recorded)"
                  if v.lead_time_from_commit_time else ""),
               v.lead_time_level),
        Figure("Change failure rate",
               "—" if v.change_failure_rate is None else f"{v.change_failure_rate:.0%}",
               f"{v.failed_changes} of {_plural(v.changes, 'deployment')}",
               v.change_failure_level),
        Figure("Failed deployment recovery time", _seconds(v.recovery.median),
               f"p90 {_seconds(v.recovery.p90)}, {v.unrecovered} not recovered",
               v.recovery_level),
    ]  # fmt: skip
    weeks = [w.week.strftime("%d %b") for w in v.weekly]
    charts = [
        bar_chart("Deployments per week", [(label, float(w.deployments)) for label, w in
                                           zip(weeks, v.weekly, strict=True)], _count),
        line_chart("Lead time per week (p50, p90)", weeks,
                   [("p50", "p50", [_hours(w.lead_time_median) for w in v.weekly]),
                    ("p90", "p90", [_hours(w.lead_time_p90) for w in v.weekly])], _h),
        line_chart("Change failure rate per week", weeks,
                   [("rate", "p50", [_percent(w.change_failure_rate) for w in v.weekly])],
                   lambda x: f"{x:g}%"),
        line_chart("Recovery time, weekly median", weeks,
                   [("median", "p50", [_hours(w.recovery_median) for w in v.weekly])], _h),
    ]  # fmt: skip
    return Group(v.service, v.environment, figures, charts)


def _count(value: float) -> str:
    return f"{value:g}"


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 3600


def _h(hours: float) -> str:
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


def _percent(rate: float | None) -> float | None:
    return None if rate is None else rate * 100


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
