"""Driving a requested deployment: what it waits for, then the rollout and its outcome.

`advance` takes one decision for one deployment: it expires (DeploymentTimedOut) once
`expires_at` passes while it still waits; it is refused (PromotionRefused) if its
service was pinned to another digest or its evidence now fails a gate; it keeps
waiting while approvals, soak or a window hold it; and otherwise it claims it by
appending DeploymentStarted at the stream version it decided on: of several drivers
(the CLI that asked, the server's worker, a runner) exactly one wins, and only that
one rolls it out, holding a heartbeat lease on it meanwhile (app/delivery/drivers.py:
a driver that dies is found and its deployment failed). The outcome is
DeploymentSucceeded, or DeploymentFailed and, when Swarm returned the service to the
image it ran before, RolledBack from the new digest to that one.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.delivery.desk import Desk, read_settings, service_spec
from app.delivery.drivers import driving
from app.delivery.environments import Environment
from app.delivery.errors import UnknownDeployment
from app.delivery.gates import check_gates
from app.delivery.ledger import EnvironmentState, Request
from app.delivery.orchestrator import Convergence, OrchestratorError
from app.delivery.proxied import PROXIED, roll_out_proxied
from app.delivery.requests import (
    DeployAsk,
    pinned_refusal,
    record_refusals,
    request_deployment,
)
from app.delivery.rules import Wait, approval_wait, soak_wait, window_wait
from events.catalogue import Event
from events.errors import WrongExpectedVersion
from events.vocabulary import (
    DeploymentFailed,
    DeploymentStarted,
    DeploymentSucceeded,
    DeploymentTimedOut,
    RolledBack,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """Where a deployment stands after one decision, and what it waits for, if anything."""

    request: Request
    waits: tuple[Wait, ...] = ()

    @property
    def done(self) -> bool:
        """True once it ended (succeeded, failed, refused, rejected, expired, rolled back)."""
        return not self.request.open


def waits_of(desk: Desk, environment: Environment, request: Request) -> list[Wait]:
    """Everything the deployment still waits for, now."""
    now = desk.now()
    waits: list[Wait] = []
    approvals = approval_wait(desk.config, environment, request)
    if approvals is not None:
        waits.append(approvals)
    required = {name: desk.state(name) for name in environment.requires}
    soak = soak_wait(environment, required, request.service, request.image_digest, now)
    if soak is not None:
        waits.append(soak)
    window = window_wait(environment, now)
    if window is not None:
        waits.append(window)
    return waits


def _request(state: EnvironmentState, deployment_id: str) -> Request:
    request = state.request(deployment_id)
    if request is None:
        raise UnknownDeployment(f"no deployment {deployment_id} in {state.name}")
    return request


def advance(desk: Desk, environment_name: str, deployment_id: str) -> Progress:
    """Take the next decision for the deployment (see the module docstring)."""
    environment = desk.config.environment(environment_name)
    state = desk.state(environment.name)
    request = _request(state, deployment_id)
    if request.status != "waiting":
        return Progress(request)
    if desk.now() >= request.expires_at:
        return Progress(_expire(desk, environment, request, state))
    # A pin, or evidence that changed while it waited (a new scan, say), refuses it now.
    evidence = desk.evidence.evidence_of(request.image_digest)
    waived = state.waived(request.image_digest, desk.now(), request.requested_by)
    refusals = check_gates(environment.gates, evidence, waived)
    pin = state.service(request.service).pin
    if pin is not None and pin.image_digest != request.image_digest:
        refusals.insert(0, pinned_refusal(request.service, pin))
    if refusals:
        ask = DeployAsk(
            environment.name,
            request.service,
            request.image_digest,
            from_environment=request.from_environment,
        )
        record_refusals(
            desk,
            environment.name,
            ask,
            evidence,
            refusals,
            request.requested_by,
            request.deployment_id,
        )
        return Progress(_request(desk.state(environment.name), deployment_id))
    waits = waits_of(desk, environment, request)
    if waits:
        return Progress(request, tuple(waits))
    started = DeploymentStarted(
        deployment_id=request.deployment_id,
        service=request.service,
        image_digest=request.image_digest,
        strategy=request.strategy,
        run_id=request.run_id,
        started_at=desk.now(),
        repository=request.repository,
        commit=request.commit,
        previous_digest=request.previous_digest,
        evidence_sha256=request.evidence_sha256,
    )
    try:
        desk.record(
            environment.name,
            [started],
            request.requested_by,
            expected=state.expected,
            correlation=deployment_id,
        )
    except WrongExpectedVersion:
        # The stream moved: another driver may have claimed it, or an approval came in.
        return Progress(_request(desk.state(environment.name), deployment_id))
    with driving(desk, environment.name, deployment_id):
        roll_out(desk, environment, request)
    return Progress(_request(desk.state(environment.name), deployment_id))


def withdraw(desk: Desk, environment_name: str, deployment_id: str) -> Request:
    """End a deployment that still waits because whoever waited for it gave up (a pipeline's
    deploy step ran out of time or was cancelled): DeploymentTimedOut, naming its waits."""
    environment = desk.config.environment(environment_name)
    state = desk.state(environment.name)
    request = _request(state, deployment_id)
    if request.status != "waiting":
        return request
    return _expire(desk, environment, request, state)


def _expire(
    desk: Desk, environment: Environment, request: Request, state: EnvironmentState
) -> Request:
    """Record that the deployment waited too long to start."""
    waited = desk.now() - request.requested_at
    waits = waits_of(desk, environment, request)
    with contextlib.suppress(WrongExpectedVersion):  # decided again at the next advance
        desk.record(
            environment.name,
            [
                DeploymentTimedOut(
                    deployment_id=request.deployment_id,
                    service=request.service,
                    image_digest=request.image_digest,
                    waited_ms=int(waited.total_seconds() * 1000),
                    waiting_for=tuple(w.rule for w in waits),
                )
            ],
            request.requested_by,
            expected=state.expected,
            correlation=request.deployment_id,
        )
    return _request(desk.state(environment.name), request.deployment_id)


def roll_out(desk: Desk, environment: Environment, request: Request) -> Convergence:
    """Run the deployment's strategy against the swarm and record how it ended."""
    settings = read_settings(request.settings)
    orchestrator = desk.orchestrator_for(environment)
    spec = service_spec(
        desk,
        environment,
        request.service,
        image=request.image,
        settings=settings,
        deployment_id=request.deployment_id,
        repository=request.repository,
    )

    def record(event: Event) -> None:
        desk.record(
            environment.name,
            [event],
            request.requested_by,
            correlation=request.deployment_id,
        )

    try:
        if settings.strategy in PROXIED:
            result = roll_out_proxied(desk, environment, request, settings, record)
        else:
            result = orchestrator.apply(spec, timeout=settings.rolling.timeout)
    except OrchestratorError as error:
        result = Convergence("failed", str(error))
    except Exception as error:
        logger.exception("rollout of %s failed unexpectedly", request.deployment_id)
        result = Convergence("failed", f"internal error ({type(error).__name__}); see the log")
    if (
        result.outcome == "failed"
        and request.previous_digest is None
        and settings.strategy not in PROXIED
    ):
        # A first deployment that never ran leaves nothing worth keeping on the swarm.
        orchestrator.remove(spec.name)
    record_outcome(desk, environment, request, result)
    return result


