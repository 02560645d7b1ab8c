"""The one small interface delivery decisions use to change and read what runs.

Everything above it (rules, gates, approvals, the ledger) is the same whichever
orchestrator runs the services; Docker Swarm is the one built (app/delivery/swarm.py).
A service is always pinned to an image by digest, and labelled so that shiplog can
tell its services from others and say which deployment put each there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from app.pipeline.deploy import ServiceSettings

if TYPE_CHECKING:
    from app.delivery.haproxy import ProxyHandle

LABEL_PREFIX = "dev.shiplog"
ENVIRONMENT_LABEL = f"{LABEL_PREFIX}.environment"
SERVICE_LABEL = f"{LABEL_PREFIX}.service"
DEPLOYMENT_LABEL = f"{LABEL_PREFIX}.deployment"
DIGEST_LABEL = f"{LABEL_PREFIX}.digest"
ROLE_LABEL = f"{LABEL_PREFIX}.role"  # `app`, or for blue/green and canary `blue`, `green`, `proxy`


@dataclass(frozen=True)
class ServiceSpec:
    """What one orchestrator service should be: a name, an image by digest, settings, labels."""

    name: str
    image: str  # <repository>@sha256:<hex>, never a tag
    settings: ServiceSettings
    labels: Mapping[str, str]
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)  # name -> value
    networks: tuple[str, ...] = ()
    publish: bool = True  # services behind a proxy publish nothing, and are found by DNS
    command: tuple[str, ...] | None = None  # the image's own command when None
    files: Mapping[str, str] = field(default_factory=dict)  # path in the task -> content
    update_order: Literal["start-first", "stop-first"] = "start-first"
    stop_signal: str | None = None  # the image's own (or SIGTERM) when None

    @property
    def digest(self) -> str:
        """The digest the spec pins."""
        return self.image.rpartition("@")[2]


@dataclass(frozen=True)
class ObservedService:
    """A service as the orchestrator runs it now."""

    name: str
    image: str
    replicas: int | None  # desired replicas (None: a global service)
    running: int  # tasks running now
    labels: Mapping[str, str]
    update_state: str | None  # e.g. `updating`, `completed`, `rollback_completed`
    update_message: str | None

    @property
    def digest(self) -> str | None:
        """The digest its image is pinned to, if it is pinned by digest."""
        _, at, digest = self.image.rpartition("@")
        return digest if at else None


@dataclass(frozen=True)
class Convergence:
    """How applying a spec (or rolling back) ended."""

    outcome: Literal["converged", "rolled_back", "failed"]
    message: str


class OrchestratorError(RuntimeError):
    """The orchestrator refused or could not be reached; the message says which and why."""


class Orchestrator(Protocol):
    """Apply a spec pinned by digest, read what runs, roll back, shift traffic."""

    def apply(self, spec: ServiceSpec, *, timeout: float) -> Convergence:
        """Create or update the service and wait until it converges, rolls back, or times out."""

    def observe(self, name: str) -> ObservedService | None:
        """The service called `name`, if it exists."""

    def services(self, prefix: str) -> list[ObservedService]:
        """Every service whose name starts with `prefix` (an environment's namespace)."""

    def rollback(self, name: str, *, timeout: float) -> Convergence:
        """Return the service to its previous spec and wait for it."""

    def proxy_image(self) -> str:
        """The image a proxy service runs (HAProxy, built on the engine if missing)."""

    def scale(self, name: str, replicas: int) -> None:
        """Set the service's replicas (without waiting)."""

    def remove(self, name: str) -> None:
        """Remove the service (and the secrets shiplog made for it); nothing if it is gone."""

    def ensure_network(self, name: str, labels: Mapping[str, str]) -> None:
        """An overlay network of that name for services and their proxy (made if missing)."""

    def shift_traffic(self, proxy: ProxyHandle, backend: str, weights: Mapping[str, int]) -> None:
        """Give each colour of the proxy's `backend` its weight (0-256) for new requests."""
