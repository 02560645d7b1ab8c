"""Deployments and incidents for the velocity report, read from the dora projection.

The dora projection (app/projections/dora.py) keeps each deployment folded into one
row, so the report's DORA part reads one row per deployment, its commit resolved
through the runs projection and its commit time through the images projection in
the same statement, instead of folding every deployment event in Python and
resolving commits in three more round trips (app/queries/deployments.py `load`,
still used as of a past cursor, since this projection keeps current state). The
records are the ones `load`, `incidents` and `commit_times` give for the live
ledger (tests/velocity/test_dora_projection.py compares them).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from app.projections.dora import DoraProjection
from app.projections.images import ImagesProjection
from app.queries.deployments import RUNS, Connection
from app.repo_identity import comparable_repository
from app.velocity.records import Deployment, Incident, deployment_record
from events.projections import ProjectionError, current_tables

DORA = DoraProjection()
# The fields of a Deployment the DORA metrics read (app/velocity/metrics.py); the
# others keep their defaults. Fewer columns: decoding rows is most of the read.
DORA_FIELDS = (
    "deployment_id", "environment", "service", "finished_at", "outcome", "rolled_back_at",
    "repository", "commit",
)  # fmt: skip


class FoldedDeployments:
    """What the report's DORA part reads: deployments, incidents and commit times."""

    def __init__(
        self,
        deployments: list[Deployment],
        incidents: list[Incident],
        commit_times: dict[tuple[str, str], datetime],
    ) -> None:
        self.deployments = deployments
        self.incidents = incidents
        self.commit_times = commit_times


def folded_deployments(
    conn: Connection,
    environments: Sequence[str],
    service: str | None,
    spellings: set[str],
) -> FoldedDeployments:
    """Every deployment of `environments` (of `service`), commits resolved, for the live ledger.

    The records carry DORA_FIELDS and the outcome's cursor (the rest keep their
    defaults). Each repository is added to `spellings` as spelled and the record gets its identity
    (as `load` does). ProjectionError while the dora projection has not caught up.
    """
    dora = current_tables(conn, DORA)
    try:
        runs: dict[str, str] | None = current_tables(conn, RUNS)
    except ProjectionError:
        runs = None  # commits stay as reported, as `resolve_commits` leaves them
    try:
        image_runs: str | None = current_tables(conn, ImagesProjection())["image_runs"]
    except ProjectionError:
        image_runs = None
    where = ["d.environment = ANY(%s)"]
    args: list[object] = [list(environments)]
    if service is not None:
        where.append("d.service = %s")
        args.append(service)
    statement = _statement(dora["dora_deployments"], runs, image_runs, where)
    rows = conn.cursor(binary=True).execute(statement, args).fetchall()
    deployments: list[Deployment] = []
    times: dict[tuple[str, str], datetime] = {}
    for row in rows:
        fields = dict(zip(DORA_FIELDS, row[:8], strict=True))
        fields["outcome_cursor"] = None if row[8] is None else (row[8], row[9])
        repository = fields["repository"]
        if repository is not None:
            spellings.add(repository)
            fields["repository"] = comparable_repository(repository)
        deployments.append(deployment_record(fields))
        _add_commit_times(times, fields["repository"], fields["commit"], row[10], row[11])
    incidents = [
        Incident(*row)
        for row in conn.execute(
            f"SELECT incident_id, environment, service, caused_by_deployment, opened_at, "
            f"resolved_at FROM {dora['dora_incidents']}"
        ).fetchall()
    ]
    return FoldedDeployments(deployments, incidents, times)


def _add_commit_times(
    times: dict[tuple[str, str], datetime],
    identity: str | None,
    sha: str | None,
    repositories: list[str] | None,
    committed: list[datetime] | None,
) -> None:
    """Add the earliest commit time runs recorded for (identity, sha), as `commit_times`."""
    if identity is None or sha is None or not repositories or committed is None:
        return
    key = (identity, sha)
    for repository, at in zip(repositories, committed, strict=True):
        same = repository == identity or comparable_repository(repository) == identity
        if same and (key not in times or at < times[key]):
            times[key] = at


