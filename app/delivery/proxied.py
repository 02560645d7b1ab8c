"""Blue/green and canary rollouts: two colours of a service behind one HAProxy.

A proxied service `web` of namespace `prod` is four swarm objects: the overlay network
`prod-web-net`, the colour services `prod-web-blue` and `prod-web-green` (DNS round
robin, publishing nothing) and the proxy `prod-web-proxy`, which alone publishes the
service's port (host mode, on its node). The ledger says which colour is live
(TrafficSwitched); a new digest goes to the other colour.

- **blue/green**: the new colour is updated and must converge (healthy); the preview
  entry reaches it; then one proxy change sends all traffic to it. The old colour
  keeps running as a standby for `blue_green.keep`, so a rollback is one proxy change;
  the delivery worker retires it afterwards (StandbyRetired).
- **canary**: the new colour converges, then gets each step's share of the traffic
  (CanaryStepStarted); during each step's pause the analysis reads the proxy's counts
  for the new colour's servers and probes its preview entry, every `interval`
  (AnalysisMeasured with the figures). More failed measurements than
  `failure_limit` abort it: all traffic back to the old colour, the new one scaled to
  zero (CanaryAborted). After the last step: TrafficSwitched and CanaryPromoted.

A first deployment has nothing to compare with and goes live as blue/green does.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from app.delivery.desk import Desk, service_name, service_spec
from app.delivery.environments import Environment
from app.delivery.haproxy import (
    ADMIN_PORT,
    COLOURS,
    METRICS_PORT,
    PREVIEW_PORT,
    PUBLIC_PORT,
    ColourStats,
    ProxyHandle,
    proxy_config,
    read_stats,
    runtime_command,
    servers_up,
)
from app.delivery.ledger import ColourRun, Request
from app.delivery.orchestrator import (
    ENVIRONMENT_LABEL,
    ROLE_LABEL,
    SERVICE_LABEL,
    Convergence,
    Orchestrator,
    OrchestratorError,
    ServiceSpec,
)
from app.engine.haproxy_image import CONFIG_PATH
from app.pipeline.deploy import AnalysisSettings, PortSettings, ServiceSettings
from events.catalogue import Event
from events.vocabulary import (
    AnalysisMeasured,
    CanaryAborted,
    CanaryPromoted,
    CanaryStepStarted,
    Colour,
    ProbeResult,
    StandbyRetired,
    TrafficSwitched,
)

PROXIED = ("blue-green", "canary")
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy from the env
Record = Callable[[Event], None]


def other(colour: str | None) -> Colour:
    """The colour a new digest goes to: the one not live (blue at first)."""
    return "green" if colour == "blue" else "blue"


@dataclass(frozen=True)
class ProxiedNames:
    """The swarm objects of one proxied service."""

    proxy: str
    network: str
    colours: dict[str, str]


def proxied_names(environment: Environment, service: str) -> ProxiedNames:
    """`<namespace>-<service>-proxy`, `-net`, `-blue`, `-green`."""
    base = service_name(environment, service)
    return ProxiedNames(f"{base}-proxy", f"{base}-net", {c: f"{base}-{c}" for c in COLOURS})


def proxy_handle(environment: Environment, settings: ServiceSettings) -> ProxyHandle:
    """How shiplog reaches the service's proxy."""
    assert settings.proxy is not None  # ServiceSettings requires it for these strategies
    return ProxyHandle(
        address=environment.target.address,
        admin_port=settings.proxy.admin_port,
        metrics_port=settings.proxy.metrics_port,
        preview_port=settings.proxy.preview_port,
        public_port=settings.ports[0].published,
    )


