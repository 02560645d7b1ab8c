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

from collections.abc import Iterator

from app.projections.sql import insert_sql, interval_ms, upsert_sql
from events.projections import Write, table_name
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

    def handle(self, event: RecordedEvent) -> Iterator[Write]:
        """The writes that fold one event in; events of other streams write nothing."""
        if not event.stream.startswith("run-"):
            return
        run_id = event.stream.removeprefix("run-")
        data, at, pos = event.data, event.recorded_at, event.position
        if isinstance(data, RunQueued):
            yield self._run_queued, (
                run_id, "queued", pos, data.repository, data.commit, data.ref, data.trigger,
                data.pipeline_path, event.metadata.actor, at,
            )  # fmt: skip
        elif isinstance(data, RunClaimed):
            yield self._run_claimed, (run_id, "running", pos, data.runner, data.runner_version, at)
        elif isinstance(data, RunSucceeded | RunFailed | RunCancelled):
            status, reason, step = _outcome(data)
            yield self._run_finished, (run_id, status, pos, at, _duration(data), reason, step)
        elif isinstance(data, StepStarted):
            yield self._step_started, (
                run_id, data.step, "running", pos,
                data.image, data.image_digest, data.commands_digest, at,
            )  # fmt: skip
        elif isinstance(data, StepFinished):
            yield self._step_finished, (
                run_id, data.step, "succeeded" if data.exit_code == 0 else "failed", pos,
                at, data.exit_code, data.duration_ms, data.timed_out, data.log_sha256,
                data.log_lines,
            )  # fmt: skip
        elif isinstance(data, StepSkipped):
            yield self._step_skipped, (run_id, data.step, "skipped", pos, data.reason)
        elif isinstance(data, ImageBuilt):
            yield self._image_built, (
                pos, run_id, data.step, data.image_id, list(data.tags),
                data.dockerfile_sha256, data.context_digest, data.target, at,
            )  # fmt: skip
        elif isinstance(data, ImagePushed):
            yield self._image_pushed, (
                pos, run_id, data.step, data.repository, data.tag, data.digest, at,
            )  # fmt: skip


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
