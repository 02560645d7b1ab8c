"""The run page: the run's row, its steps drawn as a Gantt chart, logs, tests and images.

Everything but the test reports comes from the runs projection (proj_runs_v1,
proj_steps_v1, proj_run_images_v1, proj_run_pushes_v1, resolved through
projection_current); test reports are read from the run's own stream, which is
a few dozen events.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from app.projections.runs import RunsProjection
from app.queries.logs import LogLine, read_log
from app.web.errors import BadParameter, NotFound
from app.web.services.rows import every, one
from app.web.templating import duration
from events.projections import current_tables
from events.store import EventStore
from events.vocabulary import TestsReported

LOG_LINES_SHOWN = 2000
CHART_WIDTH = 1000  # SVG user units; the chart scales to the page width


@dataclass(frozen=True)
class Bar:
    """One step's bar in the Gantt chart, in chart units."""

    step: str
    status: str
    x: float
    width: float
    lane: int
    label: str


@dataclass(frozen=True)
class StepView:
    """A step with its log (the first LOG_LINES_SHOWN lines) and whether it is still going."""

    row: dict[str, Any]
    log: list[LogLine]
    truncated: bool

    @property
    def live(self) -> bool:
        """True while the step runs: its log keeps growing."""
        return bool(self.row["status"] == "running")


@dataclass(frozen=True)
class RunView:
    """Everything the run page shows."""

    run: dict[str, Any]
    steps: list[StepView]
    bars: list[Bar]
    span_ms: int
    ticks: list[tuple[float, str]]
    images: list[dict[str, Any]] = field(default_factory=list)
    pushes: list[dict[str, Any]] = field(default_factory=list)
    tests: list[TestsReported] = field(default_factory=list)

    @property
    def live(self) -> bool:
        """True while the run is queued or running."""
        return self.run["status"] in ("queued", "running")


def parse_run_id(run_id: str) -> str:
    """`run_id` if it is a run id (a UUID), else BadParameter."""
    try:
        return str(uuid.UUID(run_id))
    except ValueError:
        raise BadParameter("run_id", f"{run_id!r} is not a run id (a UUID)") from None


def run_view(store: EventStore, run_id: str, *, with_logs: bool = True) -> RunView:
    """The run page's view of run `run_id`; NotFound if the projection has no such run."""
    run_id = parse_run_id(run_id)
    with store.connection() as conn:
        t = current_tables(conn, RunsProjection())
        run = one(conn, f"SELECT * FROM {t['runs']} WHERE run_id = %s", run_id)
        if run is None:
            raise NotFound(f"no run {run_id} is recorded (or the projection has not seen it yet)")
        steps = every(
            conn, f"SELECT * FROM {t['steps']} WHERE run_id = %s ORDER BY first_position", run_id
        )
        images = every(
            conn, f"SELECT * FROM {t['run_images']} WHERE run_id = %s ORDER BY position", run_id
        )
        pushes = every(
            conn, f"SELECT * FROM {t['run_pushes']} WHERE run_id = %s ORDER BY position", run_id
        )
        views = [_step_view(conn, run_id, step, with_logs) for step in steps]
    tests = [
        e.data for e in store.read_stream(f"run-{run_id}") if isinstance(e.data, TestsReported)
    ]
    bars, span_ms, ticks = gantt(steps, run)
    return RunView(run, views, bars, span_ms, ticks, images, pushes, tests)


def _step_view(
    conn: psycopg.Connection[Any], run_id: str, step: dict[str, Any], with_logs: bool
) -> StepView:
    if not with_logs:
        return StepView(step, [], False)
    lines = read_log(conn, run_id, step["step"], limit=LOG_LINES_SHOWN + 1)
    return StepView(step, lines[:LOG_LINES_SHOWN], len(lines) > LOG_LINES_SHOWN)


def gantt(
    steps: list[dict[str, Any]], run: dict[str, Any], now: datetime | None = None
) -> tuple[list[Bar], int, list[tuple[float, str]]]:
    """Bars for the steps that started, on one time axis from the first start to the last end.

    Each step has its own lane (in the order the steps first appeared); steps that
    ran at the same time therefore show as bars side by side on the time axis.
    A running step's bar reaches `now`.
    """
    now = now or datetime.now(UTC)
    started = [s for s in steps if s["started_at"] is not None]
    if not started:
        return [], 0, []
    origin = min(s["started_at"] for s in started)
    ends = [_end(s, now) for s in started]
    span_ms = max(1, int((max(ends) - origin).total_seconds() * 1000))
    scale = CHART_WIDTH / span_ms
    bars = []
    for lane, (step, end) in enumerate(zip(started, ends, strict=True)):
        start_ms = (step["started_at"] - origin).total_seconds() * 1000
        length_ms = max(0.0, (end - step["started_at"]).total_seconds() * 1000)
        width = max(2.0, length_ms * scale)
        ms = step["duration_ms"] if step["duration_ms"] is not None else length_ms
        bars.append(Bar(step["step"], step["status"], start_ms * scale, width, lane, duration(ms)))
    ticks = [(CHART_WIDTH * i / 4, duration(span_ms * i / 4)) for i in range(5)]
    return bars, span_ms, ticks


def _end(step: dict[str, Any], now: datetime) -> datetime:
    end: datetime = step["finished_at"] or now
    started: datetime = step["started_at"]
    return max(end, started)
