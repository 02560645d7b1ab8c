"""Expected velocity figures, computed from a generated History with the tests' own code.

Nothing here imports shiplog's velocity code: the definitions of docs/velocity.md
are re-implemented plainly over the generator's record, so the tests compare two
independent computations. `horizon` limits what is known to what happened before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from tests.support.velocity_history import History, PlannedDeployment

NEVER = datetime.max.replace(tzinfo=UTC)


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (R's type 7), written out plainly."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    weight = position - below
    return ordered[below] * (1 - weight) + ordered[above] * weight


@dataclass
class Expected:
    """What the report should say for one service in production."""

    deployments: int
    changes: int
    failed: int
    lead_times: list[float]
    recoveries: list[float]
    unrecovered: int
    weekly_deployments: dict[date, int]
    weekly_lead_times: dict[date, list[float]]
    weekly_changes: dict[date, tuple[int, int]]  # (failed, finished)


def known(moment: datetime | None, horizon: datetime) -> bool:
    """The moment happened (and was recorded) before the horizon."""
    return moment is not None and moment < horizon


def expected(
    history: History,
    service: str,
    since: datetime,
    until: datetime,
    horizon: datetime = NEVER,
    environment: str = "production",
) -> Expected:
    """The figures of `service` in `environment` over [since, until), as known at `horizon`."""
    mine = [
        d
        for d in history.deployments
        if d.service == service and d.environment == environment and known(d.finished_at, horizon)
    ]
    mine.sort(key=lambda d: d.finished_at)

    def inside(moment: datetime) -> bool:
        return since <= moment < until

    def rolled_back(d: PlannedDeployment) -> bool:
        return known(d.rolled_back_at, horizon)

    def caused_incident(d: PlannedDeployment) -> bool:
        return known(d.incident_opened_at, horizon)

    # Lead time: walk the rollouts that stuck, in finish order.
    commits = [c for c in history.commits[f"acme/{service}"] if known(c.pushed_at, horizon)]
    where = {c.sha: i for i, c in enumerate(commits)}
    last_index = -1
    delivered: set[str] = set()
    leads: list[float] = []
    lead_weeks: list[tuple[date, float]] = []
    for d in mine:
        if d.outcome != "succeeded" or rolled_back(d):
            continue
        index = where[d.commit]
        for c in commits[last_index + 1 : index + 1]:
            if c.sha in delivered:
                continue
            delivered.add(c.sha)
            if inside(d.finished_at):
                leads.append((d.finished_at - c.authored_at).total_seconds())
                lead_weeks.append((monday_of(d.finished_at), leads[-1]))
        last_index = index

    weeks: dict[date, int] = {}
    monday = since.date() - timedelta(days=since.weekday())
    while datetime(monday.year, monday.month, monday.day, tzinfo=UTC) < until:
        weeks[monday] = 0
        monday += timedelta(days=7)

    weekly_leads: dict[date, list[float]] = {week: [] for week in weeks}
    for week, seconds in lead_weeks:
        weekly_leads[week].append(seconds)
    weekly_changes = dict.fromkeys(weeks, (0, 0))
    deployments = changes = failed = unrecovered = 0
    recoveries: list[float] = []
    for i, d in enumerate(mine):
        if not inside(d.finished_at):
            continue
        changes += 1
        week_failed, week_finished = weekly_changes[monday_of(d.finished_at)]
        weekly_changes[monday_of(d.finished_at)] = (week_failed, week_finished + 1)
        if d.outcome == "succeeded":
            deployments += 1
            day = d.finished_at.date()
            weeks[day - timedelta(days=day.weekday())] += 1
        if not (d.outcome == "failed" or rolled_back(d) or caused_incident(d)):
            continue
        failed += 1
        week_failed, week_finished = weekly_changes[monday_of(d.finished_at)]
        weekly_changes[monday_of(d.finished_at)] = (week_failed + 1, week_finished)
        if caused_incident(d):
            if known(d.incident_resolved_at, horizon):
                assert d.incident_resolved_at is not None and d.incident_opened_at is not None
                recoveries.append((d.incident_resolved_at - d.incident_opened_at).total_seconds())
            else:
                unrecovered += 1
        elif rolled_back(d):
            assert d.rolled_back_at is not None
            recoveries.append((d.rolled_back_at - d.finished_at).total_seconds())
        else:
            fix = next((e for e in mine[i + 1 :] if e.outcome == "succeeded"), None)
            if fix is None:
                unrecovered += 1
            else:
                recoveries.append((fix.finished_at - d.finished_at).total_seconds())
    return Expected(
        deployments, changes, failed, leads, recoveries, unrecovered, weeks, weekly_leads,
        weekly_changes,
    )  # fmt: skip


def monday_of(moment: datetime) -> date:
    """The Monday of the (UTC) week `moment` is in."""
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def level_of_lead_time(seconds: float | None) -> str | None:
    """DORA 2023: elite under a day, high under a week, medium under a month, else low."""
    if seconds is None:
        return None
    hours = seconds / 3600
    return "elite" if hours < 24 else "high" if hours < 168 else "medium" if hours < 720 else "low"


def level_of_failure_rate(rate: float | None) -> str | None:
    """DORA 2023: elite up to 5%, high up to 10%, medium up to 15%, else low."""
    if rate is None:
        return None
    return (
        "elite" if rate <= 0.05 else "high" if rate <= 0.10 else "medium" if rate <= 0.15 else "low"
    )


def level_of_recovery(seconds: float | None) -> str | None:
    """DORA 2023: elite under an hour, high under a day, medium under a week, else low."""
    if seconds is None:
        return None
    hours = seconds / 3600
    return "elite" if hours < 1 else "high" if hours < 24 else "medium" if hours < 168 else "low"


def level_of_frequency(per_day: float) -> str:
    """DORA 2023: elite daily or more, high weekly or more, medium monthly or more, else low."""
    if per_day >= 1:
        return "elite"
    return "high" if per_day >= 1 / 7 else "medium" if per_day >= 1 / 30 else "low"
