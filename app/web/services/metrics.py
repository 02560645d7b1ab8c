"""`/metrics`: figures read from the database at each scrape, in Prometheus exposition format.

Nothing is counted in the process: every figure comes from the read tables and
the ledger, so any number of `shiplog serve` processes report the same values
and a restart loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from app.projections import projector
from app.projections.runs import RunsProjection
from events.projections import ProjectionError, current_tables
from events.store import EventStore

STEP_BUCKETS_SECONDS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
RUN_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
APPEND_RATE_WINDOW_SECONDS = 300


class ShiplogCollector(Collector):
    """Collects shiplog's figures from `store` on each scrape."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def collect(self) -> Iterator[Any]:
        """Every metric family, read fresh."""
        with self.store.connection() as conn:
            try:
                t: dict[str, str] | None = current_tables(conn, RunsProjection())
            except ProjectionError:
                t = None
            yield from _runs(conn, t)
            yield from _steps(conn, t)
            yield from _ledger(conn)
        lag = GaugeMetricFamily(
            "shiplog_projection_lag_events",
            "Events recorded but not yet folded into each projection version readers use.",
            labels=["projection", "version"],
        )
        for status in projector(self.store).status():
            if status.current or status.state in ("new", "building"):
                lag.add_metric([status.name, str(status.version)], status.lag_events)
        yield lag


def _runs(conn: Any, t: dict[str, str] | None) -> Iterator[Any]:
    counts = dict.fromkeys(RUN_STATUSES, 0)
    if t is not None:
        for status, count in conn.execute(
            f"SELECT status, count(*) FROM {t['runs']} GROUP BY status"
        ):
            counts[status] = int(count)
    runs = GaugeMetricFamily("shiplog_runs", "Runs by status.", labels=["status"])
    for status, count in counts.items():
        runs.add_metric([status], count)
    yield runs
    yield GaugeMetricFamily(
        "shiplog_queue_depth", "Runs queued and not yet claimed by a runner.", counts["queued"]
    )


def _steps(conn: Any, t: dict[str, str] | None) -> Iterator[Any]:
    buckets: list[tuple[str, float]] = []
    total_seconds, count = 0.0, 0
    if t is not None:
        columns = ", ".join(
            f"count(*) FILTER (WHERE duration_ms <= {int(b * 1000)})" for b in STEP_BUCKETS_SECONDS
        )
        row = conn.execute(
            f"SELECT {columns}, count(*), coalesce(sum(duration_ms), 0) "
            f"FROM {t['steps']} WHERE duration_ms IS NOT NULL"
        ).fetchone()
        *cumulative, count, total_ms = row
        buckets = [
            (repr(float(b)), int(c)) for b, c in zip(STEP_BUCKETS_SECONDS, cumulative, strict=True)
        ]
        total_seconds, count = int(total_ms) / 1000, int(count)
    buckets.append(("+Inf", count))
    yield HistogramMetricFamily(
        "shiplog_step_duration_seconds",
        "How long finished steps ran.",
        buckets=buckets,
        sum_value=total_seconds,
    )


def _ledger(conn: Any) -> Iterator[Any]:
    window = APPEND_RATE_WINDOW_SECONDS
    (recent,) = conn.execute(
        "SELECT count(*) FROM events WHERE recorded_at > now() - make_interval(secs => %s)",
        (window,),
    ).fetchone()
    yield GaugeMetricFamily(
        "shiplog_ledger_append_rate",
        f"Events appended per second, averaged over the last {window} seconds.",
        int(recent) / window,
    )
    row = conn.execute(
        "SELECT extract(epoch FROM now() - signed_at)::float8, tree_size "
        "FROM ledger_checkpoints ORDER BY tree_size DESC LIMIT 1"
    ).fetchone()
    if row is not None:
        yield GaugeMetricFamily(
            "shiplog_latest_checkpoint_age_seconds",
            "Seconds since the latest checkpoint was signed.",
            float(row[0]),
        )
        yield GaugeMetricFamily(
            "shiplog_latest_checkpoint_tree_size",
            "Events sealed by the latest checkpoint.",
            int(row[1]),
        )


def exposition(store: EventStore) -> bytes:
    """The metrics in the Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ShiplogCollector(store))
    return generate_latest(registry)
