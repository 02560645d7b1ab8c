"""Deploy steps: deliver an image this run built and pushed, by the rules `shiplog deploy` obeys.

The step asks for the deployment as the person who queued the run (so they cannot
approve it themselves), with the digest the run pushed the image as and the step's
own service settings if it gives any; the environment's rules and evidence gates
decide, through the same desk as the API and the CLI (handed to the runner by its
composition, since the executor knows nothing above the domain). Before asking, the
provenance of what the run built so far is signed, so the provenance gate can check
it. The step then waits — approvals, soak, windows, all in its log and on the run
page — until the deployment ends, and fails unless it succeeded. Out of time or
cancelled while the deployment still waits, it withdraws it (DeploymentTimedOut).
Every decision is an event of the environment's stream; the run's stream has the
step's StepStarted and StepFinished.
"""

from __future__ import annotations

import time

from app.delivery.errors import DeliveryError, DeploymentRefused
from app.delivery.orchestrator import OrchestratorError
from app.delivery.requests import DeployAsk, request_deployment
from app.delivery.rollout import advance, withdraw
from app.executor.actions.errors import StepCancelled, StepFailed, StepTimedOut
from app.executor.actions.support import LogSink
from app.executor.kinds.base import RunEnv, StepKind, StepResult, typed_step_started
from app.pipeline import DeployStep


def run_deploy(env: RunEnv, step: DeployStep, log: LogSink) -> StepResult:
    """Ask for the deployment and follow it to its end (see the module docstring)."""
    spec = step.deploy
    env.record(typed_step_started(step, "shiplog deploy", spec.model_dump(mode="json")))
    if env.desks is None:
        raise StepFailed("this runner cannot deploy: it was started without delivery settings")
    image_id = env.built_steps.get(spec.image) or env.image_id(spec.image)
    pushed = env.pushed.get(image_id or "", [])
    if not pushed:
        raise StepFailed(f"image {spec.image} was not pushed by this run before step {step.name}")
    env.before_deploy()
    desk = env.desks()
    ask = DeployAsk(
        spec.environment, spec.service, pushed[0], settings=spec.settings(), run_id=env.ctx.run_id
    )
    try:
        request = request_deployment(desk, ask, env.requested_by)
    except DeploymentRefused as refused:
        for refusal in refused.refusals:
            log(f"refused by {refusal.policy}: {refusal.reason}")
        raise StepFailed(str(refused)) from None
    except (DeliveryError, OrchestratorError) as error:
        raise StepFailed(str(error)) from None
    log(
        f"deployment {request.deployment_id}: {request.image_digest} to {spec.service} in "
        f"{spec.environment} ({request.strategy}), asked as {request.requested_by}"
    )
    deadline = time.monotonic() + step.timeout
    said: tuple[str, ...] = ()
    while True:
        if env.ctx.cancelled.is_set():
            withdraw(desk, spec.environment, request.deployment_id)
            raise StepCancelled("the run was cancelled while the deployment waited")
        progress = advance(desk, spec.environment, request.deployment_id)
        if progress.done:
            break
        reasons = tuple(wait.reason for wait in progress.waits)
        if reasons and reasons != said:
            log("waiting for " + "; ".join(reasons))
            said = reasons
        if time.monotonic() > deadline:
            withdraw(desk, spec.environment, request.deployment_id)
            raise StepTimedOut(
                f"step {step.name} waited longer than its timeout ({step.timeout} s)"
            )
        time.sleep(desk.poll_seconds)
    final = progress.request
    if final.status != "succeeded":
        raise StepFailed(f"deployment {final.deployment_id} {final.status}: {final.reason}")
    log(f"deployment {final.deployment_id} succeeded: {spec.service} runs {final.image_digest}")
    return StepResult()


DEPLOY = StepKind(DeployStep, run_deploy)
