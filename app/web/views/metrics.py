"""`/metrics` in the Prometheus exposition format, from app/queries/metrics.py's figures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from app.queries.metrics import APPEND_RATE_WINDOW_SECONDS, STEP_BUCKETS_SECONDS, figures
from events.store import EventStore


class ShiplogCollector(Collector):
    """Collects shiplog's figures from `store` on each scrape."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def collect(self) -> Iterator[Any]:
        """Every metric family, read fresh."""
        found = figures(self.store)
        runs = GaugeMetricFamily("shiplog_runs", "Runs by status.", labels=["status"])
        for status, count in found.runs.items():
            runs.add_metric([status], count)
        yield runs
        yield GaugeMetricFamily(
            "shiplog_queue_depth",
            "Runs queued and not yet claimed by a runner.",
            found.runs["queued"],
        )
        buckets = [
            (repr(float(b)), c)
            for b, c in zip(STEP_BUCKETS_SECONDS, found.steps.cumulative, strict=True)
        ]
        buckets.append(("+Inf", found.steps.count))
        yield HistogramMetricFamily(
            "shiplog_step_duration_seconds",
            "How long finished steps ran.",
            buckets=buckets,
            sum_value=found.steps.total_seconds,
        )
        window = APPEND_RATE_WINDOW_SECONDS
        yield GaugeMetricFamily(
            "shiplog_ledger_append_rate",
            f"Events appended per second, averaged over the last {window} seconds.",
            found.recent_events / window,
        )
        if found.checkpoint_age_seconds is not None:
            yield GaugeMetricFamily(
                "shiplog_latest_checkpoint_age_seconds",
                "Seconds since the latest checkpoint was signed.",
                found.checkpoint_age_seconds,
            )
            yield GaugeMetricFamily(
                "shiplog_latest_checkpoint_tree_size",
                "Events sealed by the latest checkpoint.",
                found.checkpoint_tree_size,
            )
        lag = GaugeMetricFamily(
            "shiplog_projection_lag_events",
            "Events recorded but not yet folded into each projection version readers use.",
            labels=["projection", "version"],
        )
        for item in found.lags:
            lag.add_metric([item.name, str(item.version)], item.lag_events)
        yield lag


def exposition(store: EventStore) -> bytes:
    """The metrics in the Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ShiplogCollector(store))
    return generate_latest(registry)
