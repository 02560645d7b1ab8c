"""The release velocity report: DORA metrics per service and environment, and stage timing.

Loads deployments, incidents and pushed commits as of a cursor from the
deployments projection, runs and steps from the runs projection, and hands them
to app/velocity/ (pure computation). docs/velocity.md has the definitions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.projections.stages import StagesProjection
from app.queries import deployments as q
from app.queries.dora import folded_deployments
from app.queries.errors import InvalidParameter
from app.repo_identity import (
    NotARepository,
    comparable_repository,
    repository_id,
    url_spellings,
)
from app.velocity.metrics import Velocity, Window, velocity
from app.velocity.periods import parse_moment
from app.velocity.records import Deployment, Incident
from app.velocity.stages import STAGE_OF_IMAGE, STAGES
from app.velocity.stats import Summary, summarize
from events.projections import ProjectionError, current_tables
from events.store import Cursor, EventStore

EARLIEST_YEAR, LATEST_YEAR = 1970, 9000
MAX_DAYS = 10 * 366  # a weekly trend of at most ~520 weeks per service
DEFAULT_SINCE = "90d"
STAGES_PROJECTION = StagesProjection()


@dataclass(frozen=True)
class VelocityReport:
    """The report: its window and environments, one Velocity per group, and stage timing."""

    window: Window
    environments: tuple[str, ...]
    as_of: Cursor | None
    groups: list[Velocity]
    stages: dict[str, Summary]


def velocity_report(
    store: EventStore,
    production: Sequence[str],
    *,
    since: str | None = None,
    until: str | None = None,
    environment: str | None = None,
    service: str | None = None,
    as_of: Cursor | None = None,
    now: datetime | None = None,
) -> VelocityReport:
    """The report from `since` (default 90 days back) to `until` (default now).

    Both are an age (`90d`, `12w`, `36h`) or an ISO time; a parameter that cannot be
    used raises InvalidParameter naming it.
    """
    moment = now or datetime.now(UTC)
    end = _moment("until", until, moment) if until is not None else moment
    start = _moment("since", since or DEFAULT_SINCE, end)
    with store.connection() as conn:
        return window_report(
            conn,
            Window(start, end),
            production,
            environment=environment,
            service=service,
            as_of=as_of,
        )


def _moment(parameter: str, text: str, now: datetime) -> datetime:
    """The time `text` names, relative to `now`; InvalidParameter naming `parameter`."""
    try:
        return parse_moment(text, now)
    except ValueError as error:
        raise InvalidParameter(parameter, str(error)) from None


def window_report(
    conn: q.Connection,
    window: Window,
    production: Sequence[str],
    *,
    environment: str | None = None,
    service: str | None = None,
    as_of: Cursor | None = None,
) -> VelocityReport:
    """The report over `window` for the production environments (or only `environment`)."""
    if window.until <= window.since:
        raise InvalidParameter("since", "`since` must be before `until`")
    if window.since.year < EARLIEST_YEAR or window.until.year > LATEST_YEAR:
        raise InvalidParameter(
            "since" if window.since.year < EARLIEST_YEAR else "until",
            f"the window must lie between the years {EARLIEST_YEAR} and {LATEST_YEAR}",
        )
    if window.days > MAX_DAYS:
        raise InvalidParameter("since", f"the window is longer than {MAX_DAYS} days")
    if environment is not None and environment not in production:
        known = ", ".join(production)
        raise InvalidParameter(
            "env", f"{environment!r} is not a production environment (configured: {known})"
        )
    envs = (environment,) if environment is not None else tuple(production)
    if service is not None:
        known_services = q.services(conn, envs, as_of)
        if service not in known_services:
            listed = ", ".join(known_services) or "none"
            raise InvalidParameter(
                "service",
                f"no deployment of service {service!r} to {', '.join(envs)} (known: {listed})",
            )
    # Every deployment up to as_of: the ones before the window carry lead time's chain
    # of commits, the ones after it the recoveries of failures near its end.
    # A deployment names its repository as its reporter (or its run's clone URL) spells
    # it; pushes are recorded under the canonical identity: compare identities.
    repositories: set[str] = set()
    found, incidents, times = dora_inputs(conn, envs, service, as_of, repositories)
    commits = _pushed_by_identity(conn, repositories, as_of)
    groups = velocity(found, incidents, commits, window, times)
    stages = stage_timing(conn, window, sorted(repositories) if service else None, as_of)
    return VelocityReport(window, envs, as_of, groups, stages)


def dora_inputs(
    conn: q.Connection,
    environments: Sequence[str],
    service: str | None,
    as_of: Cursor | None,
    spellings: set[str],
) -> tuple[list[Deployment], list[Incident], dict[tuple[str, str], datetime]]:
    """Deployments (commits resolved), incidents and commit times for the DORA metrics.

    For the live ledger from the dora projection's folded rows; as of a past cursor
    (or while that projection has not caught up), folded here from the deployments
    projection's histories. `spellings` gets each repository as spelled.
    """
    if as_of is None:
        with contextlib.suppress(ProjectionError):
            folded = folded_deployments(conn, environments, service, spellings)
            return folded.deployments, folded.incidents, folded.commit_times
    found = q.load(
        conn, environments=environments, service=service, as_of=as_of, spellings=spellings
    )
    return found, q.incidents(conn, as_of), q.commit_times(conn, found, as_of)


def _pushed_by_identity(
    conn: q.Connection, repositories: set[str], as_of: Cursor | None
) -> dict[str, list[tuple[str, datetime]]]:
    """Pushed commits keyed by repository identity, whatever spelling each push recorded.

    Webhooks record the canonical identity; older pushes kept the sender's spelling, so
    the usual clone URLs of each identity are looked up too and merged in push order.
    """
    spellings = set(repositories)
    for repository in repositories:
        with contextlib.suppress(NotARepository):
            identity = repository_id(repository)
            spellings.add(str(identity))
            spellings.update(url_spellings(identity))
    merged: dict[str, list[tuple[str, datetime]]] = {}
    for spelling, pushed in sorted(q.pushed_commits(conn, spellings, as_of).items()):
        known = merged.setdefault(comparable_repository(spelling), [])
        seen = {sha for sha, _ in known}
        known.extend(item for item in pushed if item[0] not in seen)
    return merged


def stage_timing(
    conn: q.Connection,
    window: Window,
    repositories: list[str] | None,
    as_of: Cursor | None,
) -> dict[str, Summary]:
    """Stage timing of the finished runs queued in `window` (of `repositories`, if given).

    Ranked from the stages projection's per-run totals for the live ledger; as of a
    past cursor (or while that projection has not caught up), from the steps.
    """
    empty = {stage: summarize([]) for stage in STAGES}
    try:
        runs = current_tables(conn, q.RUNS)
    except ProjectionError:
        return empty
    if as_of is None:
        with contextlib.suppress(ProjectionError):
            totals = current_tables(conn, STAGES_PROJECTION)["run_stages"]
            return empty | stage_timing_from_totals(conn, runs, totals, window, repositories)
    return empty | stage_timing_from_steps(conn, runs, window, repositories, as_of)


def stage_timing_from_steps(
    conn: q.Connection,
    runs: Mapping[str, str],
    window: Window,
    repositories: list[str] | None,
    as_of: Cursor | None,
) -> dict[str, Summary]:
    """Stage timing added up from every step of the window's runs (`runs`: their tables).

    The classification is app/velocity/stages.py's, done here in SQL with the
    same quantiles (percentile_cont is type 7, as app/velocity/stats.py): at a
    year of a busy ledger the window holds hundreds of thousands of steps, and
    moving them into Python to add them up took seconds. The runs projection
    keeps current state, not history: as of a cursor it keeps the runs whose
    last event is at or before the cursor's position.
    """
    tested = q.tables(conn)["tested_steps"]
    where, args = _finished_runs(window, repositories)
    if as_of is not None:
        where.append("r.last_position <= %(position)s")
        args["position"] = as_of.position
    cond, params = q.upto(as_of, "t")
    cond = cond.replace("%s", "%(as_of_tx)s", 1).replace("%s", "%(as_of_position)s", 1)
    tested_params = dict(zip(("as_of_tx", "as_of_position"), params, strict=False))
    picked = " AND ".join(where)
    kinds = " ".join(f"WHEN '{image}' THEN '{stage}'" for image, stage in STAGE_OF_IMAGE.items())
    rows = conn.execute(
        f"""
        WITH steps AS (
            SELECT s.run_id, CASE s.image {kinds} END AS kind, s.duration_ms,
                   EXISTS (SELECT 1 FROM {tested} t
                           WHERE t.run_id = s.run_id AND t.step = s.step AND {cond}) AS tested
            FROM {runs["steps"]} s JOIN {runs["runs"]} r USING (run_id)
            WHERE {picked} AND s.duration_ms IS NOT NULL
        ), with_tests AS (
            SELECT steps.*, bool_or(tested) OVER (PARTITION BY run_id) AS run_has_tests
            FROM steps
        ), per_run AS (
            SELECT coalesce(kind, CASE WHEN tested OR NOT run_has_tests THEN 'test' END)
                       AS stage,
                   sum(duration_ms)::float8 AS ms
            FROM with_tests GROUP BY 1, run_id
        ), samples AS (
            SELECT stage, ms FROM per_run WHERE stage IS NOT NULL
            UNION ALL
            SELECT 'queue', r.queue_wait_ms::float8 FROM {runs["runs"]} r
            WHERE {picked} AND r.queue_wait_ms IS NOT NULL
        )
        SELECT stage, count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY ms),
               percentile_cont(0.9) WITHIN GROUP (ORDER BY ms)
        FROM samples GROUP BY stage
        """,
        args | tested_params,
    ).fetchall()
    return _summaries(rows)


def _finished_runs(
    window: Window, repositories: list[str] | None
) -> tuple[list[str], dict[str, Any]]:
    """Conditions on runs `r` (and their parameters): finished, queued in `window`."""
    where = [
        "r.queued_at >= %(since)s",
        "r.queued_at < %(until)s",
        "r.status IN ('succeeded', 'failed')",
    ]
    args: dict[str, Any] = {"since": window.since, "until": window.until}
    if repositories is not None:
        where.append("r.repository = ANY(%(repositories)s)")
        args["repositories"] = repositories
    return where, args


def _summaries(rows: Sequence[Sequence[Any]]) -> dict[str, Summary]:
    """Stage → Summary from rows of (stage, count, median, p90), in STAGES order."""
    found = {stage: Summary(int(count), median, p90) for stage, count, median, p90 in rows}
    return {stage: found[stage] for stage in STAGES if stage in found}


def stage_timing_from_totals(
    conn: q.Connection,
    runs: Mapping[str, str],
    totals: str,
    window: Window,
    repositories: list[str] | None,
) -> dict[str, Summary]:
    """Stage timing ranked from the stages projection's per-run totals: one row per run.

    The same samples as stage_timing_from_steps gives (the tests compare them),
    without adding up every step of the window; only for the live ledger, since the
    totals are current state. One pass over the window's runs: each stage is an
    aggregate over its own filter, both quantiles from one sort of its samples
    (percentile_cont over an array of fractions), so no row per sample is made,
    grouped or sorted by stage.
    """
    where, args = _finished_runs(window, repositories)
    picked = " AND ".join(where)
    samples = {
        "build": "CASE WHEN t.build_steps > 0 THEN t.build_ms::float8 END",
        "push": "CASE WHEN t.push_steps > 0 THEN t.push_ms::float8 END",
        "test": "CASE WHEN t.any_tested AND t.tested_steps > 0 THEN t.tested_ms::float8 "
        "WHEN NOT t.any_tested AND t.untested_steps > 0 THEN t.untested_ms::float8 END",
        "queue": "r.queue_wait_ms::float8",
    }
    # Ordered-set aggregates skip nulls; count(expression) counts the samples.
    columns = ", ".join(
        f"count({ms}), percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY {ms})"
        for ms in samples.values()
    )
    row = conn.execute(
        f"SELECT {columns} FROM {runs['runs']} r LEFT JOIN {totals} t USING (run_id) "
        f"WHERE {picked}",
        args,
    ).fetchone()
    assert row is not None
    rows = [
        (stage, row[2 * i], *(row[2 * i + 1] or (None, None)))
        for i, stage in enumerate(samples)
        if row[2 * i]
    ]
    return _summaries(rows)
