"""Delivery commands: deploy a digest, promote one from an environment, as an actor.

The rules, gates and rollouts are the delivery domain's (app/delivery); this module
puts together the `Desk` they work with for the API, the pages and the CLI — the
environments file, the ledger's evidence (app/queries/evidence.py) checked with this
shiplog's attestation key, a swarm per environment, the secret store — and offers
the commands each adapter calls with the actor it authenticated. A runner builds the
same desk through `open_desk` too (the CLI hands it over), so a pipeline's deploy step
decides exactly as `shiplog deploy` does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from app.config import Settings
from app.delivery.decisions import approve, grant_waiver
from app.delivery.desk import Desk
from app.delivery.drift import DriftReport, reconcile
from app.delivery.drivers import reap_lost
from app.delivery.environments import Environment, load_environments
from app.delivery.errors import DeliveryError, UnknownDeployment
from app.delivery.ledger import Pin, Request, Waiver
from app.delivery.orchestrator import Orchestrator
from app.delivery.proxied import retire_standbys
from app.delivery.requests import DeployAsk, promotion_ask, request_deployment
from app.delivery.rollbacks import Rollback, roll_back, unpin
from app.delivery.rollout import Progress, deliver, follow
from app.delivery.swarm import SwarmPool
from app.engine import connect
from app.executor.runner import default_runner_name
from app.executor.secrets import SecretStore
from app.keys import load_or_create_attestation_key
from app.queries.evidence import LedgerEvidence
from events.store import EventStore

Report = Callable[[Progress], None]
DeskFactory = Callable[[], Desk]
logger = logging.getLogger(__name__)


def _quiet(progress: Progress) -> None:
    """Report nothing."""


def open_desk(settings: Settings, store: EventStore, swarms: SwarmPool, app_url: str) -> Desk:
    """The desk every delivery command works with, from the settings and the environments file."""
    trusted = [load_or_create_attestation_key(settings).public_key()]
    secrets = SecretStore(app_url, settings.keyring_path)

    def secret_values(
        names: Sequence[str], repository: str | None, environment: str
    ) -> Mapping[str, str]:
        # Secrets are scoped by repository (and branch, environment): a service gets those
        # of the repository its image was built from, for this environment.
        if not names:
            return {}
        if repository is None:
            raise DeliveryError(
                f"the service needs secrets ({', '.join(names)}), which are scoped by "
                "repository, and no run recorded which repository this image was built from"
            )
        return secrets.values(names, repository, None, environment)

    def orchestrator_for(environment: Environment) -> Orchestrator:
        return swarms.for_host(environment.target.docker_host)

    return Desk(
        load_config=lambda: load_environments(settings.environments_path),
        store=store,
        evidence=LedgerEvidence(store, trusted),
        orchestrator_for=orchestrator_for,
        secret_values=secret_values,
        poll_seconds=settings.delivery_poll_interval,
        driver=default_runner_name(settings),
        heartbeat_interval=settings.heartbeat_interval,
        heartbeat_timeout=settings.heartbeat_timeout,
    )


def reaper_identity(desk: Desk) -> str:
    """The actor of what a reaper records: this process (`reaper:<runner name or host:pid>`),
    never anything a client sent."""
    return f"reaper:{desk.driver}"


def reap_lost_drivers(desk: Desk) -> list[str]:
    """Fail the deployments whose driver is lost, as this process (app/delivery/drivers.py)."""
    return reap_lost(desk, reaper_identity(desk))


@contextmanager
def desk_factory(settings: Settings, store: EventStore, app_url: str) -> Iterator[DeskFactory]:
    """Makes desks (the environments file read anew each time) for runners' deploy steps."""
    swarms = swarm_pool()
    try:
        yield lambda: open_desk(settings, store, swarms, app_url)
    finally:
        swarms.close()


def swarm_pool() -> SwarmPool:
    """A pool of swarm clients that connects through the Docker engine boundary."""
    return SwarmPool(lambda host: connect(host))


def deploy(
    desk: Desk,
    environment: str,
    service: str,
    image_digest: str,
    actor: str,
    *,
    wait: bool = True,
    on_progress: Report = _quiet,
) -> Progress:
    """Deliver `image_digest` to `service` of `environment` as `actor` (see app/delivery)."""
    ask = DeployAsk(environment=environment, service=service, image_digest=image_digest)
    reap_lost_drivers(desk)  # a deployment whose driver died would keep the service busy
    return deliver(desk, ask, actor, wait=wait, on_progress=on_progress)


def promote(
    desk: Desk,
    service: str,
    source: str,
    target: str,
    actor: str,
    *,
    wait: bool = True,
    on_progress: Report = _quiet,
) -> Progress:
    """Deliver to `target` the digest `service` runs in `source`, as `actor`."""
    reap_lost_drivers(desk)
    ask = promotion_ask(desk, service, source, target)
    return deliver(desk, ask, actor, wait=wait, on_progress=on_progress)


