"""The four DORA metrics per service and environment over a window, with a weekly trend.

Inputs are plain records (records.py) and each repository's pushed commits in
push order; docs/velocity.md gives the definitions this module implements:

- deployment frequency: deployments that succeeded (finished in the window), per
  day of the window, and the median and p90 of their weekly counts;
- lead time for changes: for each commit, from its author time to the finish of
  the first successful deployment (succeeded and never rolled back) of the
  service and environment that contains it; a deployment contains the pushed
  commits after the previous such deployment's commit up to its own;
- change failure rate: of the deployments that finished in the window, the share
  that failed, were rolled back or caused an incident;
- failed-deployment recovery time: for each of those failed changes, from the
  incident's opening to its resolution (the earliest opening to the latest
  resolution when several), else from its finish to its rollback, else (a
  failed rollout) to the next successful rollout of the service.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from app.velocity.dora import (
    Level,
    failure_rate_level,
    frequency_level,
    lead_time_level,
    recovery_level,
)
from app.velocity.records import Deployment, Incident
from app.velocity.stats import Summary, quantile, summarize

WEEK = timedelta(days=7)
# (repository, sha) → the commit's time, as the run that built it recorded (RunQueued).
CommitTimes = Mapping[tuple[str, str], datetime]
# repository → its commits (sha, author time) in push order, first push of each sha.
PushedCommits = Mapping[str, Sequence[tuple[str, datetime]]]


@dataclass(frozen=True)
class Window:
    """From `since` (included) to `until` (excluded)."""

    since: datetime
    until: datetime

    @property
    def days(self) -> float:
        """The window's length in days."""
        return (self.until - self.since).total_seconds() / 86400

    def weeks(self) -> list[date]:
        """The Mondays (UTC) of every week the window touches, in order."""
        first = week_of(self.since)
        count = (week_of(self.until - timedelta(microseconds=1)) - first).days // 7 + 1
        return [first + timedelta(days=7 * i) for i in range(count)]


def week_of(moment: datetime) -> date:
    """The Monday (UTC) of the week `moment` falls in."""
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class Week:
    """One week of the trend: deployments, median lead time, failure rate, median recovery."""

    week: date
    deployments: int
    lead_time_median: float | None
    change_failure_rate: float | None
    recovery_median: float | None
    lead_time_p90: float | None = None  # the web page's weekly p90 line


@dataclass(frozen=True)
class Velocity:
    """The DORA metrics of one service in one environment over a window (times in seconds)."""

    service: str
    environment: str
    deployments: int
    deployments_per_day: float
    weekly_deployments: Summary
    frequency_level: Level | None
    lead_time: Summary
    lead_time_level: Level | None
    changes: int
    failed_changes: int
    change_failure_rate: float | None
    weekly_change_failure_rate: Summary  # over the weeks with finished deployments
    change_failure_level: Level | None
    recovery: Summary
    recovery_level: Level | None
    unrecovered: int
    weekly: tuple[Week, ...]
    lead_time_from_commit_time: int = 0  # samples timed from the commit, no push recorded


def velocity(
    deployments: Iterable[Deployment],
    incidents: Iterable[Incident],
    commits: PushedCommits,
    window: Window,
    commit_times: CommitTimes | None = None,
) -> list[Velocity]:
    """One Velocity per (service, environment) among `deployments`, sorted by those names.

    Pass every deployment known, not only those in the window: lead times need
    the deployments before it and recoveries those after a failure. `commit_times`
    ((repository, sha) -> the commit's time as a run recorded it) times the lead of a
    commit no push was recorded for.
    """
    groups: dict[tuple[str, str], list[Deployment]] = defaultdict(list)
    for deployment in deployments:
        groups[(deployment.service, deployment.environment)].append(deployment)
    caused: dict[str, list[Incident]] = defaultdict(list)
    for incident in incidents:
        if incident.caused_by_deployment is not None and incident.opened_at is not None:
            caused[incident.caused_by_deployment].append(incident)
    chains = Chains(commits, commit_times or {})
    return [
        _group(service, environment, _in_order(found), caused, chains, window)
        for (service, environment), found in sorted(groups.items())
    ]


def _in_order(deployments: list[Deployment]) -> list[Deployment]:
    """Finished deployments in the ledger's order of their outcomes.

    Not by the finish times their tools reported: which rollout followed which is
    what the ledger recorded, so a time reported wrong cannot reorder them.
    """
    done = [d for d in deployments if d.outcome is not None and d.finished_at is not None]
    return sorted(done, key=lambda d: d.outcome_cursor or (d.tx_id, d.position))


