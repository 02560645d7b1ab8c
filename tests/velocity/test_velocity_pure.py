"""The pure parts of velocity: quantiles, DORA level bounds, folding rows in any order, periods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.velocity import dora
from app.velocity.metrics import Window, velocity
from app.velocity.periods import parse_moment
from app.velocity.records import Deployment, DeploymentRow, fold_deployments
from app.velocity.stats import quantile

T = datetime(2026, 5, 4, 12, tzinfo=UTC)


def test_quantiles_interpolate_between_closest_ranks() -> None:
    assert quantile([], 0.5) is None
    assert quantile([7.0], 0.9) == 7.0
    assert quantile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert quantile([float(i) for i in range(1, 11)], 0.9) == pytest.approx(9.1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        quantile([1.0], 1.5)


def test_dora_levels_change_exactly_at_the_documented_bounds() -> None:
    hour, day = 3600.0, 86400.0
    assert [dora.lead_time_level(s) for s in (day - 1, day, 7 * day, 30 * day)] == [
        "elite", "high", "medium", "low",
    ]  # fmt: skip
    assert [dora.recovery_level(s) for s in (hour - 1, hour, day, 7 * day)] == [
        "elite", "high", "medium", "low",
    ]  # fmt: skip
    assert [dora.failure_rate_level(r) for r in (0.05, 0.0501, 0.15, 0.151)] == [
        "elite", "high", "medium", "low",
    ]  # fmt: skip
    assert [dora.frequency_level(f) for f in (1.0, 0.99, 1 / 30, 1 / 31)] == [
        "elite", "high", "medium", "low",
    ]  # fmt: skip
    assert dora.lead_time_level(None) is None


def row(position: int, kind: str, at: datetime, digest: str | None = None) -> DeploymentRow:
    """A row of deployment d1 of service web in production."""
    return DeploymentRow(
        position, 1, "production", "d1", "web", kind, digest, at, "alice",
        commit="c" * 40 if kind == "started" else None,
        reason="bad" if kind == "rolled_back" else None,
    )  # fmt: skip


def test_a_deployment_folds_to_the_same_record_whatever_order_its_rows_arrive_in() -> None:
    rows = [
        row(1, "started", T, "sha256:new"),
        row(2, "succeeded", T + timedelta(minutes=5), "sha256:new"),
        row(3, "rolled_back", T + timedelta(hours=1), "sha256:old"),
    ]
    forward, backward = fold_deployments(rows), fold_deployments(reversed(rows))
    assert [d.status for d in forward] == ["rolled_back"]
    assert forward[0].image_digest == "sha256:new" and forward[0].rolled_back_to == "sha256:old"
    assert forward[0].commit == "c" * 40 and forward[0].reason == "bad"
    assert backward[0].__dict__ | {"position": 0} == forward[0].__dict__ | {"position": 0}
    assert not forward[0].succeeded


def test_periods_are_ages_or_iso_times_and_anything_else_is_refused() -> None:
    assert parse_moment("90d", T) == T - timedelta(days=90)
    assert parse_moment("12w", T) == T - timedelta(weeks=12)
    assert parse_moment("36h", T) == T - timedelta(hours=36)
    assert parse_moment("2026-01-31", T) == datetime(2026, 1, 31, tzinfo=UTC)
    with pytest.raises(ValueError, match="expected an age such as 90d"):
        parse_moment("three months", T)


def test_a_commit_no_push_recorded_is_timed_from_its_run_and_marked_so() -> None:
    def deployed(ident: str, sha: str, finished: datetime) -> Deployment:
        return Deployment(
            ident, "production", "web", outcome="succeeded", started_at=finished,
            finished_at=finished, repository="file:///repo", commit=sha,
        )  # fmt: skip

    done = [
        deployed("d1", "a" * 40, T + timedelta(hours=2)),
        deployed("d2", "b" * 40, T + timedelta(hours=5)),  # pushed: timed from its author time
        deployed("d3", "a" * 40, T + timedelta(hours=9)),  # already delivered: no second sample
    ]
    pushed = {"file:///repo": [("b" * 40, T + timedelta(hours=4))]}
    times = {("file:///repo", "a" * 40): T}
    window = Window(T - timedelta(days=1), T + timedelta(days=1))
    (found,) = velocity(done, [], pushed, window, times)
    assert found.lead_time.count == 2 and found.lead_time_from_commit_time == 1
    assert sorted([found.lead_time.median or 0.0]) == [1.5 * 3600]  # 2 h and 1 h
    (unmarked,) = velocity(done, [], pushed, window)
    assert unmarked.lead_time.count == 1 and unmarked.lead_time_from_commit_time == 0