def _proxy_spec(
    environment: Environment, service: str, settings: ServiceSettings, image: str, live: str | None
) -> ServiceSpec:
    """The proxy's service: HAProxy, its ports on the node, its configuration as a file."""
    assert settings.proxy is not None
    names = proxied_names(environment, service)
    published = [
        (settings.ports[0].published, PUBLIC_PORT),
        (settings.proxy.admin_port, ADMIN_PORT),
        (settings.proxy.metrics_port, METRICS_PORT),
    ]
    if settings.proxy.preview_port is not None:
        published.append((settings.proxy.preview_port, PREVIEW_PORT))
    ports = tuple(PortSettings(published=p, target=t, mode="host") for p, t in published)
    weights = {"app": {live: 100}, "preview": {live: 100}} if live else {}
    return ServiceSpec(
        name=names.proxy,
        image=image,  # built on the engine (app/engine/haproxy_image.py), a local tag
        settings=ServiceSettings(replicas=1, ports=ports, rolling=settings.rolling),
        labels={ENVIRONMENT_LABEL: environment.name, SERVICE_LABEL: service, ROLE_LABEL: "proxy"},
        networks=(names.network,),
        files={CONFIG_PATH: proxy_config(names.colours, settings.ports[0].target, weights)},
        update_order="stop-first",  # one task holds the node's ports
        # HAProxy as PID 1 ignores SIGTERM, so every stop would wait out Swarm's grace
        # period before a SIGKILL; SIGUSR1 is its soft stop: stop listening, let the
        # connections in flight finish, exit.
        stop_signal="SIGUSR1",
    )


def ensure_proxy(
    desk: Desk, environment: Environment, service: str, settings: ServiceSettings, live: str | None
) -> ProxyHandle:
    """The service's network and proxy, made if missing; the proxy answering its runtime API."""
    orchestrator = desk.orchestrator_for(environment)
    names = proxied_names(environment, service)
    labels = {ENVIRONMENT_LABEL: environment.name, SERVICE_LABEL: service}
    orchestrator.ensure_network(names.network, labels)
    if orchestrator.observe(names.proxy) is None:
        spec = _proxy_spec(environment, service, settings, orchestrator.proxy_image(), live)
        made = orchestrator.apply(spec, timeout=settings.rolling.timeout)
        if made.outcome != "converged":
            raise OrchestratorError(f"the proxy {names.proxy} did not start: {made.message}")
    handle = proxy_handle(environment, settings)
    deadline = time.monotonic() + 30
    while True:
        try:
            runtime_command(handle, "show info")
            return handle
        except OrchestratorError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _colour_spec(
    desk: Desk, environment: Environment, request: Request, settings: ServiceSettings, colour: str
) -> ServiceSpec:
    """The spec of one colour service: the request's image, found by the proxy through DNS."""
    spec = service_spec(
        desk,
        environment,
        request.service,
        image=request.image,
        settings=settings,
        deployment_id=request.deployment_id,
        repository=request.repository,
        role=colour,
    )
    names = proxied_names(environment, request.service)
    return ServiceSpec(
        name=spec.name,
        image=spec.image,
        settings=spec.settings,
        labels=spec.labels,
        secrets=spec.secrets,
        networks=(names.network,),
        publish=False,
    )


def _await_servers(
    handle: ProxyHandle, colour: str, replicas: int, timeout: float
) -> Convergence | None:
    """Wait until the proxy found the colour's tasks by DNS and checked them (None), or say not."""
    deadline = time.monotonic() + timeout
    wanted = max(1, replicas)
    while time.monotonic() < deadline:
        if all(servers_up(handle, backend, colour) >= wanted for backend in ("app", "preview")):
            return None
        time.sleep(0.5)
    return Convergence(
        "failed", f"the proxy did not see {wanted} {colour} task(s) up in {timeout:g} s"
    )


def _switch(
    orchestrator: Orchestrator, handle: ProxyHandle, to: str, backends: tuple[str, ...]
) -> None:
    """All traffic of `backends` to colour `to`, in one runtime API change each."""
    for backend in backends:
        orchestrator.shift_traffic(handle, backend, {to: 100, other(to): 0})


def switched(
    request: Request, to: Colour, live: ColourRun | None, deployment_id: str | None = None
) -> TrafficSwitched:
    """TrafficSwitched from the live colour (if any) to `to`, which runs the request's digest."""
    return TrafficSwitched(
        deployment_id=deployment_id or request.deployment_id,
        service=request.service,
        to_colour=to,
        image_digest=request.image_digest,
        from_colour=live.colour if live else None,
        from_digest=live.image_digest if live else None,
    )


