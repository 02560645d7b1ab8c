"""The velocity page's report per window: the same answer as the report, kept until a fold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.projections import projector
from app.queries.velocity import velocity_report
from app.queries.velocity_windows import windowed_report
from events.catalogue import Metadata
from events.store import ANY, EventStore
from events.vocabulary import DeploymentStarted, DeploymentSucceeded

BOB = Metadata(actor="bob@example.com")
DIGEST = "sha256:" + "1" * 64


def deploy(store: EventStore, ident: str, finished: datetime) -> None:
    """A rollout of service web to production that succeeded at `finished`."""
    store.append(
        "env-production",
        [
            DeploymentStarted(
                deployment_id=ident, service="web", image_digest=DIGEST,
                started_at=finished - timedelta(minutes=5),
            ),
            DeploymentSucceeded(
                deployment_id=ident, service="web", image_digest=DIGEST, finished_at=finished
            ),
        ],
        ANY,
        BOB,
    )  # fmt: skip


def test_windowed_report_ends_at_the_next_minute_and_is_kept_until_something_is_folded(
    store: EventStore,
) -> None:
    now = datetime.now(UTC)
    deploy(store, "d1", now - timedelta(days=2))
    projector(store).catch_up_all()
    at = now.replace(second=30, microsecond=5)
    first = windowed_report(store, ("production",), days=7, now=at)
    minute = at.replace(second=0, microsecond=0) + timedelta(minutes=1)
    assert (first.window.since, first.window.until) == (minute - timedelta(days=7), minute)
    exact = velocity_report(store, ("production",), since="7d", until=minute.isoformat())
    assert first == exact
    assert windowed_report(store, ("production",), days=7, now=at + timedelta(seconds=20)) is first
    deploy(store, "d2", now - timedelta(days=1))
    assert windowed_report(store, ("production",), days=7, now=at) is first  # not folded yet
    projector(store).catch_up_all()
    folded = windowed_report(store, ("production",), days=7, now=at)
    assert [g.deployments for g in folded.groups] == [2]
    later = windowed_report(store, ("production",), days=7, now=at + timedelta(minutes=1))
    assert later.window.until == minute + timedelta(minutes=1)