def waive(
    desk: Desk,
    environment: str,
    image_digest: str,
    gate: str,
    reason: str,
    lasts: timedelta,
    actor: str,
) -> Waiver:
    """Record that `actor` (an approver) lets the digest pass `gate` for `lasts`."""
    return grant_waiver(desk, environment, image_digest, gate, reason, lasts, actor)


def request_only(desk: Desk, ask: DeployAsk, actor: str) -> Progress:
    """Record the request and nothing more; `drive` takes it further (in the background)."""
    return Progress(request_deployment(desk, ask, actor))


def drive(desk: Desk, environment: str, deployment_id: str) -> Progress:
    """Take a requested deployment as far as it can go now without waiting."""
    return follow(desk, environment, deployment_id, wait=False)


def approve_and_drive(
    desk: Desk, environment: str, deployment_id: str, actor: str, *, comment: str | None = None
) -> Progress:
    """Approve what the deployment carries (its digest and evidence hash), then drive it.

    For a person at a terminal: the CLI prints the digest and evidence it approved.
    """
    request = waiting_request(desk, environment, deployment_id)
    approve(
        desk,
        environment,
        deployment_id,
        actor,
        image_digest=request.image_digest,
        evidence_sha256=request.evidence_sha256,
        comment=comment,
    )
    return drive(desk, environment, deployment_id)


def waiting_request(desk: Desk, environment: str, deployment_id: str) -> Request:
    """The deployment, as the environment's stream has it now."""
    desk.config.environment(environment)
    request = desk.state(environment).request(deployment_id)
    if request is None:
        raise UnknownDeployment(f"no deployment {deployment_id} in {environment}")
    return request


def advance_waiting(desk: Desk) -> list[Progress]:
    """Take every waiting deployment of every environment as far as it goes now.

    What `shiplog serve` does on a schedule: approvals that came in, soak times that
    ran out and windows that opened start deployments; waits past `expires_at` expire.
    """
    moved = []
    for environment in desk.config.environments:
        state = desk.state(environment.name)
        for service in state.services.values():
            request = service.open_request()
            if request is not None and request.status == "waiting":
                moved.append(drive(desk, environment.name, request.deployment_id))
    return moved


@dataclass(frozen=True)
class DeliveryRound:
    """What one pass of the delivery worker did."""

    reaped: tuple[str, ...]  # deployments failed because their driver was lost
    advanced: tuple[Progress, ...]  # waiting deployments taken further
    retired: tuple[str, ...]  # standbys scaled to zero, as `environment/service`


def delivery_round(desk: Desk, actor: str) -> DeliveryRound:
    """One pass: fail deployments whose driver is lost, advance the waiting ones, retire the
    standbys kept past their time (what the delivery worker does every poll)."""
    reaped = reap_lost_drivers(desk)
    advanced = advance_waiting(desk)
    retired = retire_standbys(desk, actor)
    return DeliveryRound(tuple(reaped), tuple(advanced), tuple(retired))


def drift_round(desk: Desk, actor: str) -> list[DriftReport]:
    """One drift check of every environment, as `actor` (what the drift worker does)."""
    return [reconcile(desk, environment.name, actor) for environment in desk.config.environments]


def delivery_worker(
    make_desk: Callable[[], Desk], stop: threading.Event, interval: float, actor: str
) -> None:
    """Until `stop`: a `delivery_round` every `interval` seconds, as `actor` (errors logged)."""
    while not stop.wait(interval):
        try:
            delivery_round(make_desk(), actor)
        except Exception:  # a broken environments file or an unreachable swarm: try again
            logger.exception("the delivery worker could not advance waiting deployments")


def rollback(
    desk: Desk,
    environment: str,
    service: str,
    actor: str,
    *,
    reason: str,
    to_digest: str | None = None,
) -> Rollback:
    """Return the service to an earlier digest and pin it there (app/delivery/rollbacks.py)."""
    return roll_back(desk, environment, service, actor, reason=reason, to_digest=to_digest)


def release_pin(desk: Desk, environment: str, service: str, actor: str, *, reason: str) -> Pin:
    """Let the service receive other digests again."""
    return unpin(desk, environment, service, actor, reason=reason)


def check_drift(desk: Desk, environment: str, actor: str) -> DriftReport:
    """Compare the environment's swarm with the ledger and record what changed (deployments
    whose driver is lost are failed first, so their services are compared too)."""
    reap_lost_drivers(desk)
    return reconcile(desk, environment, actor)


def drift_worker(
    make_desk: Callable[[], Desk], stop: threading.Event, interval: float, actor: str
) -> None:
    """Until `stop`: every `interval` seconds, check every environment for drift (as `actor`)."""
    while not stop.wait(interval):
        try:
            drift_round(make_desk(), actor)
        except Exception:  # a broken environments file or an unreachable swarm: try again
            logger.exception("the drift reconciler could not compare the swarms")
