"""Drift: does the swarm run what the ledger says an environment runs?

For every service of an environment that shiplog delivered, the ledger says which
digest should run, with how many replicas and which labels; the swarm says what runs.
`reconcile` compares the two (and lists the swarm services under the environment's
namespace, `<namespace>-…`, that the ledger does not know), then records what changed since
the last look: DriftDetected for a service that drifted (or drifted otherwise than
before), DriftResolved for one that runs as intended again (or, unknown, is gone).
For a blue/green or canary service it also asks the proxy's runtime API what each
colour gets in its `app` and `preview` backends: the ledger says all of it goes to the
live colour (TrafficSwitched), so weights set by hand (`set weight`, `set server …
weight`) or a proxy restarted with its first weights are drift (`weights`).
Services with a rollout under way are left alone until it ends. `shiplog drift ENV`
runs it on demand, `shiplog serve` and `shiplog worker` on a schedule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from app.delivery.desk import Desk, read_settings, service_name
from app.delivery.environments import Environment
from app.delivery.haproxy import BACKENDS, weights_of
from app.delivery.ledger import EnvironmentState
from app.delivery.orchestrator import (
    DIGEST_LABEL,
    ENVIRONMENT_LABEL,
    SERVICE_LABEL,
    ObservedService,
    OrchestratorError,
)
from app.delivery.proxied import PROXIED, other, proxied_names, proxy_handle
from events.catalogue import Event
from events.vocabulary import DriftDetected, DriftResolved, SwarmState

COMPARED_LABELS = (ENVIRONMENT_LABEL, SERVICE_LABEL, DIGEST_LABEL)
"""The labels drift compares (the deployment label changes with every rollout)."""


@dataclass(frozen=True)
class Drift:
    """One service that does not run as intended, or that nobody intended."""

    service: str
    differences: tuple[str, ...]
    observed: SwarmState | None
    intended: SwarmState | None


@dataclass
class DriftReport:
    """What one look found, and what it recorded."""

    environment: str
    drifts: list[Drift] = field(default_factory=list)
    detected: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)

    @property
    def unknown(self) -> list[str]:
        """Swarm services of the environment that the ledger does not know."""
        return [d.service for d in self.drifts if d.differences == ("unknown",)]


def intended_services(environment: Environment, state: EnvironmentState) -> dict[str, SwarmState]:
    """What the ledger says runs, per service shiplog delivered (and is not mid-rollout).

    For a blue/green or canary service, that is its live colour's service.
    """
    intended: dict[str, SwarmState] = {}
    for name, service in state.services.items():
        running = service.running
        busy = service.open_request()
        origin = service.request_of(running.image_digest) if running else None
        if running is None or origin is None or (busy is not None and busy.status == "started"):
            continue
        settings = read_settings(origin.settings)
        swarm_name = service_name(environment, name)
        weights: dict[str, dict[str, int]] | None = None
        if settings.strategy in PROXIED and service.live is not None:
            live: str = service.live.colour
            swarm_name = proxied_names(environment, name).colours[live]
            weights = {backend: {live: 100, other(live): 0} for backend in BACKENDS}
        intended[name] = SwarmState(
            swarm_service=swarm_name,
            image_digest=running.image_digest,
            replicas=settings.replicas,
            labels={
                ENVIRONMENT_LABEL: environment.name,
                SERVICE_LABEL: name,
                DIGEST_LABEL: running.image_digest,
            },
            weights=weights,
        )
    return intended


def served_weights(
    environment: Environment, state: EnvironmentState, intended: Mapping[str, SwarmState]
) -> dict[str, dict[str, dict[str, int]]]:
    """What the proxy of each intended blue/green or canary service gives each colour now,
    per backend (`{}` for a proxy that does not answer)."""
    served: dict[str, dict[str, dict[str, int]]] = {}
    for name, want in intended.items():
        live = state.service(name).live
        origin = state.service(name).request_of(live.image_digest) if live else None
        if want.weights is None or origin is None:
            continue
        handle = proxy_handle(environment, read_settings(origin.settings))
        try:
            served[name] = {backend: weights_of(handle, backend) for backend in BACKENDS}
        except OrchestratorError:
            served[name] = {}
    return served


def _observed(service: ObservedService) -> SwarmState:
    labels = {key: value for key, value in service.labels.items() if key in COMPARED_LABELS}
    return SwarmState(
        swarm_service=service.name,
        image_digest=service.digest,
        replicas=service.replicas,
        labels=labels,
    )


def compare(
    intended: Mapping[str, SwarmState],
    observed: Mapping[str, ObservedService],
    busy: frozenset[str] = frozenset(),
    known: frozenset[str] = frozenset(),
    served: Mapping[str, dict[str, dict[str, int]]] | None = None,
) -> list[Drift]:
    """Every intended service that runs otherwise, and every observed one nobody intended
    (`known` names are shiplog's without a digest to compare: proxies, standby colours);
    `served` is what each proxied service's proxy gives each colour, by service."""
    drifts = []
    claimed = {state.swarm_service for state in intended.values()} | known
    for name, want in sorted(intended.items()):
        seen = observed.get(want.swarm_service)
        if seen is None:
            drifts.append(Drift(name, ("missing",), None, want))
            continue
        have = _observed(seen)
        if want.weights is not None:
            have = have.model_copy(update={"weights": (served or {}).get(name, {})})
        differences = tuple(
            what
            for what, differs in (
                ("image", have.image_digest != want.image_digest),
                ("replicas", have.replicas != want.replicas),
                ("labels", have.labels != want.labels),
                ("weights", have.weights != want.weights),
            )
            if differs
        )
        if differences:
            drifts.append(Drift(name, differences, have, want))
    for swarm_name, seen in sorted(observed.items()):
        owner = seen.labels.get(SERVICE_LABEL)
        if swarm_name not in claimed and (owner is None or owner not in busy):
            drifts.append(Drift(swarm_name, ("unknown",), _observed(seen), None))
    return drifts


def reconcile(desk: Desk, environment_name: str, actor: str) -> DriftReport:
    """Compare the swarm with the ledger and record what changed since the last look."""
    environment = desk.config.environment(environment_name)
    state = desk.state(environment.name)
    orchestrator = desk.orchestrator_for(environment)
    observed = {
        s.name: s
        for s in orchestrator.services(f"{environment.namespace}-")
        # a namespace that merely starts like ours (`staging-eu-…`) is another environment's
        if s.labels.get(ENVIRONMENT_LABEL, environment.name) == environment.name
    }
    busy = frozenset(
        name
        for name, service in state.services.items()
        if (request := service.open_request()) is not None and request.status == "started"
    )
    intended = intended_services(environment, state)
    known = frozenset(
        swarm_name
        for name in state.services
        for swarm_name in (
            proxied_names(environment, name).proxy,
            *proxied_names(environment, name).colours.values(),
        )
    )
    served = served_weights(environment, state, intended)
    report = DriftReport(environment.name, compare(intended, observed, busy, known, served))
    events: list[Event] = []
    now_drifted = {drift.service: drift for drift in report.drifts}
    for drift in report.drifts:
        before = state.drift.get(drift.service)
        if before is None or (before.differences, before.observed) != (
            drift.differences,
            drift.observed,
        ):
            events.append(
                DriftDetected(
                    service=drift.service,
                    differences=drift.differences,
                    observed=drift.observed,
                    intended=drift.intended,
                )
            )
            report.detected.append(drift.service)
    for service, before in sorted(state.drift.items()):
        if service not in now_drifted and service not in busy:
            how = "gone" if before.differences == ("unknown",) else "matches"
            events.append(DriftResolved(service=service, how=how))
            report.resolved.append(service)
    if events:
        desk.record(environment.name, events, actor)
    return report
