"""Docker Swarm as the orchestrator: services pinned by digest, updated and rolled back by Swarm.

Every service is created with its update and rollback settings set explicitly
(parallelism, delay, order start-first, monitor, failure action rollback, max failure
ratio): Swarm itself rolls an update back when its new tasks fail, and shiplog only
watches `UpdateStatus` until it ends. An update that has not ended within the
rollout's timeout is rolled back by shiplog (`rollback=previous`, as `docker service
rollback` does). Secrets named by the settings become Swarm secrets made for the
service, named `<service>-<NAME>-<suffix>`; their values go only to the engine.
"""

from __future__ import annotations

import contextlib
import secrets as random
import time
from collections.abc import Callable, Mapping
from typing import Any

import docker.errors
from docker.types import (
    ConfigReference,
    EndpointSpec,
    Healthcheck,
    RestartPolicy,
    RollbackConfig,
    SecretReference,
    ServiceMode,
    TaskTemplate,
    UpdateConfig,
)
from docker.types import (
    ContainerSpec as SwarmContainerSpec,
)

from app.delivery.haproxy import ProxyHandle, set_weights
from app.delivery.orchestrator import (
    LABEL_PREFIX,
    Convergence,
    ObservedService,
    OrchestratorError,
    ServiceSpec,
)
from app.engine.haproxy_image import ProxyImageError, ensure_haproxy_image
from app.pipeline.deploy import HealthSettings, RollingSettings, ServiceSettings

SECRET_OF_LABEL = f"{LABEL_PREFIX}.secret-of"
NANOSECONDS = 1_000_000_000
POLL_SECONDS = 0.5
DONE = ("completed", "rollback_completed", "paused", "rollback_paused")


def _ns(seconds: float) -> int:
    return int(seconds * NANOSECONDS)


def _update_config(rolling: RollingSettings, *, rollback: bool, order: str) -> dict[str, Any]:
    """Swarm's UpdateConfig (or RollbackConfig) from the rolling settings, every field set."""
    cls = RollbackConfig if rollback else UpdateConfig
    config: dict[str, Any] = cls(
        parallelism=rolling.parallelism,
        delay=_ns(rolling.delay),
        # A failed update rolls back; a failed rollback stops where it is for a person.
        failure_action="pause" if rollback else "rollback",
        monitor=_ns(rolling.monitor),
        max_failure_ratio=rolling.max_failure_ratio,
        order=order,
    )
    return config


def _healthcheck(health: HealthSettings) -> Healthcheck:
    """Swarm's health check; a string command runs in the image's shell."""
    test = (
        ["CMD-SHELL", health.command]
        if isinstance(health.command, str)
        else ["CMD", *health.command]
    )
    return Healthcheck(
        test=test,
        interval=_ns(health.interval),
        timeout=_ns(health.timeout),
        retries=health.retries,
        start_period=_ns(health.start_period),
    )


def _endpoint(settings: ServiceSettings) -> EndpointSpec:
    """Published ports on the routing mesh."""
    ports = {p.published: (p.target, p.protocol, p.mode) for p in settings.ports}
    return EndpointSpec(mode="vip", ports=ports)


