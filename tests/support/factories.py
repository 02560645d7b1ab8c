"""Small builders for realistic events, shared by the tests."""

from __future__ import annotations

import hashlib
import uuid

from app.projections import projector
from events.catalogue import Metadata
from events.store import ANY, EventStore
from events.vocabulary import (
    DeploymentStarted,
    DeploymentSucceeded,
    RunQueued,
    StepFinished,
    StepStarted,
)

ALICE = Metadata(actor="alice", source="test", correlation_id="run-1")


def queued(commit: str = "0" * 40) -> RunQueued:
    """A RunQueued for `commit`."""
    return RunQueued(
        repository="https://git.example/acme/web.git",
        commit=commit,
        ref="refs/heads/main",
        trigger="cli",
        pipeline_path=".shiplog.yml",
        pipeline_digest="sha256:" + hashlib.sha256(commit.encode()).hexdigest(),
    )


def step_started(step: str = "build") -> StepStarted:
    """A StepStarted for `step`."""
    return StepStarted(step=step, image="busybox:stable", commands_digest="sha256:" + "a" * 64)


def step_finished(step: str = "build", n: int = 0) -> StepFinished:
    """A StepFinished for `step`; `n` varies the numbers."""
    return StepFinished(
        step=step, exit_code=0, duration_ms=1000 + n, log_sha256="b" * 64, log_lines=n
    )


def deploy_and_fold(store: EventStore, service: str) -> None:
    """One more successful rollout of `service` to production, folded by the projections."""
    deployment = uuid.uuid4().hex
    digest = "sha256:" + hashlib.sha256(deployment.encode()).hexdigest()
    store.append(
        "env-production",
        [
            DeploymentStarted(deployment_id=deployment, service=service, image_digest=digest),
            DeploymentSucceeded(deployment_id=deployment, service=service, image_digest=digest),
        ],
        ANY,
        Metadata(actor="deployer"),
    )
    projector(store).catch_up_all()
