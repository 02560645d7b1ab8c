"""Notify steps: put a message for a notification target in the outbox (delivered with retries).

The step only queues: the worker in `shiplog serve` (or `shiplog worker`) delivers,
retrying as for every notification (docs/notifications.md), so a receiver that is down
does not fail the run. A target that is not registered, or disabled, fails the step.
"""

from __future__ import annotations

from app.executor.actions import StepFailed
from app.executor.actions.support import LogSink
from app.executor.kinds.base import RunEnv, StepKind, StepResult, typed_step_started
from app.notify.messages import Notice
from app.notify.store import Outbox, TargetStore
from app.pipeline import NotifyStep


def run_notify(env: RunEnv, step: NotifyStep, log: LogSink) -> StepResult:
    """Queue the step's message for its target; the step fails if the target cannot take it."""
    spec = step.notify
    env.record(typed_step_started(step, "shiplog notify", spec.model_dump(mode="json")))
    target = TargetStore(env.app_url).get(spec.target)
    if target is None:
        raise StepFailed(f"no notification target {spec.target!r} is registered")
    if target.disabled:
        raise StepFailed(f"notification target {spec.target!r} is disabled: {target.disabled}")
    queued = env.queued
    branch = queued.branch or queued.ref.removeprefix("refs/heads/")
    title = spec.message or f"{env.pipeline.name} on {branch}: step {step.name} reached"
    run_id = env.ctx.run_id
    notice = Notice(
        event="NotifyStep",
        subject=f"run {run_id}",
        state=step.name,
        title=title,
        text=f"run {run_id} of {queued.repository} at {queued.commit[:12]}",
    )
    message_id = Outbox(env.app_url).add(spec.target, notice, rule=None)
    log(f"queued message {message_id} for {spec.target}")
    return StepResult()


NOTIFY = StepKind(NotifyStep, run_notify)