class Swarm:
    """The Orchestrator on Docker Swarm, through one engine that is a swarm manager."""

    def __init__(self, client: Any, *, clock: Callable[[], float] = time.monotonic) -> None:
        """Drive the swarm `client` (a docker.DockerClient) manages."""
        self.client = client
        self.clock = clock

    # --- reading ---------------------------------------------------------------------------

    def _service(self, name: str) -> Any | None:
        try:
            return self.client.services.get(name)
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as error:
            raise OrchestratorError(f"the swarm cannot be read: {error.explanation}") from None

    def _observed(self, service: Any) -> ObservedService:
        spec = service.attrs["Spec"]
        replicated = spec.get("Mode", {}).get("Replicated")
        running = sum(
            1
            for task in service.tasks(filters={"desired-state": "running"})
            if task["Status"]["State"] == "running"
        )
        status = service.attrs.get("UpdateStatus") or {}
        return ObservedService(
            name=spec["Name"],
            image=spec["TaskTemplate"]["ContainerSpec"]["Image"],
            replicas=None if replicated is None else int(replicated.get("Replicas", 0)),
            running=running,
            labels=dict(spec.get("Labels") or {}),
            update_state=status.get("State"),
            update_message=status.get("Message"),
        )

    def observe(self, name: str) -> ObservedService | None:
        """The service called `name`, if it exists."""
        service = self._service(name)
        return None if service is None else self._observed(service)

    def services(self, prefix: str) -> list[ObservedService]:
        """Every service whose name starts with `prefix`, by name."""
        found = self.client.services.list(filters={"name": prefix})  # the engine: a substring
        return sorted(
            (self._observed(s) for s in found if s.name.startswith(prefix)),
            key=lambda s: s.name,
        )

    # --- changing --------------------------------------------------------------------------

    def _secrets(self, spec: ServiceSpec) -> list[SecretReference]:
        """A new Swarm secret for each of the spec's secrets (Swarm secrets cannot change)."""
        suffix = random.token_hex(4)
        references = []
        for name, value in sorted(spec.secrets.items()):
            created = self.client.secrets.create(
                name=f"{spec.name}-{name}-{suffix}",
                data=value.encode(),
                labels={SECRET_OF_LABEL: spec.name},
            )
            references.append(
                SecretReference(created.id, f"{spec.name}-{name}-{suffix}", filename=name)
            )
        return references

    def _configs(self, spec: ServiceSpec) -> list[ConfigReference]:
        """A new Swarm config for each file the spec puts in its tasks."""
        suffix = random.token_hex(4)
        references = []
        for number, (path, content) in enumerate(sorted(spec.files.items())):
            name = f"{spec.name}-file{number}-{suffix}"
            created = self.client.configs.create(
                name=name, data=content.encode(), labels={SECRET_OF_LABEL: spec.name}
            )
            references.append(ConfigReference(created.id, name, filename=path))
        return references

    def _task_template(self, spec: ServiceSpec) -> TaskTemplate:
        settings = spec.settings
        container = SwarmContainerSpec(
            image=spec.image,
            command=list(spec.command) if spec.command else None,
            env=[f"{key}={value}" for key, value in sorted(settings.env.items())],
            labels=dict(spec.labels),
            secrets=self._secrets(spec),
            configs=self._configs(spec) or None,
            healthcheck=_healthcheck(settings.health) if settings.health else None,
            stop_signal=spec.stop_signal,
        )
        return TaskTemplate(
            container_spec=container,
            restart_policy=RestartPolicy(condition="any", delay=_ns(1)),
            networks=list(spec.networks) or None,
        )

    def _arguments(self, spec: ServiceSpec) -> dict[str, Any]:
        rolling = spec.settings.rolling
        return {
            "task_template": self._task_template(spec),
            "name": spec.name,
            "labels": dict(spec.labels),
            "mode": ServiceMode("replicated", replicas=spec.settings.replicas),
            "update_config": _update_config(rolling, rollback=False, order=spec.update_order),
            "rollback_config": _update_config(rolling, rollback=True, order=spec.update_order),
            # Behind a proxy, each task is found by name (DNS round robin), publishing nothing.
            "endpoint_spec": _endpoint(spec.settings) if spec.publish else EndpointSpec("dnsrr"),
        }

    def apply(self, spec: ServiceSpec, *, timeout: float) -> Convergence:
        """Create or update the service and wait until it converges, rolls back, or times out."""
        existing = self._service(spec.name)
        try:
            if existing is None:
                self.client.api.create_service(**self._arguments(spec))
                return self._wait_created(spec, timeout)
            before = (existing.attrs.get("UpdateStatus") or {}).get("StartedAt")
            mode = existing.attrs.get("Spec", {}).get("Mode", {})
            self.client.api.update_service(
                existing.id, existing.version, **self._arguments(spec), fetch_current_spec=False
            )
        except docker.errors.APIError as error:
            raise OrchestratorError(
                f"the swarm refused service {spec.name}: {error.explanation}"
            ) from None
        if mode.get("Replicated", {}).get("Replicas") == 0:
            # Scaled to zero (a retired standby colour), it has no task to update: Swarm
            # starts the new spec's tasks without a rolling update (no UpdateStatus), so
            # they are awaited as a new service's are.
            return self._wait_created(spec, timeout)
        return self._wait_updated(spec.name, before, timeout, rollback_on_timeout=True)

    def _wait_created(self, spec: ServiceSpec, timeout: float) -> Convergence:
        """Wait for every replica of a new service to run (healthy, if it has a health check)."""
        deadline = self.clock() + timeout
        while self.clock() < deadline:
            observed = self.observe(spec.name)
            if observed is not None and observed.running >= spec.settings.replicas:
                return Convergence("converged", f"{observed.running} task(s) running")
            time.sleep(POLL_SECONDS)
        problem = self._task_error(spec.name) or "no task error reported"
        return Convergence(
            "failed", f"not every task of {spec.name} ran within {timeout:g} s ({problem})"
        )

    def _wait_updated(
        self, name: str, before: str | None, timeout: float, *, rollback_on_timeout: bool
    ) -> Convergence:
        """Follow the update that began after `before` until Swarm says it ended."""
        deadline = self.clock() + timeout
        while self.clock() < deadline:
            service = self._service(name)
            if service is None:
                return Convergence("failed", f"service {name} disappeared during the update")
            status = service.attrs.get("UpdateStatus") or {}
            if status.get("StartedAt") != before and status.get("State") in DONE:
                return self._ended(name, status)
            time.sleep(POLL_SECONDS)
        if not rollback_on_timeout:
            return Convergence("failed", f"the rollback of {name} did not end within {timeout:g} s")
        service = self._service(name)
        started = ((service.attrs.get("UpdateStatus") or {}) if service else {}).get("StartedAt")
        self._request_rollback(name)
        ended = self._wait_updated(name, started, timeout, rollback_on_timeout=False)
        reason = f"the update did not converge within {timeout:g} s; shiplog rolled it back"
        if ended.outcome == "rolled_back":
            return Convergence("rolled_back", reason)
        return Convergence("failed", f"{reason}, and the rollback failed: {ended.message}")

    def _ended(self, name: str, status: Mapping[str, Any]) -> Convergence:
        state, message = status.get("State"), status.get("Message") or ""
        if state == "completed":
            return Convergence("converged", message or "update completed")
        problem = self._task_error(name)
        why = f" ({problem})" if problem else ""
        if state == "rollback_completed":
            return Convergence("rolled_back", f"the update failed and Swarm rolled it back{why}")
        return Convergence("failed", f"Swarm stopped at {state}: {message}{why}")

    def _task_error(self, name: str) -> str | None:
        """The newest error a task of the service reported (e.g. its health check failing)."""
        service = self._service(name)
        if service is None:
            return None
        tasks = sorted(
            service.tasks(), key=lambda t: t["Status"].get("Timestamp", ""), reverse=True
        )
        for task in tasks:
            status = task["Status"]
            if status.get("Err"):
                return f"task {task['ID'][:12]}: {status['Err']}"
        return None

    def _request_rollback(self, name: str) -> None:
        """`docker service rollback`: the update endpoint with rollback=previous."""
        service = self._service(name)
        if service is None:
            raise OrchestratorError(f"no service {name} to roll back")
        api = self.client.api
        # docker-py has no public call for rollback=previous; the engine API is documented.
        response = api._post_json(
            api._url("/services/{0}/update", service.id),
            data=service.attrs["Spec"],
            params={"version": service.version, "rollback": "previous"},
        )
        api._raise_for_status(response)

    def rollback(self, name: str, *, timeout: float) -> Convergence:
        """Return the service to its previous spec (Swarm's own rollback) and wait for it."""
        service = self._service(name)
        before = ((service.attrs.get("UpdateStatus") or {}) if service else {}).get("StartedAt")
        try:
            self._request_rollback(name)
        except docker.errors.APIError as error:
            raise OrchestratorError(
                f"the swarm refused to roll back {name}: {error.explanation}"
            ) from None
        return self._wait_updated(name, before, timeout, rollback_on_timeout=False)

    def remove(self, name: str) -> None:
        """Remove the service and the secrets made for it; nothing if it is gone."""
        service = self._service(name)
        if service is not None:
            with contextlib.suppress(docker.errors.NotFound):
                service.remove()
        self._remove_secrets(name)

    def _remove_secrets(self, name: str) -> None:
        """Remove the service's secrets and configs once no task uses them (a few seconds)."""
        deadline = self.clock() + 30
        selector = {"label": f"{SECRET_OF_LABEL}={name}"}
        owned = [
            *self.client.secrets.list(filters=selector),
            *self.client.configs.list(filters=selector),
        ]
        for secret in owned:
            while True:
                try:
                    secret.remove()
                    break
                except docker.errors.NotFound:
                    break
                except docker.errors.APIError:
                    if self.clock() > deadline:
                        break
                    time.sleep(POLL_SECONDS)

    def shift_traffic(self, proxy: ProxyHandle, backend: str, weights: Mapping[str, int]) -> None:
        """Set the colours' weights in the proxy's backend through its runtime API."""
        set_weights(proxy, backend, weights)

    def proxy_image(self) -> str:
        """The local HAProxy image, built on the manager's engine if missing."""
        try:
            return ensure_haproxy_image(self.client)
        except ProxyImageError as error:
            raise OrchestratorError(str(error)) from None

    def scale(self, name: str, replicas: int) -> None:
        """Set the service's replicas (without waiting)."""
        service = self._service(name)
        if service is None:
            raise OrchestratorError(f"no service {name} to scale")
        service.scale(replicas)

    def ensure_network(self, name: str, labels: Mapping[str, str]) -> None:
        """An attachable overlay network of that name (made if missing)."""
        if any(n.name == name for n in self.client.networks.list(names=[name])):
            return
        try:
            self.client.networks.create(
                name, driver="overlay", attachable=True, labels=dict(labels)
            )
        except docker.errors.APIError as error:
            raise OrchestratorError(
                f"the swarm refused network {name}: {error.explanation}"
            ) from None


class SwarmPool:
    """One Swarm client per Docker API address, made when first needed and kept."""

    def __init__(self, connect: Callable[[str | None], Any]) -> None:
        """Connect with `connect(docker_host)` (None: DOCKER_HOST or the local engine)."""
        self._connect = connect
        self._swarms: dict[str | None, Swarm] = {}

    def for_host(self, docker_host: str | None) -> Swarm:
        """The swarm managed through `docker_host`."""
        if docker_host not in self._swarms:
            self._swarms[docker_host] = Swarm(self._connect(docker_host))
        return self._swarms[docker_host]

    def close(self) -> None:
        """Close every client."""
        for swarm in self._swarms.values():
            swarm.client.close()
        self._swarms.clear()