def _statement(
    table: str, runs: dict[str, str] | None, image_runs: str | None, where: list[str]
) -> str:
    """The SELECT of the deployments' fields, their resolved commits and commit times.

    A deployment without a commit takes its run's, else (when its run is not known)
    that of a run that pushed or built its image, as `resolve_commits` does. Runs
    are joined by hash (one pass over them), images looked up only for the few
    deployments left; commit times are the earliest per repository spelling, for the
    deployments that delivered (the only ones lead time asks about).
    """
    if runs is None:
        by_run = (
            "SELECT d.*, NULL::text AS run_repository, NULL::text AS run_commit, "
            "false AS run_known FROM d"
        )
        by_image = "SELECT NULL::text AS repository, NULL::text AS commit WHERE false"
    else:
        by_run = (
            "SELECT d.*, r.repository AS run_repository, r.commit AS run_commit, "
            f"r.run_id IS NOT NULL AS run_known FROM d LEFT JOIN {runs['runs']} r "
            "ON d.commit IS NULL AND r.run_id = d.run_id"
        )
        by_image = (
            "SELECT * FROM (SELECT 1 AS rank, r.repository, r.commit "
            f"FROM {runs['run_pushes']} p JOIN {runs['runs']} r USING (run_id) "
            "WHERE p.digest = x.image_digest "
            "UNION ALL SELECT 2, r.repository, r.commit "
            f"FROM {runs['run_images']} i JOIN {runs['runs']} r USING (run_id) "
            "WHERE i.image_id = x.image_digest) s "
            "WHERE x.commit IS NULL AND NOT x.run_known ORDER BY rank LIMIT 1"
        )
    if image_runs is None:
        times = (
            "SELECT NULL::text AS commit, NULL::text[] AS repositories, "
            "NULL::timestamptz[] AS committed WHERE false"
        )
    else:
        times = (
            "SELECT commit, array_agg(repository) AS repositories, array_agg(at) AS committed "
            f"FROM (SELECT t.commit, t.repository, min(t.commit_time) AS at FROM {image_runs} t "
            "WHERE t.commit_time IS NOT NULL AND t.commit IN (SELECT commit FROM resolved "
            "WHERE outcome = 'succeeded' AND rolled_back_at IS NULL) "
            "GROUP BY t.commit, t.repository) m GROUP BY commit"
        )
    return f"""
        WITH d AS (
            SELECT deployment_id, environment, service,
                   coalesce(outcome_digest, started_digest) AS image_digest, finished_at,
                   outcome, rolled_back_at, run_id, repository, commit, position, tx_id,
                   outcome_tx_id, outcome_position
            FROM {table} d WHERE {" AND ".join(where)}
        ), x AS ({by_run}), resolved AS MATERIALIZED (
            SELECT deployment_id, environment, service, finished_at, outcome, rolled_back_at,
                   CASE WHEN x.commit IS NULL
                        THEN coalesce(x.repository, run_repository, src.repository)
                        ELSE x.repository END AS repository,
                   coalesce(x.commit, run_commit, src.commit) AS commit, position, tx_id,
                   outcome_tx_id, outcome_position
            FROM x LEFT JOIN LATERAL ({by_image}) src ON true
        ), times AS ({times})
        SELECT x.deployment_id, x.environment, x.service, x.finished_at, x.outcome,
               x.rolled_back_at, x.repository, x.commit, x.outcome_tx_id, x.outcome_position,
               ct.repositories, ct.committed
        FROM resolved x LEFT JOIN times ct
            ON ct.commit = x.commit AND x.outcome = 'succeeded' AND x.rolled_back_at IS NULL
        ORDER BY x.tx_id, x.position
    """