def roll_out_proxied(
    desk: Desk,
    environment: Environment,
    request: Request,
    settings: ServiceSettings,
    record: Record,
) -> Convergence:
    """Blue/green or canary, as the request's settings say (see the module docstring)."""
    live = desk.state(environment.name).service(request.service).live
    orchestrator = desk.orchestrator_for(environment)
    handle = ensure_proxy(
        desk, environment, request.service, settings, live.colour if live else None
    )
    new = other(live.colour if live else None)
    ready = orchestrator.apply(
        _colour_spec(desk, environment, request, settings, new), timeout=settings.rolling.timeout
    )
    if ready.outcome != "converged":
        return Convergence("failed", f"the {new} version did not start: {ready.message}")
    unseen = _await_servers(handle, new, settings.replicas, settings.rolling.timeout)
    if unseen is not None:
        return unseen
    orchestrator.shift_traffic(handle, "preview", {new: 100, other(new): 0})
    if settings.strategy == "canary" and live is not None:
        aborted = _canary_steps(desk, environment, request, settings, handle, new, live, record)
        if aborted is not None:
            return aborted
    _switch(orchestrator, handle, new, ("app",))
    record(switched(request, new, live))
    if settings.strategy == "canary" and live is not None:
        steps = len(settings.canary.steps)
        record(
            CanaryPromoted(
                deployment_id=request.deployment_id,
                service=request.service,
                image_digest=request.image_digest,
                steps=steps,
            )
        )
    return Convergence("converged", f"all traffic goes to {new} ({request.image_digest})")


