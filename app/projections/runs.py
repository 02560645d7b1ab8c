"""The runs projection: each run, its steps, the images it built and where it pushed them.

Folded from the run-* streams (migrations/0012_runs_projection.sql holds version
1's tables). Times are the events' `recorded_at`, durations the events' own, so
the rows depend on the ledger alone and a rebuild reproduces them exactly.

Every write is an upsert that tolerates events of one stream arriving out of
version order: the subscription order is by writing transaction, and a
transaction that took its id early (it wrote elsewhere first) can append a
stream's later event and still sort before the earlier one. So a later status
never goes back (a claim does not undo a finish), and columns are filled by the
event that owns them whichever arrives first.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from app.projections.sql import insert_sql, interval_ms, upsert_sql
from events.projections import Insert, Write, table_name
from events.store import RecordedEvent
from events.vocabulary import (
    ImageBuilt,
    ImagePushed,
    RunCancelled,
    RunClaimed,
    RunFailed,
    RunQueued,
    RunSucceeded,
    StepFinished,
    StepSkipped,
    StepStarted,
)

VERSION = 1
RELATIONS = ("runs", "steps", "run_images", "run_pushes")
# A run row's last_position is the highest position of its events folded so far.
LAST = "greatest(r.last_position, EXCLUDED.last_position)"
# The columns of a run row and of a step row after their keys, as `fold_stream` inserts them.
RUN_COLUMNS = (
    "status", "repository", "commit", "ref", "trigger", "pipeline_path", "actor", "queued_at",
    "runner", "runner_version", "claimed_at", "queue_wait_ms", "finished_at", "duration_ms",
    "reason", "failed_step", "last_position",
)  # fmt: skip
STEP_COLUMNS = (
    "status", "image", "image_digest", "commands_digest", "started_at", "finished_at",
    "exit_code", "duration_ms", "timed_out", "log_sha256", "log_lines", "skip_reason",
    "first_position",
)  # fmt: skip


class RunsProjection:
    """Runs and steps: status, trigger, commit, timings, log digests, images and pushes."""

    name = "runs"
    relations = RELATIONS
    # Every write is an insert or an order-tolerant upsert: batches may be grouped.
    writes_commute = True

    def __init__(self, version: int = VERSION) -> None:
        self.version = version
        runs, steps, images, pushes = (table_name(r, version) for r in RELATIONS)
        # A run's status only moves forward: queued < running < a final status.
        self._run_queued = upsert_sql(
            runs, "r", ("run_id",),
            ("status", "last_position", "repository", "commit", "ref", "trigger",
             "pipeline_path", "actor", "queued_at"),
            {"status": "r.status", "last_position": LAST,
             "queue_wait_ms": interval_ms("r.claimed_at - EXCLUDED.queued_at")},
        )  # fmt: skip
        self._run_claimed = upsert_sql(
            runs, "r", ("run_id",),
            ("status", "last_position", "runner", "runner_version", "claimed_at"),
            {"status": "CASE r.status WHEN 'queued' THEN 'running' ELSE r.status END",
             "last_position": LAST,
             "queue_wait_ms": interval_ms("EXCLUDED.claimed_at - r.queued_at")},
        )  # fmt: skip
        self._run_finished = upsert_sql(
            runs, "r", ("run_id",),
            ("status", "last_position", "finished_at", "duration_ms", "reason", "failed_step"),
            {"last_position": LAST},
        )  # fmt: skip
        # A step's first event fixes its place in the run (first_position).
        first = {"first_position": "least(s.first_position, EXCLUDED.first_position)"}
        self._step_started = upsert_sql(
            steps, "s", ("run_id", "step"),
            ("status", "first_position", "image", "image_digest", "commands_digest",
             "started_at"),
            first | {"status": "s.status"},
        )  # fmt: skip
        self._step_finished = upsert_sql(
            steps, "s", ("run_id", "step"),
            ("status", "first_position", "finished_at", "exit_code", "duration_ms",
             "timed_out", "log_sha256", "log_lines"),
            first,
        )  # fmt: skip
        self._step_skipped = upsert_sql(
            steps, "s", ("run_id", "step"), ("status", "first_position", "skip_reason"), first
        )
        self._image_built = insert_sql(
            images,
            ("position", "run_id", "step", "image_id", "tags", "dockerfile_sha256",
             "context_digest", "target", "built_at"),
        )  # fmt: skip
        self._image_pushed = insert_sql(
            pushes, ("position", "run_id", "step", "repository", "tag", "digest", "pushed_at")
        )
        self._run_row = Insert(runs, ("run_id", *RUN_COLUMNS))
        self._step_row = Insert(steps, ("run_id", "step", *STEP_COLUMNS))

    def handle(self, event: RecordedEvent) -> Iterator[Write]:
        """The writes that fold one event in; events of other streams write nothing."""
        if not event.stream.startswith("run-"):
            return
        run_id = event.stream.removeprefix("run-")
        data = event.data
        if isinstance(data, RunQueued):
            yield self._run_queued, (run_id, *_run_values(event).values())
        elif isinstance(data, RunClaimed):
            yield self._run_claimed, (run_id, *_run_values(event).values())
        elif isinstance(data, RunSucceeded | RunFailed | RunCancelled):
            yield self._run_finished, (run_id, *_run_values(event).values())
        elif isinstance(data, StepStarted):
            yield self._step_started, (run_id, data.step, *_step_values(event).values())
        elif isinstance(data, StepFinished):
            yield self._step_finished, (run_id, data.step, *_step_values(event).values())
        elif isinstance(data, StepSkipped):
            yield self._step_skipped, (run_id, data.step, *_step_values(event).values())
        elif isinstance(data, ImageBuilt):
            yield self._image_built, (
                event.position, run_id, data.step, data.image_id, list(data.tags),
                data.dockerfile_sha256, data.context_digest, data.target, event.recorded_at,
            )  # fmt: skip
        elif isinstance(data, ImagePushed):
            yield self._image_pushed, (
                event.position, run_id, data.step, data.repository, data.tag, data.digest,
                event.recorded_at,
            )  # fmt: skip

    def fold_stream(self, events: Sequence[RecordedEvent]) -> Iterator[Write]:
        """The writes of one stream's events (in subscription order) for tables that hold
        no row of it yet: its run row and each step row once, as `handle`'s upserts
        would leave them, and its images and pushes as `handle` inserts them.

        A run's rows depend on its own events alone, so a rebuild folds each run in
        memory and inserts the result instead of upserting a run three times and a
        step twice (events/projections.py `fold_stream`).
        """
        if not events or not events[0].stream.startswith("run-"):
            return
        run_id = events[0].stream.removeprefix("run-")
        run: dict[str, Any] | None = None
        steps: dict[str, dict[str, Any]] = {}
        for event in events:
            data = event.data
            if isinstance(data, RunQueued | RunClaimed | RunSucceeded | RunFailed | RunCancelled):
                run = _folded_run(run, event)
            elif isinstance(data, StepStarted | StepFinished | StepSkipped):
                steps[data.step] = _folded_step(steps.get(data.step), event)
            else:
                yield from self.handle(event)
        if run is not None:
            yield self._run_row, (run_id, *(run[column] for column in RUN_COLUMNS))
        for step, row in steps.items():
            yield self._step_row, (run_id, step, *(row[column] for column in STEP_COLUMNS))


def _run_values(event: RecordedEvent) -> dict[str, Any]:
    """The run row's columns a run event sets, in its upsert's parameter order."""
    data, at, pos = event.data, event.recorded_at, event.position
    if isinstance(data, RunQueued):
        return {
            "status": "queued", "last_position": pos, "repository": data.repository,
            "commit": data.commit, "ref": data.ref, "trigger": data.trigger,
            "pipeline_path": data.pipeline_path, "actor": event.metadata.actor, "queued_at": at,
        }  # fmt: skip
    if isinstance(data, RunClaimed):
        return {
            "status": "running", "last_position": pos, "runner": data.runner,
            "runner_version": data.runner_version, "claimed_at": at,
        }  # fmt: skip
    assert isinstance(data, RunSucceeded | RunFailed | RunCancelled)
    status, reason, step = _outcome(data)
    return {
        "status": status, "last_position": pos, "finished_at": at,
        "duration_ms": _duration(data), "reason": reason, "failed_step": step,
    }  # fmt: skip


def _step_values(event: RecordedEvent) -> dict[str, Any]:
    """The step row's columns a step event sets, in its upsert's parameter order."""
    data, at, pos = event.data, event.recorded_at, event.position
    if isinstance(data, StepStarted):
        return {
            "status": "running", "first_position": pos, "image": data.image,
            "image_digest": data.image_digest, "commands_digest": data.commands_digest,
            "started_at": at,
        }  # fmt: skip
    if isinstance(data, StepFinished):
        return {
            "status": "succeeded" if data.exit_code == 0 else "failed", "first_position": pos,
            "finished_at": at, "exit_code": data.exit_code, "duration_ms": data.duration_ms,
            "timed_out": data.timed_out, "log_sha256": data.log_sha256,
            "log_lines": data.log_lines,
        }  # fmt: skip
    assert isinstance(data, StepSkipped)
    return {"status": "skipped", "first_position": pos, "skip_reason": data.reason}


def _folded_run(row: dict[str, Any] | None, event: RecordedEvent) -> dict[str, Any]:
    """The run row after `event`, as its upsert in `RunsProjection` leaves it (Python twin
    of the SQL: a status only moves forward, the queue wait once both times are known)."""
    values = _run_values(event)
    if row is None:
        return dict.fromkeys(RUN_COLUMNS) | values
    folded = row | values
    folded["last_position"] = max(row["last_position"], values["last_position"])
    data = event.data
    if isinstance(data, RunQueued):
        folded["status"] = row["status"]
        folded["queue_wait_ms"] = _interval_ms(row["claimed_at"], values["queued_at"])
    elif isinstance(data, RunClaimed):
        folded["status"] = "running" if row["status"] == "queued" else row["status"]
        folded["queue_wait_ms"] = _interval_ms(values["claimed_at"], row["queued_at"])
    return folded


def _folded_step(row: dict[str, Any] | None, event: RecordedEvent) -> dict[str, Any]:
    """The step row after `event`, as its upsert leaves it: a start keeps the status a
    finish or skip set, and the first event's position stays."""
    values = _step_values(event)
    if row is None:
        return dict.fromkeys(STEP_COLUMNS) | values
    folded = row | values
    folded["first_position"] = min(row["first_position"], values["first_position"])
    if isinstance(event.data, StepStarted):
        folded["status"] = row["status"]
    return folded


def _interval_ms(later: datetime | None, earlier: datetime | None) -> int | None:
    """`interval_ms(later - earlier)` of app/projections/sql.py, computed in Python.

    PostgreSQL takes the interval's seconds exactly (microseconds) and rounds the
    milliseconds half away from zero when casting to bigint; NULL when negative.
    """
    if later is None or earlier is None:
        return None
    micros = (later - earlier) // timedelta(microseconds=1)
    whole = (abs(micros) + 500) // 1000
    ms = whole if micros >= 0 else -whole
    return ms if ms >= 0 else None


def _outcome(data: RunSucceeded | RunFailed | RunCancelled) -> tuple[str, str | None, str | None]:
    """Final status, reason and failing step of a run's last event."""
    if isinstance(data, RunSucceeded):
        return "succeeded", None, None
    if isinstance(data, RunFailed):
        return "failed", data.reason, data.step
    return "cancelled", data.reason, None


def _duration(data: RunSucceeded | RunFailed | RunCancelled) -> int | None:
    """The run's duration when its outcome records one."""
    return data.duration_ms if isinstance(data, RunSucceeded) else None
