"""Steps with commands: run them in a container of the step's image, then read its test reports."""

from __future__ import annotations

from app.executor.actions.containers import run_command_step
from app.executor.actions.errors import StepCancelled
from app.executor.actions.junit import read_reports
from app.executor.actions.support import LogSink
from app.executor.kinds.base import RunEnv, StepKind, StepResult
from app.pipeline import CommandStep
from events.vocabulary import StepStarted, TestsReported


def run_command(env: RunEnv, step: CommandStep, log: LogSink) -> StepResult:
    """Run the step's commands; record StepStarted once the container runs, then TestsReported."""

    def started(image: str, image_digest: str | None, commands_digest: str) -> None:
        env.record(
            StepStarted(
                step=step.name,
                image=image,
                image_digest=image_digest,
                commands_digest=commands_digest,
            )
        )

    outcome = run_command_step(
        env.ctx,
        step,
        image=step.image,
        image_id=env.image_id(step.image),
        secrets={name: env.secrets[name] for name in step.secrets},
        log=log,
        on_started=started,
        timeout=float(step.timeout),
        sandbox=env.sandbox,
    )
    if outcome.cancelled:
        raise StepCancelled(f"step {step.name}: the run was cancelled")
    if step.reports:
        # Read whatever the step's outcome: failing tests are the interesting ones.
        summary = read_reports(env.ctx.workspace, step.reports)
        if summary is not None:
            env.record(TestsReported(step=step.name, **summary.as_event_fields()))
    return StepResult(
        exit_code=outcome.exit_code, timed_out=outcome.timed_out, reason=outcome.reason
    )


COMMAND = StepKind(CommandStep, run_command)
