"""Push steps: push an image this run built, and record each pushed tag's digest."""

from __future__ import annotations

from app.executor.actions.push import run_push_step
from app.executor.actions.support import LogSink
from app.executor.kinds.base import RunEnv, StepKind, StepResult, typed_step_started
from app.pipeline import PushStep
from events.vocabulary import ImagePushed


def run_push(env: RunEnv, step: PushStep, log: LogSink) -> StepResult:
    """Push the built image under each tag; ImagePushed carries the registry's digest."""
    spec = step.push
    env.record(typed_step_started(step, "docker push", spec.model_dump(mode="json")))
    credentials = None
    if spec.username is not None and spec.password is not None:
        credentials = (
            env.secrets[spec.username.from_secret],
            env.secrets[spec.password.from_secret],
        )
    image_id = env.image_id(spec.image)
    pushes = run_push_step(
        env.ctx,
        step,
        image_id=image_id,
        credentials=credentials,
        log=log,
        attempts=env.push_attempts,
        retry_seconds=env.push_retry_seconds,
    )
    for pushed in pushes:
        env.record(
            ImagePushed(
                step=step.name,
                repository=pushed.repository,
                tag=pushed.tag,
                digest=pushed.digest,
                image_id=image_id,
            )
        )
    return StepResult()


PUSH = StepKind(PushStep, run_push)