def _canary_steps(
    desk: Desk,
    environment: Environment,
    request: Request,
    settings: ServiceSettings,
    handle: ProxyHandle,
    new: str,
    live: ColourRun,
    record: Record,
) -> Convergence | None:
    """Raise the new colour's weight step by step, measuring; a Convergence if aborted."""
    orchestrator = desk.orchestrator_for(environment)
    canary = settings.canary
    analysis = canary.analysis
    failures = 0
    for step, weight in enumerate(canary.steps, start=1):
        orchestrator.shift_traffic(handle, "app", {new: weight, live.colour: 100 - weight})
        record(
            CanaryStepStarted(
                deployment_id=request.deployment_id,
                service=request.service,
                step=step,
                weight=weight,
                pause_ms=canary.pause * 1000,
            )
        )
        rounds = max(1, canary.pause // max(1, analysis.interval))
        for _ in range(rounds):
            measured = measure(handle, analysis, new, step, weight, failures, request)
            failures = measured.failures
            record(measured)
            if failures > analysis.failure_limit:
                _switch(orchestrator, handle, live.colour, ("app", "preview"))
                orchestrator.scale(proxied_names(environment, request.service).colours[new], 0)
                reason = (
                    f"{failures} failed measurement(s), more than failure_limit "
                    f"{analysis.failure_limit}: {'; '.join(measured.reasons)}"
                )
                record(
                    CanaryAborted(
                        deployment_id=request.deployment_id,
                        service=request.service,
                        image_digest=request.image_digest,
                        step=step,
                        reason=reason,
                    )
                )
                return Convergence("rolled_back", f"canary aborted at step {step}: {reason}")
    return None


def _stats(handle: ProxyHandle) -> dict[str, ColourStats]:
    """The proxy's counts per colour now."""
    try:
        with _opener.open(handle.url(handle.metrics_port, "/metrics"), timeout=10) as answer:
            return read_stats(answer.read().decode())
    except OSError as error:
        raise OrchestratorError(f"the proxy's metrics do not answer: {error}") from None


def _probe(handle: ProxyHandle, path: str) -> ProbeResult:
    """One request through the preview entry (the new colour only)."""
    port = handle.preview_port or handle.public_port
    try:
        with _opener.open(handle.url(port, path), timeout=10) as answer:
            return ProbeResult(path=path, status=answer.status)
    except urllib.error.HTTPError as error:
        return ProbeResult(path=path, status=error.code)
    except OSError:
        return ProbeResult(path=path, status=None)


def measure(
    handle: ProxyHandle,
    analysis: AnalysisSettings,
    colour: str,
    step: int,
    weight: int,
    failures: int,
    request: Request,
) -> AnalysisMeasured:
    """Count the colour's responses over one interval, probe it, and judge the figures."""
    before = _stats(handle)[colour]
    time.sleep(analysis.interval)
    after = _stats(handle)[colour]
    requests = max(0, after.responses - before.responses)
    errors = max(0, after.errors - before.errors)
    rate_bp = errors * 10_000 // requests if requests else 0
    latency = None if after.mean_time_ms is None else round(after.mean_time_ms)
    probes = tuple(_probe(handle, path) for path in analysis.probes)
    reasons = judge(analysis, requests, errors, latency, probes)
    return AnalysisMeasured(
        deployment_id=request.deployment_id,
        service=request.service,
        step=step,
        weight=weight,
        requests=requests,
        errors=errors,
        error_rate_bp=rate_bp,
        latency_ms=latency,
        probes=probes,
        passed=not reasons,
        reasons=reasons,
        failures=failures + (1 if reasons else 0),
    )


def judge(
    analysis: AnalysisSettings,
    requests: int,
    errors: int,
    latency_ms: int | None,
    probes: tuple[ProbeResult, ...],
) -> tuple[str, ...]:
    """The thresholds one measurement breaks, each with its figures (empty: it passed)."""
    reasons = []
    if requests < analysis.min_requests:
        reasons.append(f"{requests} requests, fewer than min_requests {analysis.min_requests}")
    if requests and errors / requests > analysis.max_error_rate:
        reasons.append(
            f"error rate {100 * errors / requests:.1f}% ({errors} of {requests}) above "
            f"{100 * analysis.max_error_rate:.1f}%"
        )
    limit = analysis.max_latency_ms
    if limit is not None and latency_ms is not None and latency_ms > limit:
        reasons.append(f"mean response time {latency_ms} ms above {limit} ms")
    for probe in probes:
        if probe.status is None or not 200 <= probe.status < 400:
            reasons.append(f"probe {probe.path} answered {probe.status or 'nothing'}")
    return tuple(reasons)


def switch_back(
    desk: Desk,
    environment: Environment,
    request: Request,
    settings: ServiceSettings,
    record: Record,
    deployment_id: str,
) -> Convergence:
    """Return traffic to `request`'s digest: one proxy change while its colour stands by,
    else after starting it again in the idle colour."""
    current = desk.state(environment.name).service(request.service)
    live, standby = current.live, current.standby
    orchestrator = desk.orchestrator_for(environment)
    handle = ensure_proxy(
        desk, environment, request.service, settings, live.colour if live else None
    )
    if standby is not None and standby.image_digest == request.image_digest:
        target = standby.colour
        orchestrator.scale(
            proxied_names(environment, request.service).colours[target], settings.replicas
        )
    else:
        target = other(live.colour if live else None)
        ready = orchestrator.apply(
            _colour_spec(desk, environment, request, settings, target),
            timeout=settings.rolling.timeout,
        )
        if ready.outcome != "converged":
            return Convergence(
                "failed", f"{request.image_digest} did not start again: {ready.message}"
            )
    unseen = _await_servers(handle, target, settings.replicas, settings.rolling.timeout)
    if unseen is not None:
        return unseen
    _switch(orchestrator, handle, target, ("app", "preview"))
    record(switched(request, target, live, deployment_id))
    return Convergence("converged", f"all traffic back on {target} ({request.image_digest})")


def retire_standbys(desk: Desk, actor: str) -> list[str]:
    """Scale to zero every standby colour kept longer than its `keep`; the services retired."""
    retired = []
    now = desk.now()
    for environment in desk.config.environments:
        state = desk.state(environment.name)
        for name, service in state.services.items():
            standby, live = service.standby, service.live
            origin = service.request_of(live.image_digest) if live else None
            if standby is None or origin is None:
                continue
            keep = ServiceSettings.model_validate_json(origin.settings).blue_green.keep
            if (now - standby.since).total_seconds() < keep:
                continue
            orchestrator = desk.orchestrator_for(environment)
            orchestrator.scale(proxied_names(environment, name).colours[standby.colour], 0)
            desk.record(
                environment.name,
                [
                    StandbyRetired(
                        service=name, colour=standby.colour, image_digest=standby.image_digest
                    )
                ],
                actor,
            )
            retired.append(f"{environment.name}/{name}")
    return retired
