"""The velocity page's report per window: computed once, then refreshed in the background."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.queries.velocity import velocity_report
from app.queries.velocity_windows import WindowedReport, windowed_report
from events.store import EventStore
from tests.support.factories import deploy_and_fold
from tests.support.runs import wait_until

PRODUCTION = ("production",)


def deployments(found: WindowedReport) -> int:
    """How many deployments the kept report counts."""
    return sum(group.deployments for group in found.report.groups)


def test_windowed_report_ends_at_the_next_minute_and_is_kept_while_nothing_is_folded(
    store: EventStore,
) -> None:
    deploy_and_fold(store, "web")
    at = datetime.now(UTC).replace(second=30, microsecond=5)
    first = windowed_report(store, PRODUCTION, days=7, now=at)
    minute = at.replace(second=0, microsecond=0) + timedelta(minutes=1)
    window = first.report.window
    assert (window.since, window.until) == (minute - timedelta(days=7), minute)
    assert first.report == velocity_report(store, PRODUCTION, since="7d", until=minute.isoformat())
    assert deployments(first) == 1 and not first.refreshing
    again = windowed_report(store, PRODUCTION, days=7, now=at + timedelta(seconds=20))
    assert again.report is first.report and not again.refreshing


def test_after_a_fold_the_kept_report_is_served_at_once_and_replaced_in_the_background(
    store: EventStore,
) -> None:
    deploy_and_fold(store, "web")
    at = datetime.now(UTC).replace(second=30, microsecond=5)
    first = windowed_report(store, PRODUCTION, days=7, now=at)
    deploy_and_fold(store, "web")

    stale = windowed_report(store, PRODUCTION, days=7, now=at)
    assert stale.report is first.report and stale.refreshing  # says newer figures are coming
    wait_until(
        lambda: deployments(windowed_report(store, PRODUCTION, days=7, now=at)) == 2,
        timeout=30,
        what="the refreshed report",
    )
    fresh = windowed_report(store, PRODUCTION, days=7, now=at)
    assert not fresh.refreshing and fresh.computed_at > first.computed_at
    # A new minute moves the window the same way: kept at first, then refreshed.
    later = at + timedelta(minutes=1)
    assert windowed_report(store, PRODUCTION, days=7, now=later).report is fresh.report
    wait_until(
        lambda: (
            windowed_report(store, PRODUCTION, days=7, now=later).report.window.until
            == at.replace(second=0, microsecond=0) + timedelta(minutes=2)
        ),
        timeout=30,
        what="the window of the next minute",
    )
    # Another window is kept apart: its first request computes it in the ledger's state.
    assert deployments(windowed_report(store, PRODUCTION, days=30, now=at)) == 2
