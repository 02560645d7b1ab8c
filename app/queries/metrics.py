"""The figures `/metrics` reports, read fresh from the read tables and the ledger at each scrape.

Nothing is counted in the process: any number of `shiplog serve` processes report
the same values and a restart loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.projections import projector
from app.projections.runs import RunsProjection
from events.projections import ProjectionError, current_tables
from events.store import EventStore

STEP_BUCKETS_SECONDS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
RUN_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
APPEND_RATE_WINDOW_SECONDS = 300


@dataclass(frozen=True)
class StepDurations:
    """Finished steps' durations as a cumulative histogram over STEP_BUCKETS_SECONDS."""

    cumulative: list[int]
    count: int
    total_seconds: float


@dataclass(frozen=True)
class ProjectionLag:
    """How many events a projection version readers use (or one being built) lags behind."""

    name: str
    version: int
    lag_events: int


@dataclass(frozen=True)
class Figures:
    """Everything /metrics reports."""

    runs: dict[str, int]
    steps: StepDurations
    recent_events: int
    checkpoint_age_seconds: float | None
    checkpoint_tree_size: int | None
    lags: list[ProjectionLag]


def figures(store: EventStore) -> Figures:
    """The figures as they are now."""
    runs = dict.fromkeys(RUN_STATUSES, 0)
    steps = StepDurations([0] * len(STEP_BUCKETS_SECONDS), 0, 0.0)
    with store.connection() as conn:
        try:
            t: dict[str, str] | None = current_tables(conn, RunsProjection())
        except ProjectionError:
            t = None
        if t is not None:
            for status, count in conn.execute(
                f"SELECT status, count(*) FROM {t['runs']} GROUP BY status"
            ):
                runs[status] = int(count)
            columns = ", ".join(
                f"count(*) FILTER (WHERE duration_ms <= {int(b * 1000)})"
                for b in STEP_BUCKETS_SECONDS
            )
            row = conn.execute(
                f"SELECT {columns}, count(*), coalesce(sum(duration_ms), 0) "
                f"FROM {t['steps']} WHERE duration_ms IS NOT NULL"
            ).fetchone()
            assert row is not None
            *cumulative, count, total_ms = row
            steps = StepDurations([int(c) for c in cumulative], int(count), int(total_ms) / 1000)
    window = timedelta(seconds=APPEND_RATE_WINDOW_SECONDS)
    now = datetime.now(UTC)
    recent = store.count_since(now - window)
    checkpoint = store.latest_checkpoint()
    lags = [
        ProjectionLag(status.name, status.version, status.lag_events)
        for status in projector(store).status()
        if status.current or status.state in ("new", "building")
    ]
    return Figures(
        runs=runs,
        steps=steps,
        recent_events=recent,
        checkpoint_age_seconds=None
        if checkpoint is None
        else (now - checkpoint.signed_at).total_seconds(),
        checkpoint_tree_size=None if checkpoint is None else checkpoint.tree_size,
        lags=lags,
    )
