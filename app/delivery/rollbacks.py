"""Rolling a service back to an earlier digest, and the pin that keeps it there.

`roll_back` returns a service to the digest it ran before (or to any earlier digest it
ran successfully, `to_digest`) with that digest's own recorded settings: as a rolling
update, or, for a blue/green or canary service, by one proxy change while the earlier
digest's colour still stands by (else after starting it again in the idle colour). It
first appends EnvironmentPinned at the stream version it decided on — the claim that
makes two rollbacks of one service impossible at once — and then RolledBack
(from and to which digest, why) once the swarm runs it, or RollbackFailed. While the
pin holds, any deployment of another digest to the service is refused (`pinned`), so
automation cannot silently bring the newer digest back; `unpin` releases it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.delivery.decisions import InvalidDecision
from app.delivery.desk import Desk, read_settings, service_spec
from app.delivery.errors import DeliveryError, DeploymentInProgress
from app.delivery.ledger import Pin
from app.delivery.orchestrator import Convergence, OrchestratorError
from app.delivery.proxied import PROXIED, switch_back
from events.catalogue import Event
from events.errors import WrongExpectedVersion
from events.vocabulary import EnvironmentPinned, EnvironmentUnpinned, RollbackFailed, RolledBack

ATTEMPTS = 5


class CannotRollBack(DeliveryError):
    """There is nothing to roll back to, or not to that digest."""


@dataclass(frozen=True)
class Rollback:
    """How a rollback ended: from and to which digest, and what the swarm said."""

    service: str
    from_digest: str
    to_digest: str
    result: Convergence


def roll_back(
    desk: Desk,
    environment: str,
    service: str,
    actor: str,
    *,
    reason: str,
    to_digest: str | None = None,
) -> Rollback:
    """Return `service` to an earlier digest and pin it there, as `actor` (module docstring)."""
    config = desk.config.environment(environment)
    if not reason.strip():
        raise InvalidDecision("a rollback needs a reason", "reason")
    for _ in range(ATTEMPTS):
        state = desk.state(config.name)
        current = state.service(service)
        running = current.running
        if running is None:
            raise CannotRollBack(f"{service} runs nothing in {environment} to roll back")
        busy = current.open_request()
        if busy is not None and busy.status == "started":
            raise DeploymentInProgress(
                f"deployment {busy.deployment_id} of {service} is rolling out; roll back after it"
            )
        earlier = current.earlier_digests()
        target = to_digest or (earlier[0] if earlier else None)
        if target is None or target not in earlier:
            listed = ", ".join(earlier) or "none"
            raise CannotRollBack(
                f"{target or 'no digest'} did not run successfully before in {service} of "
                f"{environment} (earlier digests: {listed})"
            )
        origin = current.request_of(target)
        if origin is None:
            raise CannotRollBack(
                f"shiplog did not deliver {target} to {service} here, so it has no settings "
                "to return to"
            )
        pinned = EnvironmentPinned(service=service, image_digest=target, reason=reason.strip())
        try:
            desk.record(config.name, [pinned], actor, expected=state.expected)
        except WrongExpectedVersion:
            continue
        settings = read_settings(origin.settings)

        def record(event: Event) -> None:
            desk.record(config.name, [event], actor)

        try:
            if settings.strategy in PROXIED:
                result = switch_back(desk, config, origin, settings, record, running.deployment_id)
            else:
                spec = service_spec(
                    desk,
                    config,
                    service,
                    image=origin.image,
                    settings=settings,
                    deployment_id=f"rollback-{uuid.uuid4()}",
                    repository=origin.repository,
                )
                result = desk.orchestrator_for(config).apply(spec, timeout=settings.rolling.timeout)
        except OrchestratorError as error:
            result = Convergence("failed", str(error))
        if result.outcome == "converged":
            event: RolledBack | RollbackFailed = RolledBack(
                deployment_id=running.deployment_id,
                service=service,
                image_digest=target,
                from_digest=running.image_digest,
                reason=reason.strip(),
                finished_at=desk.now(),
            )
        else:
            event = RollbackFailed(
                service=service,
                image_digest=target,
                from_digest=running.image_digest,
                reason=result.message,
            )
        desk.record(config.name, [event], actor)
        return Rollback(service, running.image_digest, target, result)
    raise DeploymentInProgress(f"{environment} kept changing while the rollback was decided")


def unpin(desk: Desk, environment: str, service: str, actor: str, *, reason: str) -> Pin:
    """Release the pin on `service`; the pin that was released."""
    config = desk.config.environment(environment)
    if not reason.strip():
        raise InvalidDecision("unpinning needs a reason", "reason")
    pin = desk.state(config.name).service(service).pin
    if pin is None:
        raise InvalidDecision(f"{service} is not pinned in {environment}")
    released = EnvironmentUnpinned(service=service, reason=reason.strip())
    desk.record(config.name, [released], actor)
    return pin
