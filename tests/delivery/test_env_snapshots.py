"""Environment snapshots: a snapshot plus the events after it is exactly the whole stream folded.

Ledger-level, no Docker: a stream with every kind of delivery event (requests,
approvals and a rejection, refusals, expiry, rollouts that succeed, fail and are
rolled back, a driver lost and reaped, pins, waivers, drift, blue/green switches and
standbys, deployments other tools reported) is appended to `env-production`, and
at every version the state read through a snapshot must equal the full fold: what
the page shows and what the desk decides on, and the version the desk appends at.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.delivery import snapshots
from app.delivery.ledger import (
    EnvironmentState,
    environment_stream,
    fold_environment,
    read_environment,
)
from app.delivery.snapshots import (
    fold_digest,
    forget_snapshots,
    read_state,
    rebuild_snapshots,
)
from app.delivery.state_codec import ArchivedService, decode_state, encode_state
from app.queries.delivery import delivered
from events.catalogue import Event, Metadata
from events.errors import LedgerError
from events.store import ANY, EventStore
from events.vocabulary import (
    ApprovalGranted,
    ApprovalRejected,
    DeploymentFailed,
    DeploymentRequested,
    DeploymentStarted,
    DeploymentSucceeded,
    DeploymentTimedOut,
    DriftDetected,
    DriftResolved,
    EnvironmentPinned,
    EnvironmentUnpinned,
    EvidenceItem,
    PromotionRefused,
    RolledBack,
    StandbyRetired,
    SwarmState,
    TrafficSwitched,
    WaiverGranted,
)

ENV = "production"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def digest(n: int) -> str:
    """A made-up manifest digest."""
    return f"sha256:{n:064x}"


def requested(dep: str, service: str, n: int, approvals: int = 0, **more: Any) -> Event:
    """DeploymentRequested of digest `n` to `service`."""
    return DeploymentRequested(
        deployment_id=dep,
        service=service,
        image_digest=digest(n),
        image=f"registry.example/acme/{service}@{digest(n)}",
        strategy=more.pop("strategy", "rolling"),
        settings='{"replicas": 2}',
        run_id=f"run-{n}",
        from_environment="staging",
        previous_digest=more.pop("previous", None),
        repository="https://git.example/acme/web.git",
        commit=f"{n:040x}",
        evidence=(EvidenceItem(kind="scan", digest=digest(900 + n)),),
        waived=more.pop("waived", ()),
        approvals_required=approvals,
        expires_at=T0 + timedelta(days=1),
        evidence_sha256=f"{n:064x}",
    )


def outcome(dep: str, service: str, n: int) -> list[Event]:
    """Started and succeeded."""
    return [
        DeploymentStarted(deployment_id=dep, service=service, image_digest=digest(n)),
        DeploymentSucceeded(deployment_id=dep, service=service, image_digest=digest(n)),
    ]


def history() -> Iterator[tuple[str, Event]]:
    """(actor, event) of a stream that uses every event the fold knows, in a plausible order."""
    for n in range(30, 42):  # more deployments of one service than a snapshot keeps at hand
        yield "alice", requested(f"old-{n}", "old", n)
        for event in outcome(f"old-{n}", "old", n):
            yield "alice", event
    for n in range(1, 4):  # web: three deployments that succeed, the first two approved
        dep = f"web-{n}"
        yield "alice", requested(dep, "web", n, approvals=1 if n < 3 else 0)
        if n < 3:
            yield (
                "carol",
                ApprovalGranted(
                    deployment_id=dep,
                    service="web",
                    image_digest=digest(n),
                    evidence_sha256=f"{n:064x}",
                    comment=f"ok {n}",
                ),
            )
        for event in outcome(dep, "web", n):
            yield "alice", event
    yield (
        "bob",
        WaiverGranted(image_digest=digest(4), policy="scan", reason="not reachable", expires_at=T0),
    )
    yield "alice", requested("web-4", "web", 4, waived=("scan",), previous=digest(3))
    yield "alice", DeploymentStarted(deployment_id="web-4", service="web", image_digest=digest(4))
    yield "alice", DeploymentSucceeded(deployment_id="web-4", service="web", image_digest=digest(4))
    # a rollback by hand: pinned, then rolled back to 3
    yield "bob", EnvironmentPinned(service="web", image_digest=digest(3), reason="v4 breaks")
    yield (
        "bob",
        RolledBack(
            deployment_id="web-4", service="web", image_digest=digest(3), reason="v4 breaks"
        ),
    )
    yield (
        "alice",
        PromotionRefused(
            deployment_id=None,
            service="web",
            image_digest=digest(5),
            policy="pinned",
            reason="pinned to 3 by bob",
        ),
    )
    yield "bob", EnvironmentUnpinned(service="web", reason="fixed")
    # a failed rollout Swarm rolled back automatically
    yield "alice", requested("web-5", "web", 5)
    yield "alice", DeploymentStarted(deployment_id="web-5", service="web", image_digest=digest(5))
    yield "alice", DeploymentFailed(deployment_id="web-5", service="web", reason="health check")
    yield (
        "alice",
        RolledBack(
            deployment_id="web-5", service="web", image_digest=digest(3), reason="automatic: task"
        ),
    )
    # a lost driver, reaped: failed, then Swarm's rollback
    yield "alice", requested("web-6", "web", 6)
    yield "alice", DeploymentStarted(deployment_id="web-6", service="web", image_digest=digest(6))
    lost = "driver lost: ci-1 sent no heartbeat for 30 s"
    yield "reaper:ci-2", DeploymentFailed(deployment_id="web-6", service="web", reason=lost)
    yield (
        "reaper:ci-2",
        RolledBack(
            deployment_id="web-6",
            service="web",
            image_digest=digest(3),
            reason=f"automatic: {lost}",
        ),
    )
    # one rejected, one refused by a gate, one that timed out
    yield "alice", requested("web-7", "web", 7, approvals=1)
    yield (
        "carol",
        ApprovalRejected(
            deployment_id="web-7",
            service="web",
            image_digest=digest(7),
            evidence_sha256=f"{7:064x}",
            reason="not today",
        ),
    )
    yield (
        "alice",
        PromotionRefused(
            deployment_id=None, service="web", image_digest=digest(8), policy="scan", reason="high"
        ),
    )
    yield "alice", requested("web-9", "web", 9, approvals=2)
    yield (
        "worker",
        DeploymentTimedOut(
            deployment_id="web-9",
            service="web",
            image_digest=digest(9),
            waited_ms=86_400_000,
            waiting_for=("approvals",),
        ),
    )
    # drift seen and resolved, then seen again (left open)
    observed = SwarmState(swarm_service="production-web", image_digest=digest(1), replicas=1)
    yield "worker", DriftDetected(service="web", differences=("image",), observed=observed)
    yield "worker", DriftResolved(service="web", how="matches")
    yield "worker", DriftDetected(service="api", differences=("missing",))
    # blue/green: first live in blue, a switch to green, the standby retired
    yield "alice", requested("api-1", "api", 11, strategy="blue-green")
    yield "alice", DeploymentStarted(deployment_id="api-1", service="api", image_digest=digest(11))
    yield (
        "alice",
        TrafficSwitched(
            deployment_id="api-1", service="api", to_colour="blue", image_digest=digest(11)
        ),
    )
    yield (
        "alice",
        DeploymentSucceeded(deployment_id="api-1", service="api", image_digest=digest(11)),
    )
    yield "alice", requested("api-2", "api", 12, strategy="blue-green", previous=digest(11))
    yield "alice", DeploymentStarted(deployment_id="api-2", service="api", image_digest=digest(12))
    yield (
        "alice",
        TrafficSwitched(
            deployment_id="api-2",
            service="api",
            to_colour="green",
            image_digest=digest(12),
            from_colour="blue",
            from_digest=digest(11),
        ),
    )
    yield (
        "alice",
        DeploymentSucceeded(deployment_id="api-2", service="api", image_digest=digest(12)),
    )
    yield "worker", StandbyRetired(service="api", colour="blue", image_digest=digest(11))
    # deployments another tool reported (no DeploymentRequested), and one still waiting
    for event in outcome("ext-1", "batch", 21):
        yield "integration", event
    yield "alice", requested("web-10", "web", 10, approvals=1)


def record(store: EventStore, actor: str, event: Event) -> None:
    """Append one event to the environment's stream as `actor`."""
    store.append(environment_stream(ENV), [event], ANY, Metadata(actor=actor, source="test"))


