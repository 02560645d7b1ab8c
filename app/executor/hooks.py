"""Hooks: work that follows a build, outside the step kinds.

After-build hooks run inside a step that built an image, right after ImageBuilt and
before StepFinished, so what they record belongs to that step and a failure fails
it (the SBOM of `SHIPLOG_SBOM_AFTER_BUILD`). After-steps hooks run once every step
of a run has ended (every push included) and before the run's outcome; a
cancelled or interrupted run skips them (provenance signing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from app.executor.actions.support import LogSink
from app.executor.kinds.base import RecordEvents, RunEnv
from app.executor.kinds.sbom import record_sbom
from app.executor.runs import run_stream
from app.provenance.attestations import Attestor
from events.store import EventStore
from events.vocabulary import ProvenanceSigned


class AfterBuild(Protocol):
    """Runs after a build step of `step` built `image_id`."""

    def __call__(self, env: RunEnv, step: str, image_id: str, log: LogSink) -> None:
        """Do the work; StepFailed fails the build step."""


class AfterSteps(Protocol):
    """Runs once every step of the run has ended, before the run's outcome is recorded."""

    def __call__(self, run_id: str, record: RecordEvents) -> None:
        """Do the work, recording through `record`."""


@dataclass(frozen=True)
class Hooks:
    """The hooks of one runner, in the order they run.

    `before_deploy` runs when a deploy step is about to ask for a deployment: signing
    the provenance of what the run built so far, which the deploy's gates check.
    """

    after_build: tuple[AfterBuild, ...] = ()
    after_steps: tuple[AfterSteps, ...] = ()
    before_deploy: tuple[AfterSteps, ...] = ()


def sbom_of_build(env: RunEnv, step: str, image_id: str, log: LogSink) -> None:
    """Make, store and record the SBOM of the image the step built."""
    record_sbom(env, step, image_id, log)


@dataclass(frozen=True)
class SignProvenance:
    """Signs each image the run built (its SLSA provenance) and records ProvenanceSigned."""

    attestor: Attestor
    store: EventStore

    def __call__(self, run_id: str, record: RecordEvents) -> None:
        """Sign each image not signed yet, from the run's events as recorded so far.

        An image a deploy step delivered was signed before it (with the steps up to
        then); it is not signed again at the end.
        """
        events = self.store.read_stream(run_stream(run_id))
        done = {e.data.image_digest for e in events if isinstance(e.data, ProvenanceSigned)}
        signed = self.attestor.sign_run(run_id, events, skip=done)
        if signed:
            record(*signed)


def runner_hooks(attestor: Attestor, store: EventStore, *, sbom_after_build: bool) -> Hooks:
    """The hooks a runner runs: provenance signing (at the end, and before a deploy step),
    SBOMs after builds if asked."""
    sign = SignProvenance(attestor, store)
    return Hooks(
        after_build=(sbom_of_build,) if sbom_after_build else (),
        after_steps=(sign,),
        before_deploy=(sign,),
    )
