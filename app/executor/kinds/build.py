"""Build steps: build the image, remember it for later steps, and record ImageBuilt."""

from __future__ import annotations

from app.executor.actions.build import run_build_step
from app.executor.actions.labels import SourceFacts
from app.executor.actions.support import LogSink
from app.executor.kinds.base import RunEnv, StepKind, StepResult, typed_step_started
from app.pipeline import BuildStep
from events.vocabulary import ImageBuilt


def run_build(env: RunEnv, step: BuildStep, log: LogSink) -> StepResult:
    """Build the step's image; later steps of the run use it by id, never by its tags."""
    env.record(typed_step_started(step, "docker build", step.build.model_dump(mode="json")))
    facts = SourceFacts.of_run(env.queued, env.pipeline.name)
    built = run_build_step(
        env.ctx, step, source=facts, secrets=env.secrets, log=log, docker_cli=env.docker_cli
    )
    env.built.update(dict.fromkeys(built.tags, built.image_id))
    env.built_steps[step.name] = built.image_id
    env.record(ImageBuilt(step=step.name, **built.as_event_fields()))
    return StepResult(built_image=built.image_id)


BUILD = StepKind(BuildStep, run_build)
