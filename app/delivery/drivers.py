"""Who drives which deployment: a heartbeat while a rollout runs, and lost drivers reaped.

Whoever appends DeploymentStarted (the CLI's `shiplog deploy`/`promote`, the delivery
worker, a runner's deploy step) drives the rollout, and holds a lease on it in
`deployment_leases` (migrations/0075) until the outcome is recorded, refreshing it
every `heartbeat_interval`. Heartbeats are not events: only the start and the outcome
are. A started deployment whose lease is missing or older than `heartbeat_timeout` (and
that started longer ago than that: the driver appends the start, then takes its lease)
has lost its driver: a process SIGKILLed, a host gone.

The reaper (`reap_lost`, run by the delivery worker, `shiplog drift` and before
`shiplog deploy`/`promote`) fails it with DeploymentFailed, the reason naming the lost
driver, at the stream version it read: a driver that was only slow and recorded
meanwhile makes the reaper's append fail, and nothing is overwritten. It then leaves
the service on the last version that succeeded, which is what the ledger says runs:

- rolling: if the swarm's service is pinned to the lost deployment's digest, Swarm's
  own rollback returns it to its previous spec (RolledBack); a first deployment, with
  nothing to return to, is removed, as a failed first rollout is;
- blue/green and canary: the proxy sends all traffic (and the preview) to the colour
  running the last good digest (TrafficSwitched if the ledger had switched away from
  it), the new colour is scaled to zero, and RolledBack records it. A first deployment
  had nothing live before; it is only failed.

A rollout is never resumed: half of a canary's analysis, or a switch whose checks ran
in a dead process, proves nothing. The events' actor is the reaper's own identity.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from app.delivery.desk import Desk, read_settings, service_name
from app.delivery.environments import Environment
from app.delivery.ledger import Request
from app.delivery.orchestrator import OrchestratorError
from app.delivery.proxied import PROXIED, other, proxied_names, proxy_handle
from app.pipeline.deploy import ServiceSettings
from events.catalogue import Event
from events.errors import WrongExpectedVersion
from events.vocabulary import DeploymentFailed, RollbackFailed, RolledBack, TrafficSwitched

logger = logging.getLogger(__name__)

# The database's clock decides what is stale, so drivers on several hosts agree.
_FRESH = """
SELECT now(), coalesce(array_agg(deployment_id), '{}') FROM deployment_leases
WHERE heartbeat_at > now() - make_interval(secs => %s)
"""
_DRIVER = "SELECT driver FROM deployment_leases WHERE deployment_id = %s"


@contextmanager
def driving(desk: Desk, environment: str, deployment_id: str) -> Iterator[None]:
    """Hold the deployment's lease while the block runs, heartbeating; dropped after it."""
    with desk.store.connection() as conn:
        conn.execute(
            "INSERT INTO deployment_leases (deployment_id, environment, driver) "
            "VALUES (%s, %s, %s) ON CONFLICT (deployment_id) DO UPDATE "
            "SET driver = EXCLUDED.driver, heartbeat_at = now()",
            (deployment_id, environment, desk.driver),
        )
    stop = threading.Event()
    beating = threading.Thread(
        target=_beat, args=(desk, deployment_id, stop), name=f"lease-{deployment_id}", daemon=True
    )
    beating.start()
    try:
        yield
    finally:
        stop.set()
        beating.join()
        with desk.store.connection() as conn:
            conn.execute("DELETE FROM deployment_leases WHERE deployment_id = %s", (deployment_id,))


def _beat(desk: Desk, deployment_id: str, stop: threading.Event) -> None:
    """Refresh the lease every interval until `stop` (a database hiccup is tried again)."""
    while not stop.wait(desk.heartbeat_interval):
        try:
            with desk.store.connection() as conn:
                conn.execute(
                    "UPDATE deployment_leases SET heartbeat_at = now() "
                    "WHERE deployment_id = %s AND driver = %s",
                    (deployment_id, desk.driver),
                )
        except Exception:
            logger.warning("could not refresh the lease of deployment %s", deployment_id)


def lost_deployments(desk: Desk) -> list[tuple[Environment, Request]]:
    """Started deployments whose driver has not been heard of within the heartbeat timeout.

    Leases are read before the ledger, so a deployment that ends and drops its lease
    in between is seen ended, not taken for lost.
    """
    timeout = desk.heartbeat_timeout
    with desk.store.connection() as conn:
        now, fresh = conn.execute(_FRESH, (timeout,)).fetchall()[0]
    alive = set(fresh)
    cutoff = now - timedelta(seconds=timeout)
    lost = []
    for environment in desk.config.environments:
        for service in desk.state(environment.name).services.values():
            request = service.open_request()
            if (
                request is not None
                and request.status == "started"
                and request.deployment_id not in alive
                and (request.started_at or request.requested_at) < cutoff
            ):
                lost.append((environment, request))
    return lost


