"""A generated, mixed ledger history of runs (and of other streams), and ways to append it.

The projection, image and run tests fold it and compare what shiplog's read side says
with what the plans say, computed without shiplog's code.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from events.catalogue import Event, Metadata
from events.projections import (
    Projector,
)
from events.store import NO_STREAM, EventStore, ExpectedVersion
from events.vocabulary import (
    BaseImage,
    Commit,
    CommitsPushed,
    DeploymentStarted,
    DeploymentSucceeded,
    FileDifference,
    ImageBuilt,
    ImagePushed,
    IncidentOpened,
    ReproductionCompleted,
    ReproductionRequested,
    RunCancelled,
    RunClaimed,
    RunFailed,
    RunQueued,
    RunSucceeded,
    StepFinished,
    StepSkipped,
    StepStarted,
    TestsReported,
)

# --- a generated, mixed history -----------------------------------------------------------


@dataclass
class RunPlan:
    """What one generated run does, so the test knows the rows to expect on its own."""

    run_id: str
    outcome: str  # queued | running | succeeded | failed | cancelled
    runner: str | None
    steps: dict[str, str] = field(default_factory=dict)  # step -> status
    images: int = 0
    pushes: int = 0
    events: list[Event] = field(default_factory=list)


def plan_run(index: int, chance: random.Random) -> RunPlan:
    """The events of one run, of a kind chosen by `chance`."""
    run_id = f"r{index:04d}"
    commit = f"{index:040x}"
    kind = chance.choice(["succeeded"] * 4 + ["failed", "failed", "cancelled", "queued"])
    runner = f"runner-{index % 3}"
    plan = RunPlan(run_id, kind, None if kind == "queued" else runner)
    plan.events.append(
        RunQueued(
            repository=f"https://git.example/acme/svc{index % 4}.git",
            commit=commit,
            ref="refs/heads/main",
            trigger=chance.choice(["push", "manual", "api"]),
            pipeline_path=".shiplog.yml",
            pipeline_digest="sha256:" + "c" * 64,
        )
    )
    if kind == "queued":
        return plan
    plan.events.append(RunClaimed(runner=runner, runner_version="0.1.0"))
    if kind == "cancelled":
        plan.events += [started("build"), RunCancelled(reason="no longer needed")]
        plan.steps["build"] = "running"
        return plan
    plan.events += [
        started("build"),
        ImageBuilt(
            step="build",
            image_id=f"sha256:{index:064x}",
            base_images=(BaseImage(name="debian:bookworm", digest="sha256:" + "d" * 64),),
            dockerfile_sha256="e" * 64,
            context_digest="sha256:" + "f" * 64,
            build_args={"VERSION": str(index)},
            labels={"org.opencontainers.image.revision": commit},
            tags=("app:latest", f"app:{index}"),
        ),
        finished("build", 0, index),
        started("test"),
        TestsReported(step="test", passed=10, failed=0, skipped=1, report_sha256="a" * 64),
    ]
    plan.images = 1
    plan.steps["build"] = "succeeded"
    if kind == "failed":
        plan.events += [
            finished("test", 1, index),
            StepSkipped(step="push", reason="an earlier step failed"),
            RunFailed(reason="step 'test' failed", step="test"),
        ]
        plan.steps |= {"test": "failed", "push": "skipped"}
        return plan
    plan.events += [finished("test", 0, index), started("push")]
    for tag in ("latest", str(index)):
        plan.events.append(
            ImagePushed(
                step="push",
                repository="registry.example/acme/app",
                tag=tag,
                digest=f"sha256:e{index:063x}",  # the manifest digest
                image_id=f"sha256:{index:064x}",
            )
        )
    plan.events += [finished("push", 0, index), RunSucceeded(duration_ms=5000 + index)]
    plan.pushes = 2
    plan.steps |= {"test": "succeeded", "push": "succeeded"}
    return plan


def started(step: str) -> StepStarted:
    """A StepStarted for `step`."""
    return StepStarted(step=step, image="busybox:1", commands_digest="sha256:" + "a" * 64)


def finished(step: str, exit_code: int, n: int) -> StepFinished:
    """A StepFinished for `step`."""
    return StepFinished(
        step=step, exit_code=exit_code, duration_ms=100 + n, log_sha256="b" * 64, log_lines=n
    )


def other_streams(count: int) -> dict[str, list[Event]]:
    """Events of streams the runs projection does not read."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return {
        "env-production": [
            event
            for n in range(count)
            for event in (
                DeploymentStarted(deployment_id=f"d{n}", service="web", image_digest="sha256:1"),
                DeploymentSucceeded(deployment_id=f"d{n}", service="web", image_digest="sha256:1"),
            )
        ],
        "repo-acme.web": [
            CommitsPushed(
                repository="acme/web",
                ref="refs/heads/main",
                commits=(Commit(sha=f"{n:040x}", authored_at=at + timedelta(minutes=n)),),
            )
            for n in range(count)
        ],
        "incident-1": [IncidentOpened(environment="production", service="web", summary="down")],
        **{f"repro-{n:08d}": reproduction(n) for n in range(count)},
    }