def append_history(store: EventStore) -> int:
    """The whole history appended, one event per transaction; its last version."""
    count = 0
    for actor, event in history():
        record(store, actor, event)
        count += 1
    return count - 1


def comparable(state: EnvironmentState) -> dict[str, Any]:
    """Everything the state holds, for equality (dataclasses and models as plain values)."""
    return asdict(state)


def test_a_state_survives_its_codec_at_every_version(store: EventStore) -> None:
    last = append_history(store)
    events = store.read_stream(environment_stream(ENV))
    state = EnvironmentState(ENV)
    for event in events:
        state.apply(event)
        again = decode_state(ENV, state.version, encode_state(state))
        assert comparable(again) == comparable(state), f"at version {state.version}"
    assert state.version == last


def test_a_snapshot_at_any_version_folded_forward_equals_the_whole_stream(
    store: EventStore,
) -> None:
    last = append_history(store)
    whole = read_environment(store, ENV)
    assert whole.version == last
    fold = fold_digest()
    assert fold is not None
    events = store.read_stream(environment_stream(ENV))
    for cut in range(-1, last + 1):
        forget_snapshots(store)
        if cut >= 0:
            prefix = EnvironmentState(ENV)
            for event in events[: cut + 1]:
                prefix.apply(event)
            snapshots._save(store, prefix, fold)
        through_snapshot = read_state(store, ENV)
        assert through_snapshot.version == last, f"snapshot at {cut}"
        assert comparable(through_snapshot) == comparable(whole), f"snapshot at {cut}"