def _group(
    service: str,
    environment: str,
    done: list[Deployment],
    caused: Mapping[str, list[Incident]],
    chains: Chains,
    window: Window,
) -> Velocity:
    """The Velocity of one service's finished deployments (in order) in one environment."""
    mondays = window.weeks()
    weeks = {week: _WeekSamples() for week in mondays}
    first = datetime.combine(mondays[0], time(), UTC)

    def week_at(moment: datetime) -> date:
        """The Monday of `moment`'s week (by arithmetic: week_of is slow in a loop)."""
        return mondays[(moment - first) // WEEK]

    since, until = window.since, window.until
    from_commit_time = 0
    for delivered, seconds, unpushed in lead_time_samples(done, chains):
        if since <= delivered < until:
            weeks[week_at(delivered)].lead_times.extend(seconds)
            from_commit_time += len(seconds) if unpushed else 0
    unrecovered = 0
    for index, deployment in enumerate(done):
        finished = deployment.finished_at
        if finished is None or not since <= finished < until:
            continue
        week = weeks[week_at(finished)]
        week.changes += 1
        week.deployments += deployment.outcome == "succeeded"
        if _failed(deployment, caused):
            week.failed += 1
            recovered = _recovery(deployment, done[index + 1 :], caused)
            if recovered is None:
                unrecovered += 1
            else:
                week.recoveries.append(recovered)
    total = sum(w.deployments for w in weeks.values())
    changes = sum(w.changes for w in weeks.values())
    failed = sum(w.failed for w in weeks.values())
    leads = summarize([s for w in weeks.values() for s in w.lead_times])
    recoveries = summarize([s for w in weeks.values() for s in w.recoveries])
    per_day = total / window.days if window.days > 0 else 0.0
    rate = failed / changes if changes else None
    return Velocity(
        service=service,
        environment=environment,
        deployments=total,
        deployments_per_day=per_day,
        weekly_deployments=summarize([w.deployments for w in weeks.values()]),
        frequency_level=frequency_level(per_day),
        lead_time=leads,
        lead_time_level=lead_time_level(leads.median),
        changes=changes,
        failed_changes=failed,
        change_failure_rate=rate,
        weekly_change_failure_rate=summarize(
            [w.failed / w.changes for w in weeks.values() if w.changes]
        ),
        change_failure_level=failure_rate_level(rate),
        recovery=recoveries,
        recovery_level=recovery_level(recoveries.median),
        unrecovered=unrecovered,
        weekly=tuple(samples.week(week) for week, samples in weeks.items()),
        lead_time_from_commit_time=from_commit_time,
    )


class _WeekSamples:
    """What one week of the window gathers while a group is computed."""

    def __init__(self) -> None:
        self.deployments = 0
        self.changes = 0
        self.failed = 0
        self.lead_times: list[float] = []
        self.recoveries: list[float] = []

    def week(self, monday: date) -> Week:
        """The trend entry of this week."""
        return Week(
            week=monday,
            deployments=self.deployments,
            lead_time_median=quantile(self.lead_times, 0.5),
            change_failure_rate=self.failed / self.changes if self.changes else None,
            recovery_median=quantile(self.recoveries, 0.5),
            lead_time_p90=quantile(self.lead_times, 0.9),
        )


class Chains:
    """Each repository's pushed commits and where each sha stands among them, and the
    times runs recorded for commits (for those never pushed)."""

    def __init__(self, commits: PushedCommits, commit_times: CommitTimes | None = None) -> None:
        self.commits = commits
        self.commit_times = commit_times or {}
        self._indexes: dict[str, dict[str, int]] = {}

    def index(self, repository: str, sha: str) -> int | None:
        """Where `sha` stands among `repository`'s pushed commits; None if never pushed."""
        found = self._indexes.get(repository)
        if found is None:
            pushed = self.commits.get(repository, ())
            found = self._indexes[repository] = {c: i for i, (c, _) in enumerate(pushed)}
        return found.get(sha)


def lead_time_samples(
    done: Sequence[Deployment], chains: Chains
) -> list[tuple[datetime, list[float], bool]]:
    """Per deployment that delivered commits: its finish, each commit's seconds since
    authored, and whether that was timed from the commit's own time (no push recorded).

    A commit counts at its first delivery only.

    `done` holds one service's finished deployments in one environment, in
    finish order. A deployment whose commit is not among its repository's
    pushed commits does not move the chain on; it contributes its own commit alone,
    timed from the commit time its run recorded (RunQueued), if one did.
    """
    previous: dict[str, int] = {}
    delivered: set[str] = set()
    samples: list[tuple[datetime, list[float], bool]] = []
    for deployment in done:
        repo, sha, finished = deployment.repository, deployment.commit, deployment.finished_at
        if not deployment.succeeded or repo is None or sha is None or finished is None:
            continue
        index = chains.index(repo, sha)
        if index is None:
            committed = chains.commit_times.get((repo, sha))
            if committed is not None and sha not in delivered:
                delivered.add(sha)
                samples.append((finished, [(finished - committed).total_seconds()], True))
            continue
        contained = chains.commits[repo][previous.get(repo, -1) + 1 : index + 1]
        fresh = [authored for commit, authored in contained if commit not in delivered]
        delivered.update(commit for commit, _ in contained)
        if fresh:
            samples.append(
                (finished, [(finished - authored).total_seconds() for authored in fresh], False)
            )
        previous[repo] = index
    return samples


def _failed(deployment: Deployment, caused: Mapping[str, list[Incident]]) -> bool:
    """A failed change: the rollout failed, was rolled back or caused an incident."""
    return (
        deployment.outcome == "failed"
        or deployment.rolled_back_at is not None
        or deployment.deployment_id in caused
    )


def _recovery(
    deployment: Deployment, later: Sequence[Deployment], caused: Mapping[str, list[Incident]]
) -> float | None:
    """Seconds until a failed change was recovered from; None while it is not."""
    incidents = caused.get(deployment.deployment_id)
    if incidents:
        if any(i.resolved_at is None for i in incidents):
            return None
        opened = min(i.opened_at for i in incidents if i.opened_at is not None)
        resolved = max(i.resolved_at for i in incidents if i.resolved_at is not None)
        return (resolved - opened).total_seconds()
    assert deployment.finished_at is not None
    if deployment.rolled_back_at is not None:
        return (deployment.rolled_back_at - deployment.finished_at).total_seconds()
    fixed = next((d for d in later if d.outcome == "succeeded"), None)
    if fixed is None or fixed.finished_at is None:
        return None
    return (fixed.finished_at - deployment.finished_at).total_seconds()