def reproduction(n: int) -> list[Event]:
    """A reproduction's events: requested, and (but for every third) completed."""
    image = f"sha256:{n:064x}"
    requested = ReproductionRequested(
        image_digest=image, image_id=image, run_id=f"run{n}", step="build", source_date_epoch=n
    )
    if n % 3 == 2:
        return [requested]
    changed = FileDifference(
        path=f"/f{n}", change="changed", aspects=("sha256",), original="file a", rebuilt="file b"
    )
    completed = ReproductionCompleted(
        image_digest=image,
        image_id=image,
        verdict="differs" if n % 3 else "same-content",
        rebuilt_image_id=f"sha256:{n + 1:064x}",
        layers_identical=False,
        compared=("config-digest", "files"),
        files_compared=n,
        differences=(changed,) if n % 3 else (),
    )
    return [requested, completed]


def history(runs: int, seed: int, first: int = 0) -> tuple[list[RunPlan], dict[str, list[Event]]]:
    """Plans of `runs` runs and every stream's events, non-run streams included."""
    chance = random.Random(seed)
    plans = [plan_run(first + i, chance) for i in range(runs)]
    streams = {f"run-{p.run_id}": list(p.events) for p in plans}
    if first == 0:
        streams |= other_streams(max(1, runs // 4))
    return plans, streams


def append_interleaved(store: EventStore, streams: dict[str, list[Event]], seed: int) -> int:
    """Append all streams' events, interleaving streams at random, 1-3 events at a time."""
    chance = random.Random(seed)
    pending = {name: list(events) for name, events in streams.items()}
    written = {name: 0 for name in streams}
    total = 0
    while pending:
        name = chance.choice(sorted(pending))
        chunk = pending[name][: chance.randint(1, 3)]
        del pending[name][: len(chunk)]
        if not pending[name]:
            del pending[name]
        expected: ExpectedVersion = NO_STREAM if written[name] == 0 else written[name] - 1
        store.append(name, chunk, expected, Metadata(actor="alice", correlation_id=name))
        written[name] += len(chunk)
        total += len(chunk)
    return total


def fold_while_appending(
    store: EventStore,
    streams: dict[str, list[Event]],
    projector: Projector,
    projections: list[Any],
    *,
    batch: int,
    seed: int,
) -> int:
    """Append `streams` in a thread while folding `projections` batch by batch; then catch up.

    Returns how many rounds of batches ran while the writer was still appending.
    """
    done = threading.Event()

    def writer() -> None:
        append_interleaved(store, streams, seed=seed)
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    rounds = 0
    while not done.is_set():
        for projection in projections:
            projector.step(projection, batch=batch)
        rounds += 1
    thread.join()
    for projection in projections:
        projector.catch_up(projection, batch=batch)
    return rounds