def reap_lost(desk: Desk, actor: str) -> list[str]:
    """Fail every deployment whose driver is lost and return its service to the last good
    version (see the module docstring); the deployments failed."""
    reaped = []
    for environment, request in lost_deployments(desk):
        with desk.store.connection() as conn:
            row = conn.execute(_DRIVER, (request.deployment_id,)).fetchone()
        reason = (
            f"driver lost: {row[0]} sent no heartbeat for {desk.heartbeat_timeout:g} s"
            if row
            else "driver lost: no driver held its lease (it stopped before its first heartbeat)"
        )
        state = desk.state(environment.name)
        current = state.request(request.deployment_id)
        if current is None or current.status != "started":
            continue
        failed = DeploymentFailed(
            deployment_id=request.deployment_id,
            service=request.service,
            reason=reason,
            finished_at=desk.now(),
        )
        try:
            desk.record(
                environment.name,
                [failed],
                actor,
                expected=state.expected,
                correlation=request.deployment_id,
            )
        except WrongExpectedVersion:
            continue  # its driver (or another reaper) recorded meanwhile: decided next time
        try:
            after = _restore(desk, environment, request, reason)
        except OrchestratorError as error:
            after = [_restore_failed(request, str(error))]
        if after:
            desk.record(environment.name, after, actor, correlation=request.deployment_id)
        with desk.store.connection() as conn:
            conn.execute(
                "DELETE FROM deployment_leases WHERE deployment_id = %s", (request.deployment_id,)
            )
        reaped.append(request.deployment_id)
    return reaped


def _restore(desk: Desk, environment: Environment, request: Request, reason: str) -> list[Event]:
    """Leave the service on its last good version; the events that say so."""
    settings = read_settings(request.settings)
    if settings.strategy in PROXIED:
        return _restore_proxied(desk, environment, request, settings, reason)
    orchestrator = desk.orchestrator_for(environment)
    name = service_name(environment, request.service)
    seen = orchestrator.observe(name)
    if seen is None or seen.digest != request.image_digest:
        return []  # never applied, or Swarm already returned it on its own
    if request.previous_digest is None:
        orchestrator.remove(name)  # a first deployment: nothing earlier to return to
        return []
    result = orchestrator.rollback(name, timeout=settings.rolling.timeout)
    if result.outcome == "failed":
        return [_restore_failed(request, result.message)]
    return [_rolled_back(desk, request, request.previous_digest, reason)]


def _restore_proxied(
    desk: Desk,
    environment: Environment,
    request: Request,
    settings: ServiceSettings,
    reason: str,
) -> list[Event]:
    """All traffic to the colour of the last good digest; the lost deployment's colour to zero."""
    service = desk.state(environment.name).service(request.service)
    live, standby = service.live, service.standby
    good = live if live is not None and live.image_digest != request.image_digest else standby
    if good is None:
        return []  # a first deployment: no version served before it
    orchestrator = desk.orchestrator_for(environment)
    handle = proxy_handle(environment, settings)
    new = other(good.colour)
    for backend in ("app", "preview"):
        orchestrator.shift_traffic(handle, backend, {good.colour: 100, new: 0})
    names = proxied_names(environment, request.service)
    if orchestrator.observe(names.colours[new]) is not None:
        orchestrator.scale(names.colours[new], 0)
    events: list[Event] = []
    if live is not None and live.colour != good.colour:
        events.append(
            TrafficSwitched(
                deployment_id=request.deployment_id,
                service=request.service,
                to_colour=good.colour,
                image_digest=good.image_digest,
                from_colour=live.colour,
                from_digest=live.image_digest,
            )
        )
    events.append(_rolled_back(desk, request, good.image_digest, reason))
    return events


def _rolled_back(desk: Desk, request: Request, to_digest: str, reason: str) -> RolledBack:
    return RolledBack(
        deployment_id=request.deployment_id,
        service=request.service,
        image_digest=to_digest,
        from_digest=request.image_digest,
        reason=f"automatic: {reason}",
        finished_at=desk.now(),
    )


def _restore_failed(request: Request, message: str) -> RollbackFailed:
    return RollbackFailed(
        service=request.service,
        image_digest=request.previous_digest or "",
        from_digest=request.image_digest,
        reason=message,
    )