def record_outcome(
    desk: Desk, environment: Environment, request: Request, result: Convergence
) -> None:
    """DeploymentSucceeded, or DeploymentFailed (and RolledBack when Swarm returned it)."""
    finished = desk.now()
    if result.outcome == "converged":
        events: list[Event] = [
            DeploymentSucceeded(
                deployment_id=request.deployment_id,
                service=request.service,
                image_digest=request.image_digest,
                finished_at=finished,
            )
        ]
    else:
        events = [
            DeploymentFailed(
                deployment_id=request.deployment_id,
                service=request.service,
                reason=result.message,
                finished_at=finished,
            )
        ]
        if result.outcome == "rolled_back" and request.previous_digest is not None:
            events.append(
                RolledBack(
                    deployment_id=request.deployment_id,
                    service=request.service,
                    image_digest=request.previous_digest,
                    from_digest=request.image_digest,
                    reason=f"automatic: {result.message}",
                    finished_at=finished,
                )
            )
    desk.record(
        environment.name,
        events,
        request.requested_by,
        correlation=request.deployment_id,
    )


def follow(
    desk: Desk,
    environment: str,
    deployment_id: str,
    *,
    wait: bool,
    on_progress: Callable[[Progress], None] = lambda progress: None,
) -> Progress:
    """Advance until the deployment ends, or (without `wait`) until it waits for something."""
    last_waits: tuple[Wait, ...] | None = None
    while True:
        progress = advance(desk, environment, deployment_id)
        if progress.done:
            return progress
        if progress.waits != last_waits:
            on_progress(progress)
            last_waits = progress.waits
        if not wait and progress.waits:
            return progress
        time.sleep(desk.poll_seconds)


def deliver(
    desk: Desk,
    ask: DeployAsk,
    actor: str,
    *,
    wait: bool = True,
    on_progress: Callable[[Progress], None] = lambda progress: None,
) -> Progress:
    """Request the deployment and drive it: to its end, or (without `wait`) until it waits."""
    request = request_deployment(desk, ask, actor)
    on_progress(Progress(request))
    return follow(desk, ask.environment, request.deployment_id, wait=wait, on_progress=on_progress)
