"""The run page: the run and its steps (a Gantt chart), their logs, tests and images.

The run, its steps, images and pushes come from app/queries/runs.py (the runs
projection), the logs from app/queries/logs.py, the test reports from the run's
own stream.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.queries.logs import LogExpiry, LogLine, expired_logs, first_lines
from app.queries.runs import ImageOfRun, PushOfRun, RunSummary, StepState, get_run, run_tests
from app.web.errors import BadParameter, NotFound
from app.web.templating import duration
from events.store import EventStore
from events.vocabulary import TestsReported

LOG_LINES_SHOWN = 2000
CHART_WIDTH = 1000  # SVG user units; the chart scales to the page width


@dataclass(frozen=True)
class GanttBar:
    """One step's bar in the Gantt chart, in chart units."""

    step: str
    status: str
    x: float
    width: float
    lane: int
    label: str


@dataclass(frozen=True)
class StepLog:
    """A step with its log (the first LOG_LINES_SHOWN lines) and whether it is still going."""

    step: StepState
    log: list[LogLine]
    truncated: bool
    expired: LogExpiry | None = None

    @property
    def live(self) -> bool:
        """True while the step runs: its log keeps growing."""
        return self.step.status == "running"


@dataclass(frozen=True)
class RunPage:
    """Everything the run page shows."""

    run: RunSummary
    steps: list[StepLog]
    bars: list[GanttBar]
    span_ms: int
    ticks: list[tuple[float, str]]
    images: list[ImageOfRun] = field(default_factory=list)
    pushes: list[PushOfRun] = field(default_factory=list)
    tests: list[TestsReported] = field(default_factory=list)

    @property
    def live(self) -> bool:
        """True while the run is queued or running."""
        return self.run.status in ("queued", "running")


def parse_run_id(run_id: str) -> str:
    """`run_id` if it is a run id (a UUID), else BadParameter."""
    try:
        return str(uuid.UUID(run_id))
    except ValueError:
        raise BadParameter("run_id", f"{run_id!r} is not a run id (a UUID)") from None


def run_page(store: EventStore, run_id: str, *, with_logs: bool = True) -> RunPage:
    """The run page's view of run `run_id`; NotFound if the projection has no such run."""
    run_id = parse_run_id(run_id)
    detail = get_run(store, run_id)
    if detail is None:
        raise NotFound(f"no run {run_id} is recorded (or the projection has not seen it yet)")
    names = [step.step for step in detail.steps] if with_logs else []
    logs = first_lines(store, run_id, names, LOG_LINES_SHOWN + 1)
    expired = expired_logs(store, run_id) if with_logs else {}
    steps = [_step_log(step, logs.get(step.step), expired.get(step.step)) for step in detail.steps]
    bars, span_ms, ticks = gantt(detail.steps, detail.run)
    tests = run_tests(store, run_id)
    return RunPage(detail.run, steps, bars, span_ms, ticks, detail.images, detail.pushes, tests)


def _step_log(
    step: StepState, lines: list[LogLine] | None, expired: LogExpiry | None = None
) -> StepLog:
    """The step with the lines shown of its log (None: logs not asked for), or its expiry."""
    if lines is None:
        return StepLog(step, [], False, expired)
    return StepLog(step, lines[:LOG_LINES_SHOWN], len(lines) > LOG_LINES_SHOWN, expired)


def gantt(
    steps: list[StepState], run: RunSummary, now: datetime | None = None
) -> tuple[list[GanttBar], int, list[tuple[float, str]]]:
    """Bars for the steps that started, on one time axis from the first start to the last end.

    Each step has its own lane (in the order the steps first appeared); steps that
    ran at the same time therefore show as bars side by side on the time axis.
    A running step's bar reaches `now`.
    """
    now = now or datetime.now(UTC)
    started = [s for s in steps if s.started_at is not None]
    if not started:
        return [], 0, []
    origin = min(s.started_at for s in started if s.started_at is not None)
    ends = [_end(s, now) for s in started]
    span_ms = max(1, int((max(ends) - origin).total_seconds() * 1000))
    scale = CHART_WIDTH / span_ms
    bars = []
    for lane, (step, end) in enumerate(zip(started, ends, strict=True)):
        assert step.started_at is not None
        start_ms = (step.started_at - origin).total_seconds() * 1000
        length_ms = max(0.0, (end - step.started_at).total_seconds() * 1000)
        width = max(2.0, length_ms * scale)
        ms = step.duration_ms if step.duration_ms is not None else length_ms
        bars.append(GanttBar(step.step, step.status, start_ms * scale, width, lane, duration(ms)))
    ticks = [(CHART_WIDTH * i / 4, duration(span_ms * i / 4)) for i in range(5)]
    return bars, span_ms, ticks


def _end(step: StepState, now: datetime) -> datetime:
    assert step.started_at is not None
    return max(step.finished_at or now, step.started_at)