def test_reads_between_appends_keep_saving_and_always_equal_the_full_fold(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshots, "REFRESH_AFTER", 2)  # save every few events
    saved_versions = set()
    for actor, event in history():
        record(store, actor, event)
        state = read_state(store, ENV)
        assert comparable(state) == comparable(read_environment(store, ENV))
        assert state.version == store.stream_version(environment_stream(ENV))
        with store.connection() as conn:
            row = conn.execute("SELECT version FROM env_state_snapshots").fetchone()
        if row is not None:
            saved_versions.add(row[0])
    assert len(saved_versions) > 5  # the snapshot moved along, and was used


def test_the_page_shows_the_same_with_and_without_a_snapshot(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    append_history(store)
    monkeypatch.setattr(snapshots, "REFRESH_AFTER", 10_000)  # nothing saved yet
    cold = delivered(store, ENV)
    with store.connection() as conn:
        assert conn.execute("SELECT count(*) FROM env_state_snapshots").fetchone() == (0,)
    assert [d.service for d in cold] == ["api", "old", "web"]  # batch: reported by another tool
    monkeypatch.setattr(snapshots, "REFRESH_AFTER", 0)
    read_state(store, ENV)  # saves a snapshot
    with store.connection() as conn:
        assert conn.execute("SELECT count(*) FROM env_state_snapshots").fetchone() == (1,)
    assert delivered(store, ENV) == cold
    web = next(d for d in cold if d.service == "web")
    assert (web.image_digest, web.deployment_id, web.approved_by) == (digest(3), "web-3", [])


def test_a_decision_on_a_snapshot_appends_at_the_version_it_read_and_loses_a_race(
    store: EventStore,
) -> None:
    append_history(store)
    read_state(store, ENV)  # a snapshot now stands at the stream's end
    decided_on = read_state(store, ENV)
    # someone else appends after the read: a decision on the old state must be refused
    record(store, "bob", EnvironmentPinned(service="web", image_digest=digest(3), reason="x"))
    late = EnvironmentUnpinned(service="web", reason="decided on an old state")
    with pytest.raises(LedgerError):
        store.append(
            environment_stream(ENV),
            [late],
            decided_on.expected,
            Metadata(actor="alice", source="test"),
        )
    fresh = read_state(store, ENV)
    assert fresh.version == decided_on.version + 1
    assert fresh.service("web").pin is not None
    store.append(
        environment_stream(ENV), [late], fresh.expected, Metadata(actor="alice", source="test")
    )
    assert read_state(store, ENV).service("web").pin is None


def test_an_older_snapshot_never_replaces_a_newer_one(store: EventStore) -> None:
    last = append_history(store)
    fold = fold_digest()
    assert fold is not None
    events = store.read_stream(environment_stream(ENV))
    newest = read_environment(store, ENV)
    snapshots._save(store, newest, fold)
    older = EnvironmentState(ENV)
    for event in events[:5]:
        older.apply(event)
    snapshots._save(store, older, fold)
    with store.connection() as conn:
        assert conn.execute("SELECT version FROM env_state_snapshots").fetchone() == (last,)


def test_a_snapshot_folded_by_other_code_is_not_read(store: EventStore) -> None:
    append_history(store)
    wrong = EnvironmentState(ENV, version=3)  # claims version 3 but holds nothing
    snapshots._save(store, wrong, "0" * 64)
    assert comparable(read_state(store, ENV)) == comparable(read_environment(store, ENV))


def test_rebuilding_the_snapshots_gives_the_rows_kept_live(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshots, "REFRESH_AFTER", 0)  # every read saves
    for actor, event in history():
        record(store, actor, event)
        read_state(store, ENV)
    query = "SELECT environment, fold, version, state::text FROM env_state_snapshots"
    with store.connection() as conn:
        live = conn.execute(query).fetchall()
    assert rebuild_snapshots(store, [ENV, "staging"]) == 1  # staging has no stream
    with store.connection() as conn:
        rebuilt = conn.execute(query).fetchall()
    assert rebuilt == live


def test_an_unreadable_snapshot_is_passed_over_for_the_stream(store: EventStore) -> None:
    append_history(store)
    fold = fold_digest()
    with store.connection() as conn:
        conn.execute(
            "INSERT INTO env_state_snapshots (environment, fold, version, state) "
            "VALUES (%s, %s, 3, '{\"services\": 1}')",
            (ENV, fold),
        )
    assert comparable(read_state(store, ENV)) == comparable(read_environment(store, ENV))


def answers(state: EnvironmentState) -> dict[str, Any]:
    """What the page and the desk ask of each service most often (no history needed)."""
    found: dict[str, Any] = {}
    for name in sorted(state.services):
        service = state.service(name)
        running = service.running
        found[name] = {
            "running": running,
            "open": service.open_request(),
            "delivered by": service.request_of(running.image_digest) if running else None,
            "recent": service.recent_requests(10),
            "rollback targets": service.rollback_targets(),
            "pin": service.pin,
            "live": (service.live, service.standby),
        }
    return found


def by_id(state: EnvironmentState) -> dict[str, Any]:
    """Every deployment asked for by its id (and some never asked for)."""
    ids = [f"{s}-{n}" for s in ("web", "api", "ext", "old") for n in range(0, 45)]
    return {i: state.request(i) for i in ids}


def test_a_service_read_from_a_snapshot_answers_the_cheap_questions_without_its_history(
    store: EventStore,
) -> None:
    last = append_history(store)
    fold = fold_digest()
    assert fold is not None
    events = store.read_stream(environment_stream(ENV))
    for cut in range(0, last + 1):
        forget_snapshots(store)
        prefix = EnvironmentState(ENV)
        for event in events[: cut + 1]:
            prefix.apply(event)
        snapshots._save(store, prefix, fold)
        whole_then = fold_environment(ENV, events[: cut + 1])
        read = snapshots._load(store, ENV, fold)
        assert read is not None
        cheap = answers(read)
        built = [
            s.name for s in read.services.values() if isinstance(s, ArchivedService) and s.built
        ]
        assert built == [], f"at {cut}, asking built the history of {built}"
        assert cheap == answers(whole_then), f"at {cut}"
        assert by_id(read) == by_id(whole_then), f"at {cut}"
        assert comparable(read) == comparable(whole_then), f"at {cut}"
        # and folded on to the stream's end, through the desk's path
        now, whole = read_state(store, ENV), read_environment(store, ENV)
        assert (answers(now), by_id(now)) == (answers(whole), by_id(whole))


def test_a_read_whose_fold_built_a_history_saves_it_and_others_wait(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshots, "REFRESH_AFTER", 10_000)
    last = append_history(store)
    fold = fold_digest()
    assert fold is not None
    snapshots._save(store, read_environment(store, ENV), fold)

    def saved() -> int:
        with store.connection() as conn:
            row = conn.execute("SELECT version FROM env_state_snapshots").fetchone()
        assert row is not None
        return int(row[0])

    # a pin changes a plain field: nothing built, the snapshot stays where it was
    record(store, "bob", EnvironmentPinned(service="old", image_digest=digest(41), reason="x"))
    read_state(store, ENV)
    assert saved() == last
    # a deployment's outcome folds into the service's history: built, so saved
    record(store, "alice", requested("old-42", "old", 42))
    assert comparable(read_state(store, ENV)) == comparable(read_environment(store, ENV))
    assert saved() == last + 2


def test_rebuilding_all_projections_folds_the_environment_snapshots_anew(
    cli: CliRunner, store: EventStore
) -> None:
    append_history(store)
    fold = fold_digest()
    snapshots._save(store, EnvironmentState(ENV, version=3), "0" * 64)  # left by other code
    rebuilt = cli.invoke(app, ["projections", "rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "environment snapshots: 1 folded anew" in rebuilt.output
    with store.connection() as conn:
        rows = conn.execute("SELECT environment, fold FROM env_state_snapshots").fetchall()
    assert rows == [(ENV, fold)]
    assert comparable(read_state(store, ENV)) == comparable(read_environment(store, ENV))
