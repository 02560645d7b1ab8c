"""Questions about runs and their steps, from the runs projection, optionally as of a cursor.

The runs projection keeps each run's current state (rows are updated as the run
moves), so unlike the images projection it cannot answer `as_of` with a filter.
As of a cursor, one run is re-folded from its own stream into temporary tables
(events.projections.fold_as_of with `stream`), which costs that run's events; a
list of runs as of a cursor re-folds the ledger up to it, which costs every
event before it and is meant for audits, not for dashboards.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg

from app.projections.runs import RunsProjection
from events.projections import current_tables, fold_as_of
from events.store import Cursor, EventStore
from events.streams import stream_name
from events.vocabulary import TestsReported

Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]
MAX_LIMIT = 500

_RUN_COLUMNS = (
    "run_id", "status", "repository", "commit", "ref", "trigger", "pipeline_path", "actor",
    "queued_at", "runner", "runner_version", "claimed_at", "queue_wait_ms", "finished_at",
    "duration_ms", "reason", "failed_step",
)  # fmt: skip
_STEP_COLUMNS = (
    "step", "status", "image", "image_digest", "started_at", "finished_at", "exit_code",
    "duration_ms", "timed_out", "log_sha256", "log_lines", "skip_reason",
)  # fmt: skip


@dataclass(frozen=True)
class StepState:
    """One step of a run: what ran, when, how it ended, and its log's digest."""

    step: str
    status: str
    image: str | None
    image_digest: str | None
    started_at: datetime | None
    finished_at: datetime | None
    exit_code: int | None
    duration_ms: int | None
    timed_out: bool | None
    log_sha256: str | None
    log_lines: int | None
    skip_reason: str | None


@dataclass(frozen=True)
class RunSummary:
    """A run's header: its source, trigger, status and timings (milliseconds)."""

    run_id: str
    status: str
    repository: str | None
    commit: str | None
    ref: str | None
    trigger: str | None
    pipeline_path: str | None
    actor: str | None
    queued_at: datetime | None
    runner: str | None
    runner_version: str | None
    claimed_at: datetime | None
    queue_wait_ms: int | None
    finished_at: datetime | None
    duration_ms: int | None
    reason: str | None
    failed_step: str | None


@dataclass(frozen=True)
class ImageOfRun:
    """An image a run built, and the pushes of it (repository:tag → digest)."""

    step: str
    image_id: str
    tags: list[str]


@dataclass(frozen=True)
class PushOfRun:
    """A push a run made."""

    step: str
    repository: str
    tag: str
    digest: str


@dataclass(frozen=True)
class RunDetail:
    """A run with its steps in ledger order, the images it built and the pushes it made."""

    run: RunSummary
    steps: list[StepState]
    images: list[ImageOfRun]
    pushes: list[PushOfRun]


@contextmanager
def _tables(
    conn: psycopg.Connection[Any], store: EventStore, as_of: Cursor | None, stream: str | None
) -> Iterator[Mapping[str, str]]:
    """The runs projection's tables now, or temporary ones folded up to `as_of`."""
    if as_of is None:
        yield current_tables(conn, RunsProjection())
        return
    current_tables(conn, RunsProjection())  # the same 503 before the projection exists
    try:
        yield fold_as_of(conn, store, RunsProjection(), as_of, stream=stream)
    finally:
        # The connection goes back to a pool: its temporary copies must not outlive
        # this call, or later queries on it would read them instead of the live tables.
        conn.execute("DISCARD TEMP")


def get_run(store: EventStore, run_id: str, as_of: Cursor | None = None) -> RunDetail | None:
    """Run `run_id` with its steps, images and pushes (as of `as_of`); None if unknown then."""
    with store.connection() as conn, _tables(conn, store, as_of, f"run-{run_id}") as t:
        row = conn.execute(
            f"SELECT {', '.join(_RUN_COLUMNS)} FROM {t['runs']} WHERE run_id = %s", (run_id,)
        ).fetchone()
        if row is None:
            return None
        steps = conn.execute(
            f"SELECT {', '.join(_STEP_COLUMNS)} FROM {t['steps']} WHERE run_id = %s "
            "ORDER BY first_position",
            (run_id,),
        ).fetchall()
        images = conn.execute(
            f"SELECT step, image_id, tags FROM {t['run_images']} WHERE run_id = %s "
            "ORDER BY position",
            (run_id,),
        ).fetchall()
        pushes = conn.execute(
            f"SELECT step, repository, tag, digest FROM {t['run_pushes']} WHERE run_id = %s "
            "ORDER BY position",
            (run_id,),
        ).fetchall()
    return RunDetail(
        run=RunSummary(*row),
        steps=[StepState(*step) for step in steps],
        images=[ImageOfRun(step, image_id, list(tags)) for step, image_id, tags in images],
        pushes=[PushOfRun(*push) for push in pushes],
    )


def list_runs(
    store: EventStore,
    *,
    status: Status | None = None,
    repository: str | None = None,
    commit: str | None = None,
    before: str | None = None,
    limit: int = 50,
    as_of: Cursor | None = None,
) -> list[RunSummary]:
    """Runs newest first (by queue time, then id), filtered; `before` is the last run id seen."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    where, params = ["TRUE"], {"limit": limit, "status": status, "repository": repository}
    if status is not None:
        where.append("status = %(status)s")
    if repository is not None:
        where.append("repository = %(repository)s")
    if commit is not None:
        where.append("commit LIKE %(commit)s")
        params["commit"] = commit.lower() + "%"
    with store.connection() as conn, _tables(conn, store, as_of, None) as t:
        if before is not None:
            where.append(
                f"(queued_at, run_id) < (SELECT queued_at, run_id FROM {t['runs']} "
                "WHERE run_id = %(before)s)"
            )
            params["before"] = before
        rows = conn.execute(
            f"SELECT {', '.join(_RUN_COLUMNS)} FROM {t['runs']} WHERE {' AND '.join(where)} "
            "ORDER BY queued_at DESC, run_id DESC LIMIT %(limit)s",
            params,
        ).fetchall()
    return [RunSummary(*row) for row in rows]


def run_tests(store: EventStore, run_id: str) -> list[TestsReported]:
    """The test reports of run `run_id`, in the order they were recorded (its own stream)."""
    return [
        event.data
        for event in store.read_stream(stream_name("run", run_id))
        if isinstance(event.data, TestsReported)
    ]
