"""Response bodies of the run routes, filled from app/queries/runs.py's records."""

from __future__ import annotations

from datetime import datetime

from app.api.schemas.base import FromRecord


class StepOut(FromRecord):
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
    log_lines: int | None
    skip_reason: str | None


class RunSummaryOut(FromRecord):
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


class RunImageOut(FromRecord):
    """An image a run built, and its tags."""

    step: str
    image_id: str
    tags: list[str]


class RunPushOut(FromRecord):
    """A push a run made."""

    step: str
    repository: str
    tag: str
    digest: str


class RunOut(FromRecord):
    """A run with its steps in ledger order, the images it built and the pushes it made."""

    run: RunSummaryOut
    steps: list[StepOut]
    images: list[RunImageOut]
    pushes: list[RunPushOut]
