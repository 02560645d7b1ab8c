"""Deployments read from the deployments projection: what runs where, history, audit, images.

Every function takes `as_of`, a ledger cursor (None: now), and answers from the
events at or before it only: the projection's tables are histories whose rows
carry their event's (tx_id, position), so `as_of` is one more WHERE clause
(app/projections/deployments.py). A deployment's commit is its own, else the
commit of the run it names, else of the run that built or pushed its image
(the runs projection; skipped while that projection has not caught up).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import psycopg

from app.projections.deployments import DeploymentsProjection
from app.projections.images import ImagesProjection
from app.projections.runs import RunsProjection
from app.queries.as_of import row_bound
from app.repo_identity import comparable_repository
from app.velocity.records import (
    Deployment,
    DeploymentRow,
    Incident,
    IncidentRow,
    fold_deployments,
    fold_incidents,
    with_source,
)
from events.projections import ProjectionError, current_tables
from events.store import Cursor

Connection = psycopg.Connection[Any]
DEPLOYMENTS = DeploymentsProjection()
RUNS = RunsProjection()
MAX_LIMIT = 1000
_ROW_COLUMNS = (
    "position, tx_id, environment, deployment_id, service, kind, image_digest, at, actor, "
    "strategy, run_id, repository, commit, reason"
)
_RUNNING = "kind IN ('succeeded', 'rolled_back')"


def upto(as_of: Cursor | None, alias: str = "") -> tuple[str, list[Any]]:
    """SQL condition (and parameters) keeping the rows at or before `as_of`."""
    if as_of is None:
        return "TRUE", []
    prefix = f"{alias}." if alias else ""
    return f"({prefix}tx_id, {prefix}position) <= (%s, %s)", list(row_bound(as_of))


def tables(conn: Connection) -> dict[str, str]:
    """Relation → table of the deployments projection readers use now."""
    return current_tables(conn, DEPLOYMENTS)


@dataclass(frozen=True)
class Running:
    """What one service of an environment runs: the image, since when, and which rollout."""

    environment: str
    service: str
    image_digest: str | None
    since: datetime
    deployment_id: str
    how: str  # succeeded (a rollout finished) | rolled_back (returned to an earlier image)
    actor: str


def running(conn: Connection, environment: str, as_of: Cursor | None = None) -> list[Running]:
    """Per service of `environment`, the image its last finished rollout or rollback left.

    Last in the ledger's order, not by the time a tool reported: a rollout reported
    as finishing in the future cannot stay "running" over the rollouts after it.
    """
    table = tables(conn)["deployment_events"]
    cond, params = upto(as_of)
    rows = conn.execute(
        f"SELECT DISTINCT ON (service) service, image_digest, at, deployment_id, kind, actor "
        f"FROM {table} WHERE environment = %s AND {_RUNNING} AND {cond} "
        "ORDER BY service, tx_id DESC, position DESC",
        [environment, *params],
    ).fetchall()
    return [Running(environment, *row) for row in rows]


def environments(conn: Connection, as_of: Cursor | None = None) -> list[str]:
    """Every environment with a deployment event at or before `as_of`, sorted."""
    table = tables(conn)["deployment_events"]
    cond, params = upto(as_of)
    rows = conn.execute(
        f"SELECT DISTINCT environment FROM {table} WHERE {cond} ORDER BY 1", params
    ).fetchall()
    return [row[0] for row in rows]


def services(
    conn: Connection, environments: Sequence[str], as_of: Cursor | None = None
) -> list[str]:
    """Every service deployed to one of `environments` at or before `as_of`, sorted."""
    table = tables(conn)["deployment_events"]
    cond, params = upto(as_of)
    rows = conn.execute(
        f"SELECT DISTINCT service FROM {table} WHERE environment = ANY(%s) AND {cond} ORDER BY 1",
        [list(environments), *params],
    ).fetchall()
    return [row[0] for row in rows]


@dataclass(frozen=True)
class DeployedImage:
    """One stretch of time during which a service of an environment ran an image."""

    image_digest: str
    environment: str
    service: str
    since: datetime  # when the rollout (or rollback) that brought it finished
    until: datetime | None  # when another image replaced it; None: it still runs
    deployment_id: str  # the rollout that brought it (for a rollback: the one rolled back)

    @property
    def running(self) -> bool:
        """The service still runs this image (as of the query's cursor)."""
        return self.until is None


def deployed_images(
    conn: Connection, digests: Iterable[str], as_of: Cursor | None = None
) -> list[DeployedImage]:
    """Where and when the images `digests` ran, as of `as_of` (None: now).

    For the supply-chain queries (`/api/affected`): one DeployedImage per
    stretch during which a service of an environment ran one of the digests,
    from the finish of the rollout (DeploymentSucceeded) or rollback
    (RolledBack) that brought it until the next one that brought another image
    (`until` None: it still runs). Started or failed rollouts never count: a
    service runs an image only once a rollout of it succeeded. One image follows
    another in the ledger's order (reported times only label the stretches).
    Sorted by digest, environment, service and time.
    """
    wanted = sorted(set(digests))
    if not wanted:
        return []
    table = tables(conn)["deployment_events"]
    cond, params = upto(as_of)
    rows = conn.execute(
        f"WITH pairs AS (SELECT DISTINCT environment, service FROM {table} "
        f"  WHERE image_digest = ANY(%s) AND {_RUNNING} AND {cond}) "
        f"SELECT environment, service, image_digest, at, deployment_id FROM {table} "
        f"JOIN pairs USING (environment, service) WHERE {_RUNNING} AND {cond} "
        "ORDER BY environment, service, tx_id, position",
        [wanted, *params, *params],
    ).fetchall()
    return sorted(
        stretches(rows, set(wanted)),
        key=lambda s: (s.image_digest, s.environment, s.service, s.since),
    )


def stretches(changes: Iterable[Sequence[Any]], wanted: set[str]) -> list[DeployedImage]:
    """Stretches of `wanted` images from (environment, service, digest, at, deployment) rows.

    The rows are every image change of each service, in time order per service.
    """
    found: list[DeployedImage] = []
    open_: dict[tuple[str, str], DeployedImage] = {}
    for environment, service, digest, at, deployment_id in changes:
        key = (environment, service)
        current = open_.get(key)
        if current is not None and current.image_digest == digest:
            continue  # the same image again: the stretch goes on
        if current is not None:
            found.append(replace(current, until=at))
            del open_[key]
        if digest in wanted:
            open_[key] = DeployedImage(digest, environment, service, at, None, deployment_id)
    return found + list(open_.values())


@dataclass(frozen=True)
class DeploymentPage:
    """Deployments in the order asked, and the `after` that continues (None: no more)."""

    deployments: list[Deployment]
    next: int | None


def page(
    conn: Connection,
    *,
    environment: str | None = None,
    service: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    as_of: Cursor | None = None,
    limit: int = 100,
    after: int | None = None,
    newest_first: bool = False,
) -> DeploymentPage:
    """Deployments started in [since, until), by start time; `after` is a previous `next`.

    Keyset pagination on (started_at, position of DeploymentStarted): `next` is
    the position of the page's last deployment, and the next page starts after it.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    table = tables(conn)["deployment_events"]
    cond, params = upto(as_of, "d")
    where, args = ["d.kind = 'started'", cond], list(params)
    for clause, value in (
        ("d.environment = %s", environment),
        ("d.service = %s", service),
        ("d.at >= %s", since),
        ("d.at < %s", until),
    ):
        if value is not None:
            where.append(clause)
            args.append(value)
    order, compare = ("DESC", "<") if newest_first else ("ASC", ">")
    if after is not None:
        where.append(
            f"(d.at, d.position) {compare} (SELECT a.at, a.position FROM {table} a "
            "WHERE a.position = %s)"
        )
        args.append(after)
    rows_cond, rows_params = upto(as_of, "o")
    rows = conn.execute(
        f"WITH page AS (SELECT d.position, d.deployment_id, d.at FROM {table} d "
        f"  WHERE {' AND '.join(where)} ORDER BY d.at {order}, d.position {order} LIMIT %s) "
        f"SELECT page.position, {_prefixed('o')} FROM page JOIN {table} o USING (deployment_id) "
        f"WHERE {rows_cond} "
        f"ORDER BY page.at {order}, page.position {order}, o.tx_id, o.position",
        [*args, limit + 1, *rows_params],
    ).fetchall()
    keys = list(dict.fromkeys(row[0] for row in rows))  # the page's started rows, in order
    kept = set(keys[:limit])
    found = fold_deployments(_row(row[1:]) for row in rows if row[0] in kept)
    order_of = {ident: i for i, ident in enumerate(dict.fromkeys(r[4] for r in rows))}
    found.sort(key=lambda d: order_of[d.deployment_id])
    more = len(keys) > limit
    return DeploymentPage(resolve_commits(conn, found), keys[limit - 1] if more else None)


def _prefixed(alias: str) -> str:
    """The row columns, each prefixed with `alias`."""
    return ", ".join(f"{alias}.{column.strip()}" for column in _ROW_COLUMNS.split(","))


def load(
    conn: Connection,
    *,
    environments: Sequence[str] | None = None,
    service: str | None = None,
    as_of: Cursor | None = None,
    spellings: set[str] | None = None,
) -> list[Deployment]:
    """Every deployment (of `environments`, of `service`) as of `as_of`, commits resolved.

    `spellings`: as resolve_commits.
    """
    table = tables(conn)["deployment_events"]
    cond, params = upto(as_of)
    where, args = [cond], list(params)
    if environments is not None:
        where.append("environment = ANY(%s)")
        args.append(list(environments))
    if service is not None:
        where.append("service = %s")
        args.append(service)
    rows = conn.execute(
        f"SELECT {_ROW_COLUMNS} FROM {table} WHERE {' AND '.join(where)} ORDER BY tx_id, position",
        args,
    ).fetchall()
    return resolve_commits(conn, fold_deployments(_row(row) for row in rows), spellings=spellings)


def incidents(conn: Connection, as_of: Cursor | None = None) -> list[Incident]:
    """Every incident as of `as_of`: where, caused by which deployment, opened, resolved."""
    table = tables(conn)["incident_events"]
    cond, params = upto(as_of)
    rows = conn.execute(
        f"SELECT incident_id, kind, environment, service, caused_by_deployment, at "
        f"FROM {table} WHERE {cond} ORDER BY tx_id, position",
        params,
    ).fetchall()
    return fold_incidents(IncidentRow(*row) for row in rows)


def pushed_commits(
    conn: Connection, repositories: Iterable[str], as_of: Cursor | None = None
) -> dict[str, list[tuple[str, datetime]]]:
    """Repository → its pushed commits (sha, author time) in push order, each sha once."""
    table = tables(conn)["pushed_commits"]
    cond, params = upto(as_of)
    rows = conn.execute(
        f"SELECT repository, array_agg(sha ORDER BY position, seq), "
        f"array_agg(authored_at ORDER BY position, seq) FROM {table} "
        f"WHERE repository = ANY(%s) AND {cond} GROUP BY repository",
        [sorted(set(repositories)), *params],
    ).fetchall()
    found: dict[str, list[tuple[str, datetime]]] = {}
    for repository, shas, times in rows:
        first: dict[str, datetime] = {}
        for sha, authored_at in zip(shas, times, strict=True):
            first.setdefault(sha, authored_at)  # a sha pushed again keeps its first place
        found[repository] = list(first.items())
    return found


def resolve_commits(
    conn: Connection, deployments: list[Deployment], *, spellings: set[str] | None = None
) -> list[Deployment]:
    """`deployments`, each without a commit given the commit of its run or its image's run.

    With a `spellings` set, each repository is added to it as spelled and the record
    gets its identity (comparable_repository) instead, in the same copy.
    """
    missing = [d for d in deployments if d.commit is None]
    by_run: dict[str, tuple[str, str]] = {}
    by_image: dict[str, tuple[str, str]] = {}
    with contextlib.suppress(ProjectionError):  # runs not caught up: commits stay unknown
        if missing:
            by_run, by_image = _sources(conn, current_tables(conn, RUNS), missing)
    resolved = []
    for deployment in deployments:
        source = None
        if deployment.commit is None:
            source = by_run.get(deployment.run_id or "") or by_image.get(
                deployment.image_digest or ""
            )
        repository, commit = deployment.repository, deployment.commit
        if source is not None:
            repository, commit = repository or source[0], source[1]
        if spellings is not None and repository is not None:
            spellings.add(repository)
            repository = comparable_repository(repository)
        if (repository, commit) != (deployment.repository, deployment.commit):
            deployment = with_source(deployment, repository, commit)
        resolved.append(deployment)
    return resolved


def _sources(
    conn: Connection, runs: Mapping[str, str], missing: list[Deployment]
) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
    """(repository, commit) of the deployments without a commit: by run id, by image."""
    by_run = {
        row[0]: (row[1], row[2])
        for row in conn.execute(
            f"SELECT run_id, repository, commit FROM {runs['runs']} WHERE run_id = ANY(%s)",
            [[d.run_id for d in missing if d.run_id is not None]],
        ).fetchall()
    }
    # Only deployments their run did not resolve are looked up by image.
    digests = [
        d.image_digest
        for d in missing
        if d.image_digest is not None and (d.run_id or "") not in by_run
    ]
    by_image: dict[str, tuple[str, str]] = {}
    for digest, repository, commit in (
        ()
        if not digests
        else conn.execute(
            f"SELECT p.digest, r.repository, r.commit FROM {runs['run_pushes']} p "
            f"JOIN {runs['runs']} r USING (run_id) WHERE p.digest = ANY(%s) "
            f"UNION ALL SELECT i.image_id, r.repository, r.commit FROM {runs['run_images']} i "
            f"JOIN {runs['runs']} r USING (run_id) WHERE i.image_id = ANY(%s)",
            [digests, digests],
        ).fetchall()
    ):
        by_image.setdefault(digest, (repository, commit))
    return by_run, by_image


def commit_times(
    conn: Connection, deployments: Iterable[Deployment], as_of: Cursor | None = None
) -> dict[tuple[str, str], datetime]:
    """(repository, commit) → the commit's time as a run that built an image from it recorded.

    From the images projection (RunQueued.commit_time of each run that built an image);
    empty while that projection has not caught up.
    """
    wanted = {(d.repository, d.commit) for d in deployments if d.repository and d.commit}
    if not wanted:
        return {}
    try:
        table = current_tables(conn, ImagesProjection())["image_runs"]
    except ProjectionError:
        return {}
    tx, position = row_bound(as_of)
    rows = conn.execute(
        f"SELECT repository, commit, min(commit_time) FROM {table} "
        "WHERE commit = ANY(%s) AND commit_time IS NOT NULL "
        "AND (tx_id, position) <= (%s, %s) GROUP BY repository, commit",
        [sorted({sha for _, sha in wanted}), tx, position],
    ).fetchall()
    # Runs record the repository as cloned; deployments may be keyed by its identity.
    times: dict[tuple[str, str], datetime] = {}
    for repo, sha, at in rows:
        for key in ((repo, sha), (comparable_repository(repo), sha)):
            if key in wanted and (key not in times or at < times[key]):
                times[key] = at
    return times


def _row(row: Sequence[Any]) -> DeploymentRow:
    """A DeploymentRow from a SELECT of _ROW_COLUMNS."""
    return DeploymentRow(*row)
