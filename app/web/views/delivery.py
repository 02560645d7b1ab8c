"""The delivery parts of the environment and image pages: services, waits, what can move.

Built from the environments file and the environment's stream (app/delivery), so the
page shows what `shiplog deploy` and `shiplog promote` would decide on: each
configured service, what it runs, the deployment that waits or runs (and for what),
and the digests that may be promoted into it from the environments it requires.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.delivery.desk import Desk
from app.delivery.environments import Environment, EnvironmentsError
from app.delivery.errors import UnknownEnvironment
from app.delivery.ledger import Pin, Request
from app.delivery.rollout import waits_of
from app.delivery.rules import Wait
from app.queries.delivery import run_deployments
from events.store import EventStore
from events.vocabulary import DriftDetected

RECENT = 10  # deployments listed per service


@dataclass(frozen=True)
class Promotion:
    """A digest a required environment runs for the service, offered for promotion."""

    source: str
    image_digest: str


@dataclass(frozen=True)
class ServicePanel:
    """One configured service of an environment, as the delivery section shows it."""

    name: str
    strategy: str
    running: str | None
    pending: Request | None
    waits: list[Wait] = field(default_factory=list)
    promotions: list[Promotion] = field(default_factory=list)
    recent: list[Request] = field(default_factory=list)
    pin: Pin | None = None
    earlier: list[str] = field(default_factory=list)  # digests a rollback may return to
    drift: DriftDetected | None = None


@dataclass(frozen=True)
class DeliveryPanel:
    """The delivery section of an environment page; `rules` describes its protection."""

    environment: str
    rules: list[str]
    services: list[ServicePanel]
    unknown: list[DriftDetected] = field(default_factory=list)  # swarm services nobody intended


def _rules(environment: Environment) -> list[str]:
    """The environment's protection, in words."""
    rules = []
    if environment.requires:
        soak = f", then run there {environment.soak} s" if environment.soak else ""
        rules.append(f"requires a success in {', '.join(environment.requires)}{soak}")
    if environment.approvals.count:
        groups = environment.approvals.groups
        source = f" from {', '.join(groups)}" if groups else ""
        rules.append(f"{environment.approvals.count} approval(s){source}, never by the requester")
    if environment.freeze:
        rules.append(f"frozen during {', '.join(environment.freeze)} ({environment.timezone})")
    if environment.allow:
        rules.append(f"deploys only during {', '.join(environment.allow)}")
    gates = environment.gates
    on = [g for g, enabled in (("provenance", gates.provenance), ("scan", gates.scan),
                               ("tests", gates.tests)) if enabled]  # fmt: skip
    rules.append("evidence gates: " + (", ".join(on) if on else "none"))
    return rules


def delivery_panel(desk: Desk, name: str) -> DeliveryPanel | None:
    """The delivery section for environment `name`; None if it is not configured."""
    try:
        environment = desk.config.environment(name)
    except UnknownEnvironment:
        return None
    state = desk.state(name)
    sources = {source: desk.state(source) for source in environment.requires}
    panels = []
    for service in sorted(environment.services):
        settings = environment.services[service]
        current = state.service(service)
        pending = current.open_request()
        waits = (
            waits_of(desk, environment, pending) if pending and pending.status == "waiting" else []
        )
        running = current.running.image_digest if current.running else None
        promotions = [
            Promotion(source, stint.image_digest)
            for source, source_state in sources.items()
            if (stint := source_state.service(service).running) is not None
            and stint.image_digest != running
        ]
        recent = current.recent_requests(RECENT)
        panels.append(
            ServicePanel(
                service,
                settings.strategy,
                running,
                pending,
                waits,
                promotions,
                recent,
                pin=current.pin,
                earlier=current.rollback_targets(),
                drift=state.drift.get(service),
            )
        )
    unknown = [d for d in state.drift.values() if d.differences == ("unknown",)]
    return DeliveryPanel(name, _rules(environment), panels, unknown)


def deploy_targets(desk: Desk) -> list[tuple[str, str]]:
    """Every (environment, service) the environments file configures, in delivery order."""
    return [(e.name, s) for e in desk.config.environments for s in sorted(e.services)]


@dataclass(frozen=True)
class RunDelivery:
    """A deployment a run's deploy step asked for, where it stands and what it waits for."""

    environment: str
    request: Request
    waits: list[Wait]


def run_deliveries(desk: Desk, store: EventStore, run_id: str) -> list[RunDelivery]:
    """The deployments the run asked for, each as its environment's stream has it now."""
    found = []
    for asked in run_deployments(store, run_id):
        request = desk.state(asked.environment).request(asked.deployment_id)
        if request is None:
            continue
        waits: list[Wait] = []
        if request.status == "waiting":
            try:
                environment = desk.config.environment(asked.environment)
            except UnknownEnvironment:
                environment = None  # no longer configured: shown without its waits
            if environment is not None:
                waits = waits_of(desk, environment, request)
        found.append(RunDelivery(asked.environment, request, waits))
    return found


def environments_problem(desk: Desk) -> str | None:
    """Why the environments file cannot be used, if it cannot; the pages then show the rest."""
    try:
        desk.config  # noqa: B018  # reading it is the check
    except EnvironmentsError as error:
        return f"the environments file is refused: {error}"
    return None
