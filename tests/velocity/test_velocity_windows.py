"""The velocity page's kept reports: computed once, then refreshed in the background."""

from __future__ import annotations

from app.queries.velocity_windows import WindowedReport, windowed_report
from events.store import EventStore
from tests.support.factories import deploy_and_fold
from tests.support.runs import wait_until

PRODUCTION = ("production",)


def deployments(found: WindowedReport) -> int:
    """How many deployments the kept report counts."""
    return sum(group.deployments for group in found.report.groups)


def test_a_window_is_computed_once_and_kept_while_nothing_is_folded(store: EventStore) -> None:
    deploy_and_fold(store, "web")
    first = windowed_report(store, PRODUCTION, days=7, service="web")
    assert deployments(first) == 1 and not first.refreshing
    again = windowed_report(store, PRODUCTION, days=7, service="web")
    assert again.report is first.report and not again.refreshing


def test_after_a_fold_the_kept_report_is_served_at_once_and_replaced_in_the_background(
    store: EventStore,
) -> None:
    deploy_and_fold(store, "web")
    first = windowed_report(store, PRODUCTION, days=7, service="web")
    deploy_and_fold(store, "web")

    stale = windowed_report(store, PRODUCTION, days=7, service="web")
    assert stale.report is first.report and stale.refreshing  # says newer figures are coming
    wait_until(
        lambda: deployments(windowed_report(store, PRODUCTION, days=7, service="web")) == 2,
        timeout=30,
        what="the refreshed report",
    )
    fresh = windowed_report(store, PRODUCTION, days=7, service="web")
    assert not fresh.refreshing and fresh.computed_at > first.computed_at
    # Another window is kept apart: its first request computes it in the ledger's state.
    assert deployments(windowed_report(store, PRODUCTION, days=30, service="web")) == 2
