"""What every step kind is given and returns, and the shape of a kind.

A kind runs one step of its type against the Docker engine through the actions,
and records the events that step produces (StepStarted, ImageBuilt, ...) through
`RunEnv.record`. Opening and closing the step (its log, StepFinished, how an
error ends it) is the dispatcher's, the same for every kind.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from app.executor.actions.containers import RunContext
from app.executor.actions.masking import Masker
from app.executor.actions.sandbox import SandboxPolicy
from app.executor.actions.support import LogSink
from app.pipeline import Pipeline, Step
from events.catalogue import Event
from events.vocabulary import RunQueued, StepStarted

S = TypeVar("S")


class RecordEvents(Protocol):
    """Appends events, in order, to the run's stream (and shows them to any live display)."""

    def __call__(self, *events: Event) -> None:
        """Record `events`; raises RunInterrupted when the run was taken over."""


@dataclass(frozen=True)
class RunEnv:
    """What every step of one run shares."""

    ctx: RunContext
    queued: RunQueued
    pipeline: Pipeline
    secrets: Mapping[str, str]
    masker: Masker
    record: RecordEvents
    app_url: str
    sandbox: SandboxPolicy
    osv_dir: Path | None = None
    untrusted: bool = False
    """The run is of code nobody vouched for (a fork's pull request): no secrets at all."""
    docker_cli: str | None = None
    """The docker command for BuildKit builds (SHIPLOG_DOCKER_CLI); None: found on PATH."""
    push_attempts: int = 3
    push_retry_seconds: float = 1.0
    # Tag -> image id of what this run built. Tags are shared by every run on the
    # engine; later steps run and push the id, so never another run's image.
    built: dict[str, str] = field(default_factory=dict)
    # Build step name -> id of the image it built, for scan steps that name the step.
    built_steps: dict[str, str] = field(default_factory=dict)

    def image_id(self, reference: str) -> str | None:
        """The id of the image this run built under `reference` (`app` means `app:latest`)."""
        return self.built.get(reference) or self.built.get(f"{reference}:latest")


@dataclass(frozen=True)
class StepResult:
    """How a step ended when it did not raise; `built_image` feeds the after-build hooks.

    `reason` says why it failed when its exit code alone does not (the sandbox stopped it).
    """

    exit_code: int = 0
    timed_out: bool = False
    built_image: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class StepKind(Generic[S]):
    """A kind of step: the pipeline model it runs, and how.

    `run` raises StepFailed, StepTimedOut or StepCancelled (from the actions) to end
    the step; the dispatcher turns them into the step's exit code or the run's end.
    """

    model: type[S]
    run: Callable[[RunEnv, S, LogSink], StepResult]


def typed_step_started(step: Step, action: str, spec: Mapping[str, Any]) -> StepStarted:
    """StepStarted for a typed step: the 'commands' are its canonical spec."""
    body = json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()
    return StepStarted(
        step=step.name,
        image=action,
        image_digest=None,
        commands_digest="sha256:" + hashlib.sha256(body).hexdigest(),
    )
